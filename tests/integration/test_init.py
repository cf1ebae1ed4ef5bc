"""Setting a meter up, unloading it, and what happens when it cannot be reached at start."""

import asyncio
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.microstar_dlms.const import DOMAIN
from microstar_sim import Busy, DelayResponse, ResponseKind, Simulator

from .conftest import SERIAL, settled


async def test_setup_and_unload(
    hass: HomeAssistant,
    sim: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The meter is discovered, becomes one device, and unloads leaving no session open."""
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    device = device_registry.async_get_device_by_identifier((DOMAIN, SERIAL), entry.entry_id)
    assert device is not None
    assert device.manufacturer == "Microstar Electric"
    assert device.serial_number == SERIAL
    assert device.model == "DLMS/COSEM 3~"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    await settled(sim)
    assert not sim.record.open_sessions
    assert not sim.record.open_associations
    assert not sim.record.open_connections


async def test_gateway_busy_at_start_retries(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """A busy gateway at start-up makes the entry retry, not fail."""
    sim.set_fault(Busy())
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)
@pytest.mark.usefixtures("whole_discovery_right_after_setup")
async def test_unload_in_the_middle_of_a_poll(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unloading cancels the poll in flight; the session is still released and closed."""
    health = init_integration.runtime_data.coordinator.health
    sim.set_fault(DelayResponse(seconds=0.2, on=ResponseKind.GET, count=None))
    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass)
    await asyncio.sleep(0.1)  # the poll is now waiting for a GET answer
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    assert "did not complete in time" not in caplog.text
    assert health.successes == 2  # only the setup's and the learning one after it finished
    sim.clear_faults()
    await settled(sim)
    assert not sim.record.open_connections
    assert not sim.record.open_sessions
    assert not sim.record.open_associations
