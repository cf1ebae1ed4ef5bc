"""Polling: what a user sees when the gateway or meter misbehaves, and when it comes back."""

from datetime import timedelta
import logging
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.dlms import CosemDateTime
from custom_components.microstar_dlms.reading import meter_clock_drift
from microstar_sim import Busy, DataAccessFailure, DelayResponse, Simulator

from .conftest import SERIAL, entry_data, settled
from .polling import poll

# These tests count polls: the meter is learned in the setup's poll, with no follow-up.
pytestmark = [
    pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True),
    pytest.mark.usefixtures("whole_discovery_right_after_setup"),
]


VOLTAGE = "sensor.microstar_21061234_voltage_l1"
ENERGY = "sensor.microstar_21061234_energy_import"
POWER_FACTOR_L2 = "sensor.microstar_21061234_power_factor_l2"


def coordinator_of(entry: MockConfigEntry) -> MicrostarCoordinator:
    """The entry's coordinator."""
    return entry.runtime_data.coordinator


@pytest.mark.usefixtures("init_integration")
async def test_failure_and_recovery(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Entities go unavailable while the gateway is busy, logged once, and come back."""
    assert (state := hass.states.get(VOLTAGE))
    assert state.state != STATE_UNAVAILABLE
    assert state.attributes["unit_of_measurement"] == "V"
    health = coordinator_of(mock_config_entry).health
    successes_at_setup = health.successes

    sim.set_fault(Busy())
    caplog.clear()
    await poll(hass, freezer)
    await poll(hass, freezer)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert hass.states.get(ENERGY).state == STATE_UNAVAILABLE
    unavailable_logs = [r for r in caplog.records if "is in use by another client" in r.message]
    assert len(unavailable_logs) == 1
    assert unavailable_logs[0].levelno == logging.ERROR

    sim.clear_faults()
    caplog.clear()
    await poll(hass, freezer)
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE
    assert "recovered" in caplog.text
    assert health.failures == {"gateway_busy": 2}
    assert health.successes == successes_at_setup + 1


async def test_password_changed_starts_reauth(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """A rejected password stops polling and asks the user for the new one."""
    sim.set_password(1, "a-new-one")
    await poll(hass, freezer)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    flows = hass.config_entries.flow.async_progress()
    assert len(flows) == 1
    assert flows[0]["handler"] == DOMAIN
    assert flows[0]["context"]["source"] == SOURCE_REAUTH
    assert flows[0]["context"]["entry_id"] == init_integration.entry_id

    # No more polls with the wrong password: the meter could lock the client out.
    connections = len(sim.record.connections)
    await poll(hass, freezer)
    await poll(hass, freezer)
    assert len(sim.record.connections) == connections


async def test_rejected_password_at_setup(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """A wrong password at start-up is a setup error that starts reauth."""
    sim.set_password(1, "a-new-one")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress()
    )


async def test_other_meter_at_the_address(hass: HomeAssistant, sim: Simulator) -> None:
    """A different meter behind the configured address is an error, not a silent swap."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="99999999", data=entry_data(sim))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "21061234" in entry.reason


@pytest.mark.parametrize(
    ("obis", "refused"), [("1-1:32.7.0", VOLTAGE), ("1-1:1.8.0", ENERGY)], ids=["voltage", "energy"]
)
async def test_one_object_refused(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: None,
    obis: str,
    refused: str,
) -> None:
    """The meter answers but refuses one object's value: that entity is unknown, not
    unavailable (the meter was reached), the others read; the next poll shows it again. The
    energy sensor behind its glitch guard behaves the same."""
    sim.set_fault(DataAccessFailure(obis=obis, attribute=2))
    await poll(hass, freezer)
    assert hass.states.get(refused).state == STATE_UNKNOWN
    for other in {VOLTAGE, ENERGY} - {refused}:
        assert hass.states.get(other).state not in (STATE_UNKNOWN, STATE_UNAVAILABLE), other
    sim.clear_faults()
    await poll(hass, freezer)
    assert hass.states.get(refused).state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)


async def test_disabled_entities_cost_no_round_trip(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A per-phase power factor is disabled by default and not read; enabling it reads it."""
    coordinator = coordinator_of(init_integration)
    key = "1.1.53.7.0.255"
    assert key in coordinator.discovery.objects
    assert key not in coordinator.data.values
    assert hass.states.get(POWER_FACTOR_L2) is None
    entity = entity_registry.async_get(POWER_FACTOR_L2)
    assert entity is not None
    assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION

    # Enabling it reloads the entry (Home Assistant waits 30 s), and polls read it from then on.
    entity_registry.async_update_entity(POWER_FACTOR_L2, disabled_by=None)
    await poll(hass, freezer, 31)
    assert key in coordinator_of(init_integration).data.values
    assert hass.states.get(POWER_FACTOR_L2).state != STATE_UNAVAILABLE


async def test_poll_time_bound(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """A session that cannot finish in time is abandoned (here: every answer comes late)."""
    sim.set_fault(DelayResponse(seconds=0.2, count=None))
    with patch("custom_components.microstar_dlms.coordinator.POLL_TIMEOUT", 0.5):
        await poll(hass, freezer)
    sim.clear_faults()
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert coordinator_of(init_integration).health.last_failure_kind == "poll_timeout"
    await poll(hass, freezer)
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE
    await settled(sim)
    assert not sim.record.open_associations


async def test_meter_without_object_list_or_firmware(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """Discovery never needs the object list (it is not read); a missing firmware id is skipped."""
    sim.set_fault(DataAccessFailure(obis="0-0:40.0.0"))
    sim.set_fault(DataAccessFailure(obis="1-0:0.2.0"))
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    meter = mock_config_entry.runtime_data.meter
    assert meter.objects
    assert meter.firmware is None
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, SERIAL), mock_config_entry.entry_id
    )
    assert device is not None
    assert device.sw_version is None
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE


async def test_single_phase_meter(hass: HomeAssistant, sim: Simulator) -> None:
    """Phase B/C objects a single-phase meter refuses never become entities."""
    # The 3-phase simulator lists them; refusing their scaler drops them at discovery.
    for code in ("1-1:52.7.0", "1-1:72.7.0"):
        sim.set_fault(DataAccessFailure(obis=code))
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    meter = entry.runtime_data.meter
    assert "1.1.52.7.0.255" not in meter.objects
    assert "1.1.32.7.0.255" in meter.objects


def test_clock_drift_of_a_local_clock() -> None:
    """A meter clock without a UTC deviation is taken as Home Assistant's local time."""
    now = dt_util.utcnow().replace(microsecond=0)
    local = now.astimezone(dt_util.get_default_time_zone()).replace(tzinfo=None)
    naive = CosemDateTime.from_datetime(local + timedelta(seconds=42))
    assert meter_clock_drift(naive.encode(), now) == 42
    assert meter_clock_drift(b"not a clock", now) is None


async def test_custom_schedule_with_polling_disabled(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The README's recipe: polling off, then homeassistant.update_entity reads the meter."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, pref_disable_polling=True)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    health = coordinator_of(mock_config_entry).health
    assert health.successes == 2  # the setup's (identity) and the learning poll right after

    await poll(hass, freezer)
    await poll(hass, freezer)
    assert health.successes == 2

    await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": ENERGY}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert health.successes == 3
