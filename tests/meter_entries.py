"""Config entry data as the flow stores it, shared by the integration and reliability suites."""

from typing import Any

from custom_components.microstar_dlms.const import (
    CONF_ADDRESS_SIZE,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_CONNECTION_TYPE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONNECTION_TCP,
)
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
    data: dict[str, Any] = {
        CONF_CONNECTION_TYPE: CONNECTION_TCP,
        CONF_HOST: sim.host,
        CONF_PORT: sim.port,
        CONF_CLIENT_SAP: client_sap,
        CONF_SERVER_LOGICAL: 1,
        CONF_SERVER_PHYSICAL: physical,
        CONF_ADDRESS_SIZE: address_size,
        CONF_RESPONSE_TIMEOUT: response_timeout,
        CONF_CONNECT_TIMEOUT: 2.0,
    }
    if password is not None:
        data[CONF_PASSWORD] = password
    return data
