"""A meter that refuses an object with an exception keeps every other value (issue 24, items 1
and 7): the object is set aside, asked again later, and never fails a poll; a meter that refuses
every read of a poll so has lost its association, and that poll fails."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import UpdateFailed
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.catalogue import FRESHNESS
from custom_components.microstar_dlms.dlms import DataAccessResult
from custom_components.microstar_dlms.dlms.apdu import GetRequestNormal, GetRequestWithList
from custom_components.microstar_dlms.freshness import Freshness
from microstar_sim import DataAccessFailure, RefuseWithException, Simulator

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)

VOLTAGE_L1 = "sensor.microstar_21061234_voltage_l1"
VOLTAGE_L2 = "sensor.microstar_21061234_voltage_l2"
ENERGY = "sensor.microstar_21061234_energy_import"
FREQUENCY = "sensor.microstar_21061234_frequency"
SERIAL_KEY = "1.0.0.0.0.255"


class Asked:
    """The objects the meter was asked for (GET and GET-with-list), refused ones included."""

    def __init__(self) -> None:
        """Nothing asked yet."""
        self.keys: list[str] = []

    def note(self, request: GetRequestNormal | GetRequestWithList) -> None:
        """Record the objects of one request."""
        refs = (
            request.attributes if isinstance(request, GetRequestWithList) else (request.attribute,)
        )
        self.keys += [".".join(str(part) for part in ref.obis.to_bytes()) for ref in refs]

    def take(self) -> list[str]:
        """What was asked since the last call."""
        keys, self.keys = self.keys, []
        return keys


@pytest.fixture
def asked(sim: Simulator) -> Iterator[Asked]:
    """Every GET the meter receives, recorded before it answers."""
    meter = sim.meter(0)
    spy = Asked()
    on_get, on_list = meter._on_get, meter._on_get_list

    def get(association: Any, request: GetRequestNormal) -> bytes:
        spy.note(request)
        return on_get(association, request)

    def get_list(association: Any, request: GetRequestWithList) -> bytes:
        spy.note(request)
        return on_list(association, request)

    with patch.object(meter, "_on_get", get), patch.object(meter, "_on_get_list", get_list):
        yield spy


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, seconds: float
) -> None:
    freezer.tick(timedelta(seconds=seconds))
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


def _has_value(hass: HomeAssistant, entity_id: str) -> bool:
    state = hass.states.get(entity_id)
    return state is not None and state.state != STATE_UNAVAILABLE


@pytest.mark.usefixtures("whole_discovery_right_after_setup")
async def test_an_object_refused_with_an_exception_is_set_aside(
    hass: HomeAssistant,
    sim: Simulator,
    asked: Asked,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Voltage L1 is refused with ExceptionResponse D8 01 02 at every GET: the polls succeed
    with every other value, the object is set aside (not asked in the next poll, not absent),
    and once the identity is checked again (a day later) it is asked again and appears."""
    sim.set_fault(RefuseWithException("1-1:32.7.0"))
    await _set_up(hass, mock_config_entry)
    coordinator = mock_config_entry.runtime_data.coordinator
    meter = mock_config_entry.runtime_data.meter
    assert coordinator.last_update_success
    assert "1.1.32.7.0.255" in asked.take()
    assert "1.1.32.7.0.255" in meter.set_aside
    assert "1.1.32.7.0.255" not in meter.absent
    assert hass.states.get(VOLTAGE_L1) is None
    for entity_id in (VOLTAGE_L2, ENERGY, FREQUENCY):
        assert _has_value(hass, entity_id), entity_id

    await _poll(hass, freezer, mock_config_entry, 30)
    assert coordinator.last_update_success
    assert "1.1.32.7.0.255" not in asked.take()
    assert _has_value(hass, VOLTAGE_L2)

    sim.clear_faults()
    await _poll(hass, freezer, mock_config_entry, timedelta(days=1).total_seconds())
    assert coordinator.last_update_success
    assert "1.1.32.7.0.255" in asked.take()
    assert "1.1.32.7.0.255" in meter.objects
    await hass.async_block_till_done(wait_background_tasks=True)
    await _poll(hass, freezer, mock_config_entry, 30)
    assert _has_value(hass, VOLTAGE_L1)


async def test_a_firmware_refused_with_an_exception_keeps_no_doubt(
    hass: HomeAssistant,
    sim: Simulator,
    asked: Asked,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The firmware id is refused with ExceptionResponse: the identity check still passes on
    the serial, the polls succeed and the next one does not read the identity again."""
    sim.set_fault(RefuseWithException("1-0:0.2.0"))
    await _set_up(hass, mock_config_entry)
    coordinator = mock_config_entry.runtime_data.coordinator
    assert coordinator.last_update_success
    assert mock_config_entry.runtime_data.meter.firmware is None
    asked.take()
    for _ in range(2):
        await _poll(hass, freezer, mock_config_entry, 30)
        assert coordinator.last_update_success
        assert SERIAL_KEY not in asked.take()
        assert _has_value(hass, ENERGY)


async def test_object_unavailable_is_a_passing_state(
    hass: HomeAssistant,
    sim: Simulator,
    asked: Asked,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """object-unavailable (11) while learning is no "absent": the frequency is asked again in
    the next poll, answers, and its entity appears (item 7)."""
    sim.set_fault(DataAccessFailure("1-1:14.7.0", 3, DataAccessResult.OBJECT_UNAVAILABLE, count=1))
    await _set_up(hass, mock_config_entry)
    meter = mock_config_entry.runtime_data.meter
    assert "1.1.14.7.0.255" in asked.take()
    assert "1.1.14.7.0.255" not in meter.absent
    assert "1.1.14.7.0.255" not in meter.objects

    await _poll(hass, freezer, mock_config_entry, 30)
    assert "1.1.14.7.0.255" in asked.take()
    assert "1.1.14.7.0.255" in meter.objects
    await hass.async_block_till_done(wait_background_tasks=True)
    await _poll(hass, freezer, mock_config_entry, 30)
    assert _has_value(hass, FREQUENCY)


async def test_a_poll_whose_every_read_is_refused_fails(
    hass: HomeAssistant,
    sim: Simulator,
    asked: Asked,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The meter loses its association mid-poll and refuses every GET with an exception: that
    poll is no success with every value unknown but a failed one (a protocol error: entities
    unavailable), and the next poll checks the meter's identity first."""
    await _set_up(hass, mock_config_entry)
    await _poll(hass, freezer, mock_config_entry, 30)
    coordinator = mock_config_entry.runtime_data.coordinator
    assert coordinator.last_update_success
    assert _has_value(hass, ENERGY)
    enabled = coordinator.enabled_entities()
    read = [key for key in mock_config_entry.runtime_data.meter.objects if key in enabled]
    assert read
    for key in read:
        sim.set_fault(RefuseWithException(key))
    asked.take()

    await _poll(hass, freezer, mock_config_entry, 30)
    # 30 s on: the live power first, in a request of its own; every read of it refused, the
    # poll stops there (the standard readings are not asked).
    asked_now = set(asked.take())
    assert {key for key in read if FRESHNESS[key] is Freshness.LIVE} <= asked_now
    assert not {key for key in read if FRESHNESS[key] is Freshness.STANDARD} & asked_now
    assert not coordinator.last_update_success
    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert coordinator.last_exception.translation_key == "protocol_error"
    for entity_id in (ENERGY, VOLTAGE_L1, FREQUENCY):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == STATE_UNAVAILABLE, entity_id

    sim.clear_faults()
    await _poll(hass, freezer, mock_config_entry, 30)
    assert asked.take()[0] == SERIAL_KEY  # the identity first, after the doubt
    assert coordinator.last_update_success
    assert _has_value(hass, ENERGY)
