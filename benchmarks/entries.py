"""Config entries for the benchmarks' Home Assistant instances, as the config flow stores them."""

from __future__ import annotations

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
)

from custom_components.microstar_dlms.const import CONNECTION_TCP, DOMAIN
from custom_components.microstar_dlms.meter_config import MeterConfig
from microstar_sim import Simulator

from .single import PASSWORD


def meter_entry(
    sim: Simulator, serial: str, address_size: str, physical: int | None = None
) -> MockConfigEntry:
    """The entry of one simulated meter behind ``sim``'s gateway (``physical``: its address)."""
    config = MeterConfig(
        connection_type=CONNECTION_TCP,
        host=sim.host,
        port=sim.port,
        password=PASSWORD,
        address_size=address_size,
        server_physical=physical,
    )
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Microstar {serial}",
        unique_id=serial,
        data=config.as_entry_data(),
    )
