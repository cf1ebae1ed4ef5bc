"""Discovery on the meter the vendor's guide describes: learned once, kept, resumed, redone."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.catalogue import FRESHNESS
from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.cosem import MeterObject, ScalerUnit
from custom_components.microstar_dlms.discovery import DiscoveryStore, MeterDiscovery
from custom_components.microstar_dlms.dlms import AttributeRef, DataAccessResult, Obis
from custom_components.microstar_dlms.freshness import Freshness
from microstar_sim import (
    GUIDE_PROFILE,
    DataAccessFailure,
    DropMidResponse,
    MeterConfig,
    Simulator,
    profile_meter,
)
from microstar_sim.interface_classes import RegisterObject
from microstar_sim.meter import SimulatedMeter

from .conftest import SERIAL

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)

ENERGY = "sensor.microstar_21061234_energy_import"
VOLTAGE = "sensor.microstar_21061234_voltage_l1"
FREQUENCY = "sensor.microstar_21061234_frequency"
OBJECT_LIST = "0.0.40.0.0.255"
STORE_KEY = f"{DOMAIN}.01JMICROSTARMETER000000001"


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """The meter of the vendor's guide: 450 objects, three channels, server PDU 6400."""
    return (profile_meter(GUIDE_PROFILE),)


class Requests:
    """Every attribute the meter was asked for, in order (its GETs, as the meter saw them)."""

    def __init__(self, meter: SimulatedMeter) -> None:
        """Listen to ``meter``'s reads."""
        self.seen: list[tuple[str, int]] = []
        self._read = meter.read
        self.on_read: Any = None

    def read(self, ref: AttributeRef, selection: Any = None) -> Any:
        """Record, then answer as the meter would."""
        self.seen.append((".".join(str(part) for part in ref.obis.to_bytes()), ref.attribute))
        if self.on_read is not None:
            self.on_read(ref)
        return self._read(ref, selection)

    def take(self) -> list[tuple[str, int]]:
        """What was asked since the last call."""
        seen, self.seen = self.seen, []
        return seen

    @staticmethod
    def scalers(asked: list[tuple[str, int]]) -> list[str]:
        """The objects asked for their scaler_unit."""
        return [key for key, attribute in asked if attribute == 3]


@pytest.fixture
def requests(sim: Simulator) -> Iterator[Requests]:
    """The guide meter's reads, recorded."""
    meter = sim.meter(0)
    spy = Requests(meter)
    with patch.object(meter, "read", spy.read):
        yield spy


async def poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    seconds: float = 30,
) -> None:
    """Let the poll interval pass and poll (as the interval timer would)."""
    freezer.tick(timedelta(seconds=seconds))
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_first_poll_learns_the_guide_meter_without_its_object_list(
    hass: HomeAssistant,
    requests: Requests,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The guide meter's 21 kB object list is never read: the sensors' objects are asked."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    asked = requests.take()
    assert OBJECT_LIST not in {key for key, _ in asked}
    for entity_id in (ENERGY, VOLTAGE, FREQUENCY):
        assert (state := hass.states.get(entity_id)) is not None
        assert state.state != STATE_UNAVAILABLE
    assert hass.states.get(VOLTAGE).attributes["unit_of_measurement"] == "V"
    # Objects of the catalogue the guide does not list are marked absent, not asked again.
    meter = mock_config_entry.runtime_data.meter
    assert "1.1.1.6.0.255" in meter.absent  # peak demand (class 4): not in the guide
    assert "1.1.52.7.0.255" in meter.objects
    stored = hass_storage[STORE_KEY]["data"]
    assert stored["serial"] == SERIAL
    assert stored["firmware"] == "MS-DLMS 2.31"
    assert stored["objects"]["1.1.32.7.0.255"] == {"class_id": 3, "scaler_unit": [-2, 35]}
    # The guide's billing counter rose with each past billing period.
    assert "1.0.0.1.0.255" in stored["objects"]


async def test_restart_reads_only_values(
    hass: HomeAssistant,
    requests: Requests,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """After a restart the first poll asks the meter the values a steady poll asks, and the
    slow ones (every class is due after a restart), no scaler."""
    requests.take()
    await poll(hass, freezer, init_integration)
    steady = requests.take()
    assert steady
    assert not requests.scalers(steady)

    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    after_restart = requests.take()
    assert not requests.scalers(after_restart)
    assert set(steady) < set(after_restart)
    extra = {key for key, _ in set(after_restart) - set(steady)}
    assert {FRESHNESS[key] for key in extra} == {Freshness.SLOW}
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE


async def test_stored_discovery_is_used_at_start(
    hass: HomeAssistant,
    requests: Requests,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant starting with a stored discovery goes straight to the values."""
    voltage = "1.1.32.7.0.255"
    hass_storage[STORE_KEY] = {
        "version": 1,
        "key": STORE_KEY,
        "data": {
            "serial": SERIAL,
            "firmware": "MS-DLMS 2.31",
            "identity_checked": "2025-01-15T09:00:00+00:00",
            "objects": {voltage: {"class_id": 3, "scaler_unit": [-2, 35]}},
            "absent": [],
        },
    }
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    asked = requests.take()
    # Only values: the other catalogue objects are probed, the voltage's scaler is not.
    assert (voltage, 3) not in asked
    assert (voltage, 2) in asked
    assert ("1.0.0.0.0.255", 2) not in asked  # serial checked an hour ago: not due


async def test_poll_cut_short_in_discovery_resumes(
    hass: HomeAssistant,
    sim: Simulator,
    requests: Requests,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The gateway drops during discovery: what was learned is kept, the next poll goes on."""
    with (
        patch("custom_components.microstar_dlms.coordinator.SETUP_DISCOVERY_BUDGET", 0),
        patch("custom_components.microstar_dlms.coordinator.DISCOVERY_BUDGET", 0),
    ):
        # Bounded polls: the setup's reads the identity only, the one that follows at once
        # learns one object.
        mock_config_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    first = requests.scalers(requests.take())
    assert first == ["1.1.1.8.0.255"]  # enabled entities' objects go first
    assert hass.states.get(ENERGY) is not None
    assert hass.states.get(VOLTAGE) is None  # not confirmed yet

    asked_scalers = 0

    def drop_at_the_fifth_scaler(ref: AttributeRef) -> None:
        nonlocal asked_scalers
        asked_scalers += ref.attribute == 3
        if asked_scalers == 5:
            sim.set_fault(DropMidResponse())

    requests.on_read = drop_at_the_fifth_scaler
    await poll(hass, freezer, mock_config_entry)
    assert not mock_config_entry.runtime_data.coordinator.last_update_success
    cut = requests.scalers(requests.take())
    assert len(cut) == 5
    meter = mock_config_entry.runtime_data.meter
    assert set(cut[:4]) <= set(meter.objects)  # the four answered are kept
    assert cut[4] not in meter.objects

    requests.on_read = None
    await poll(hass, freezer, mock_config_entry)
    resumed = requests.scalers(requests.take())
    assert resumed[0] == cut[4]  # on from the one whose answer was lost
    assert not set(resumed) & {*first, *cut[:4]}  # nothing learned is asked again
    assert not mock_config_entry.runtime_data.coordinator.pending_objects()
    for entity_id in (ENERGY, VOLTAGE, FREQUENCY):
        assert hass.states.get(entity_id).state != STATE_UNAVAILABLE


async def test_new_firmware_forces_rediscovery(
    hass: HomeAssistant,
    sim: Simulator,
    requests: Requests,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A firmware update is noticed at the daily identity check and the meter learned again."""
    requests.take()
    sim.meter(0).update_firmware("MS-DLMS 2.40")
    await poll(hass, freezer, init_integration)
    assert not requests.scalers(requests.take())  # not due yet: values only

    await poll(hass, freezer, init_integration, timedelta(days=1, minutes=1).total_seconds())
    asked = requests.take()
    assert ("1.0.0.2.0.255", 2) in asked
    assert "1.1.32.7.0.255" in requests.scalers(asked)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), init_integration.entry_id
    )
    assert device is not None
    assert device.sw_version == "MS-DLMS 2.40"
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE


async def test_known_object_gone_forces_rediscovery(
    hass: HomeAssistant,
    sim: Simulator,
    requests: Requests,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """A confirmed object answering object-undefined means the meter changed: learn it again."""
    sim.set_fault(DataAccessFailure("1-1:14.7.0", 2, DataAccessResult.OBJECT_UNDEFINED, count=1))
    await poll(hass, freezer, init_integration)
    assert hass.states.get(FREQUENCY).state == STATE_UNKNOWN  # the meter answered, refusing it
    requests.take()
    await poll(hass, freezer, init_integration)
    asked = requests.take()
    assert ("1.0.0.0.0.255", 2) in asked  # identity checked again
    assert "1.1.14.7.0.255" in requests.scalers(asked)
    assert hass.states.get(FREQUENCY).state != STATE_UNAVAILABLE
    assert init_integration.state is ConfigEntryState.LOADED


async def test_new_firmware_with_another_scaler_rebuilds_the_sensors(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """The new firmware reports voltage in 0.1 V: the sensors are built again, values right."""
    before = init_integration.runtime_data.coordinator
    meter = sim.meter(0)
    meter.update_firmware("MS-DLMS 2.40")
    voltage = next(o for o in meter.objects if str(o.obis) == str(Obis.parse("1-1:32.7.0")))
    assert isinstance(voltage, RegisterObject)
    voltage.quantity = replace(voltage.quantity, scaler=-1)

    await poll(hass, freezer, init_integration, timedelta(days=1, minutes=1).total_seconds())
    await hass.async_block_till_done(wait_background_tasks=True)
    assert init_integration.runtime_data.coordinator is not before  # reloaded
    assert init_integration.runtime_data.meter.scaler_units["1.1.32.7.0.255"].scaler == -1
    state = hass.states.get(VOLTAGE)
    assert state.state != STATE_UNAVAILABLE
    assert 215 < float(state.state) < 245


async def test_a_passing_refusal_is_asked_again(
    hass: HomeAssistant,
    sim: Simulator,
    requests: Requests,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A temporary failure while learning is no "absent": the object is asked next poll and its
    entity appears; only a definite answer (undefined, denied) hides an object for good."""
    sim.set_fault(DataAccessFailure("1-1:14.7.0", 3, DataAccessResult.TEMPORARY_FAILURE, count=1))
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    # Refused in the learning poll right after setup: still pending, not absent.
    assert requests.scalers(requests.take()).count("1.1.14.7.0.255") == 1
    meter = mock_config_entry.runtime_data.meter
    assert "1.1.14.7.0.255" not in meter.absent
    assert "1.1.14.7.0.255" not in meter.objects

    await poll(hass, freezer, mock_config_entry)  # asked again, answered
    assert requests.scalers(requests.take()) == ["1.1.14.7.0.255"]
    assert "1.1.14.7.0.255" in meter.objects
    assert hass.states.get(FREQUENCY).state != STATE_UNAVAILABLE


async def test_after_a_failed_poll_the_serial_is_checked_again(
    hass: HomeAssistant,
    sim: Simulator,
    requests: Requests,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """A gateway that failed may come back reaching another meter: the next good poll reads
    the serial number before publishing anything; a steady poll does not."""
    requests.take()
    await poll(hass, freezer, init_integration)
    assert ("1.0.0.0.0.255", 2) not in requests.take()

    sim.set_fault(DropMidResponse(count=1))
    await poll(hass, freezer, init_integration)
    assert not init_integration.runtime_data.coordinator.last_update_success
    requests.take()
    await poll(hass, freezer, init_integration)
    assert init_integration.runtime_data.coordinator.last_update_success
    assert ("1.0.0.0.0.255", 2) in requests.take()


def test_stored_objects_no_longer_presented_are_left_out() -> None:
    """An update that drops a description leaves its stored object (and absence) behind."""
    data = {
        "serial": SERIAL,
        "firmware": "MS-DLMS 2.31",
        "objects": {
            "1.1.32.7.0.255": {"class_id": 3, "scaler_unit": [-2, 35]},
            "9.9.9.9.9.255": {"class_id": 3, "scaler_unit": None},
        },
        "absent": ["1.1.52.7.0.255", "8.8.8.8.8.255"],
    }
    discovery = MeterDiscovery.from_dict(data, ["1.1.32.7.0.255", "1.1.52.7.0.255"])
    assert set(discovery.objects) == {"1.1.32.7.0.255"}
    assert discovery.absent == {"1.1.52.7.0.255"}
    assert discovery.identity_checked is None  # never checked: due in the first poll


def test_meters_share_the_objects_and_scalers_they_have_in_common() -> None:
    """Two meters with the same object hold one object and one scaler_unit between them,
    whether loaded from the store or learned (scripts/bench: objects_alive_per_meter)."""
    voltage = "1.1.32.7.0.255"
    stored = {"serial": "21061234", "objects": {voltage: {"class_id": 3, "scaler_unit": [-2, 35]}}}
    loaded = MeterDiscovery.from_dict(stored, [voltage])
    learned = MeterDiscovery("21065678")
    learned.confirm(MeterObject(voltage, 3), ScalerUnit(-2, 35))
    assert learned.objects[voltage] is loaded.objects[voltage]
    assert learned.scaler_units[voltage] is loaded.scaler_units[voltage]
    assert learned.scaler_units[voltage] == ScalerUnit(-2, 35)


async def test_an_unreadable_store_means_learning_again(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A store damaged on disk is not an error: the meter is learned again."""
    hass_storage[STORE_KEY] = {
        "version": 1,
        "key": STORE_KEY,
        "data": {"serial": SERIAL, "objects": {"1.1.32.7.0.255": {"class_id": "three"}}},
    }
    store = DiscoveryStore(hass, STORE_KEY.removeprefix(f"{DOMAIN}."))
    discovery = await store.async_load(SERIAL, ["1.1.32.7.0.255"])
    assert discovery.serial == SERIAL
    assert not discovery.objects
