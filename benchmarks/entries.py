"""Config entries for the benchmarks' Home Assistant instances, as the config flow stores them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
)

from custom_components.microstar_dlms.const import (
    CONNECTION_TCP,
    DEFAULT_RESPONSE_TIMEOUT,
    DOMAIN,
)
from custom_components.microstar_dlms.meter_config import MeterConfig

if TYPE_CHECKING:  # the scale run's process loads no simulator
    from microstar_sim import Simulator

PASSWORD = "2222222222"  # noqa: S105 - the simulated meters' well-known test password
RESPONSE_TIMEOUT = DEFAULT_RESPONSE_TIMEOUT  # the form's (the smoke test shortens it)


def meter_entry(
    sim: Simulator, serial: str, address_size: str, physical: int | None = None
) -> MockConfigEntry:
    """The entry of one simulated meter behind ``sim``'s gateway (``physical``: its address)."""
    return gateway_entry(sim.host, sim.port, serial, address_size, physical)


def gateway_entry(
    host: str, port: int, serial: str, address_size: str, physical: int | None = None
) -> MockConfigEntry:
    """The entry of one meter behind the gateway at ``host``:``port``, with the form's
    default timeouts."""
    config = MeterConfig(
        connection_type=CONNECTION_TCP,
        host=host,
        port=port,
        password=PASSWORD,
        address_size=address_size,
        server_physical=physical,
        response_timeout=RESPONSE_TIMEOUT,
    )
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Microstar {serial}",
        unique_id=serial,
        data=config.as_entry_data(),
    )


async def set_up_every_meter(hass: HomeAssistant, entries: list[MockConfigEntry]) -> None:
    """Set up the integration and with it every meter's entry (``entries``, added) at once, as
    Home Assistant's start does. (Setting up entries one by one in parallel races: the first call
    loads the integration, which sets up the others; the later calls find them in progress.)"""
    if not await async_setup_component(hass, DOMAIN, {}):
        raise RuntimeError(f"{DOMAIN} was not set up")
    await hass.async_block_till_done()


async def learn_every_meter(hass: HomeAssistant, entries: list[MockConfigEntry]) -> None:
    """Set every meter up and finish its discovery (on the fast line)."""
    await set_up_every_meter(hass, entries)
    for entry in entries:
        coordinator = entry.runtime_data.coordinator
        for _ in range(10):
            if not coordinator.pending_objects():
                break
            await coordinator.async_refresh()
        if not coordinator.last_update_success or coordinator.pending_objects():
            raise RuntimeError(f"{entry.title} was not learned: {coordinator.last_exception}")
