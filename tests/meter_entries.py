"""Config entry data as the flow stores it (through ``MeterConfig``, as the flow writes it),
shared by the integration and reliability suites."""

from typing import Any

from custom_components.microstar_dlms.const import CONNECTION_TCP
from custom_components.microstar_dlms.meter_config import MeterConfig
from microstar_sim import Simulator

SERIAL = "21061234"  # the simulator's default meter
PASSWORD = "2222222222"  # client SAP 1, as in the field


def tcp_entry_data(
    sim: Simulator,
    *,
    response_timeout: float,
    client_sap: int = 1,
    password: str | None = PASSWORD,
    address_size: str = "1",
    physical: int | None = None,
) -> dict[str, Any]:
    """Entry data for the simulator's gateway; password None for the public client."""
    config = MeterConfig(
        connection_type=CONNECTION_TCP,
        host=sim.host,
        port=sim.port,
        client_sap=client_sap,
        password=password,
        server_physical=physical,
        address_size=address_size,
        response_timeout=response_timeout,
        connect_timeout=2.0,
    )
    return config.as_entry_data()
