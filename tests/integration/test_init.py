"""Setting a meter up, unloading it, and what happens when it cannot be reached at start."""

import asyncio
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
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


async def test_an_earlier_release_s_serial_and_firmware_sensors_are_removed(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """An installation from before keeps its meter device, which shows the serial number and
    firmware; their sensors leave the registry and the state machine at setup, and nothing of
    the entry is left that no entity or device stands for."""
    mock_config_entry.add_to_hass(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={(DOMAIN, SERIAL)},
        name=f"Microstar {SERIAL}",
    )
    retired = []
    for key, name in (("1.0.0.0.0.255", "serial_number"), ("1.0.0.2.0.255", "firmware")):
        entity = entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{SERIAL}_{key}",
            suggested_object_id=f"microstar_{SERIAL}_{name}",
            config_entry=mock_config_entry,
            device_id=device.id,
            entity_category=EntityCategory.DIAGNOSTIC,
        )
        # What Home Assistant shows at start for a registered entity nothing provides yet.
        hass.states.async_set(entity.entity_id, STATE_UNAVAILABLE, {"restored": True})
        retired.append(entity.entity_id)

    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    for entity_id in retired:
        assert entity_registry.async_get(entity_id) is None, entity_id
        assert hass.states.get(entity_id) is None, entity_id
    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), mock_config_entry.entry_id
    )
    assert meter is not None
    assert (meter.id, meter.serial_number, meter.sw_version) == (device.id, SERIAL, "MS-DLMS 2.31")
    entities = er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id)
    assert entities
    for entity in entities:
        assert entity.disabled or hass.states.get(entity.entity_id) is not None, entity.entity_id
        assert device_registry.async_get(entity.device_id or "") is not None, entity.entity_id


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
