"""The vendor's guide meter in Home Assistant: every object it has, as docs/objects.md says.

docs/objects.md is generated from the catalogue and the guide's table; here it is checked to be
current, and the entities Home Assistant creates against the guide simulator are checked to be
exactly the ones the catalogue presents for the guide's objects.
"""

from datetime import datetime
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, translation
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.catalogue import CATALOGUE, COMPUTED, FRESHNESS
from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.freshness import Freshness
from microstar_sim import (
    GUIDE_PROFILE,
    Busy,
    DataAccessFailure,
    MeterConfig,
    Silent,
    Simulator,
    profile_meter,
)
from microstar_sim.guide import guide_codes, guide_rows
from tests.objects_doc import DOC, render

from .conftest import SERIAL, settled
from .polling import poll

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)

TARIFF = "sensor.microstar_21061234_active_tariff"
METER_COVER = "event.microstar_21061234_meter_cover_opened"
BILLING = "event.microstar_21061234_billing_period_closed"
CHANNEL_2_ENERGY = "sensor.microstar_21061234_source_carrying_the_load_load_source_energy_import"
RATE_1 = "sensor.microstar_21061234_energy_import_rate_1"


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """The meter of the vendor's guide: three channels, tariffs, cover and billing stamps."""
    return (profile_meter(GUIDE_PROFILE),)


def test_objects_doc_is_current() -> None:
    """docs/objects.md is what scripts/objects-doc writes now (run it after a catalogue change)."""
    assert DOC.read_text("utf-8") == render()


def test_every_guide_object_is_catalogued_with_its_class() -> None:
    """Each row of the guide has a catalogue entry of the guide's interface class."""
    for row in guide_rows():
        for code in guide_codes(row):
            known = CATALOGUE[code.dotted]
            assert known.class_id == row.class_id, row.obis
            assert known.presented or known.not_presented, row.obis


async def _learned(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Set the guide meter up and poll until discovery is done."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(5):
        if not entry.runtime_data.coordinator.pending_objects():
            break
        await poll(hass, freezer)
    assert not entry.runtime_data.coordinator.pending_objects()


def _expected_entities() -> set[tuple[str, str]]:
    """(platform, unique id) of every entity the catalogue presents for the guide's objects,
    and of the objects computed from them (net power)."""
    keys = {code.dotted for row in guide_rows() for code in guide_codes(row)} | set(COMPUTED)
    return {
        (str(presentation.platform), f"{SERIAL}_{key}")
        for key in keys
        for presentation in CATALOGUE[key].presented
    }


async def test_entities_are_the_documented_ones(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Against the guide meter, the entities created are exactly those docs/objects.md lists."""
    await _learned(hass, mock_config_entry, freezer)
    created = {
        (entry.domain, entry.unique_id)
        for entry in er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id)
    }
    assert created == _expected_entities()


async def test_tariff_timestamps_and_channels(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The active tariff is an enum state; channel 2 is a device via the meter; per-tariff
    import is enabled where the meter tells its tariff; a time stamp is a timestamp sensor."""
    await _learned(hass, mock_config_entry, freezer)
    tariff = hass.states.get(TARIFF)
    assert tariff is not None
    assert tariff.state in {"rate_1", "rate_2", "rate_3", "rate_4"}
    assert tariff.attributes["options"] == ["rate_1", "rate_2", "rate_3", "rate_4"]
    assert hass.states.get(RATE_1).attributes["unit_of_measurement"] == "kWh"

    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), mock_config_entry.entry_id
    )
    channel = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{SERIAL}_channel_2"), mock_config_entry.entry_id
    )
    assert meter is not None
    assert channel is not None
    assert channel.via_device_id == meter.id
    assert channel.name == f"Microstar {SERIAL}: source carrying the load"
    assert channel.model == meter.model == "DLMS/COSEM 3~"
    energy = entity_registry.async_get(CHANNEL_2_ENERGY)
    assert energy is not None
    assert energy.device_id == channel.id
    assert hass.states.get(CHANNEL_2_ENERGY).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)

    # A disabled time stamp sensor, enabled, reads the meter's date-time.
    stamp = "sensor.microstar_21061234_meter_cover_last_opened"
    assert entity_registry.async_get(stamp).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    entity_registry.async_update_entity(stamp, disabled_by=None)
    await poll(hass, freezer, 31)
    state = hass.states.get(stamp)
    assert state is not None
    assert datetime.fromisoformat(state.state) < datetime.fromisoformat("2025-01-01T00:00:00+00:00")


async def test_events_fire_when_the_stamp_advances_not_at_baseline_or_restart(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The first poll sets the baseline; a new cover-opened stamp fires once; a poll in which
    the meter refuses the stamp changes nothing; a reload does not fire it again."""
    await _learned(hass, mock_config_entry, freezer)
    assert hass.states.get(METER_COVER).state == STATE_UNKNOWN  # baseline: no event
    assert hass.states.get(BILLING).state == STATE_UNKNOWN

    # The billing period closes at local midnight on the first of the month.
    freezer.move_to("2025-01-31 23:59:30+00:00")
    await poll(hass, freezer, 60)
    billing = hass.states.get(BILLING)
    assert billing.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    assert billing.attributes["event_type"] == "closed"
    fired_at = billing.state
    meter_time: Any = billing.attributes["meter_time"]
    assert meter_time.startswith("2025-02-01")

    # The meter answers but refuses the time stamp: still the last event, not unavailable.
    sim.set_fault(DataAccessFailure("1-0:0.1.2", attribute=2, count=1))
    await poll(hass, freezer)
    assert hass.states.get(BILLING).state == fired_at

    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await poll(hass, freezer)
    assert hass.states.get(BILLING).state == fired_at  # not fired again


EVENT_NAMES = {
    "en": {
        "meter_cover": "Meter cover opened",
        "terminal_cover": "Terminal cover opened",
        "configuration": "Configuration changed",
        "billing_period": "Billing period closed",
    },
    "es": {
        "meter_cover": "Tapa del medidor abierta",
        "terminal_cover": "Tapa de bornes abierta",
        "configuration": "Configuración cambiada",
        "billing_period": "Periodo de facturación cerrado",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
async def test_events_are_named_for_what_happens(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    language: str,
) -> None:
    """Each event entity is named for what happened, and its event type reads the same (not a
    bare "Opened" under "Meter cover"), in the language of the server."""
    hass.config.language = language
    await _learned(hass, mock_config_entry, freezer)
    strings = await translation.async_get_translations(hass, language, "entity", {DOMAIN})
    names = {}
    for entry in er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id):
        if entry.domain != "event":
            continue
        state = hass.states.get(entry.entity_id)
        assert state is not None
        assert entry.translation_key is not None
        names[entry.translation_key] = state.name
        (event_type,) = state.attributes["event_types"]
        key = f"component.{DOMAIN}.entity.event.{entry.translation_key}"
        assert (
            strings[f"{key}.state_attributes.event_type.state.{event_type}"]
            == (EVENT_NAMES[language][entry.translation_key])
        )
    assert names == {
        key: f"Microstar {SERIAL} {name}" for key, name in EVENT_NAMES[language].items()
    }


async def test_every_entity_is_unavailable_while_the_meter_is_silent(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Polls fail: every entity of the meter is unavailable, events and the channels' entities
    included; the first good poll after the power cycle brings each one back."""
    await _learned(hass, mock_config_entry, freezer)
    entity_ids = [
        entry.entity_id
        for entry in er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id)
        if not entry.disabled
    ]
    assert {METER_COVER, BILLING, CHANNEL_2_ENERGY} <= set(entity_ids)

    sim.set_fault(Silent())
    await poll(hass, freezer)
    assert {
        entity_id: hass.states.get(entity_id).state for entity_id in entity_ids
    } == dict.fromkeys(entity_ids, STATE_UNAVAILABLE)

    sim.power_cycle()
    await poll(hass, freezer)
    unavailable = [e for e in entity_ids if hass.states.get(e).state == STATE_UNAVAILABLE]
    assert unavailable == []
    assert hass.states.get(METER_COVER).state == STATE_UNKNOWN  # no event yet, as before


async def _read(hass: HomeAssistant, entry: MockConfigEntry, **fields: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "read",
        {"config_entry_id": entry.entry_id, **fields},
        blocking=True,
        return_response=True,
    )


@pytest.mark.usefixtures("init_integration")
async def test_read_action(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """Any object the meter has is read on request, scaled where it has a scaler, through the
    meter's own client: the gateway never sees a second connection."""
    voltage = await _read(hass, mock_config_entry, obis="1-1:32.7.0")
    assert isinstance(voltage["value"], int)
    assert voltage["unit"] == "V"
    assert voltage["scaled"] == pytest.approx(voltage["value"] / 100)
    assert await _read(hass, mock_config_entry, obis="1.0.0.0.0.255", class_id=1) == {
        "value": SERIAL
    }
    stamp = await _read(hass, mock_config_entry, obis="0-0:96.51.4")
    assert datetime.fromisoformat(stamp["value"]).year == 2024
    assert sim.record.max_concurrent_connections == 1


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("fields", "error", "key"),
    [
        ({"obis": "1-1:99.99.9"}, HomeAssistantError, "object_undefined"),
        ({"obis": "not obis"}, ServiceValidationError, "invalid_obis"),
    ],
)
async def test_read_action_errors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fields: dict[str, Any],
    error: type[Exception],
    key: str,
) -> None:
    """A meter's refusal and a malformed code are errors in the user's words."""
    with pytest.raises(error) as raised:
        await _read(hass, mock_config_entry, **fields)
    assert isinstance(raised.value, HomeAssistantError)
    assert raised.value.translation_key == key


@pytest.mark.usefixtures("init_integration")
async def test_read_action_waits_for_a_busy_gateway(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """A gateway held by another client: the action fails with the gateway-busy message."""
    sim.set_fault(Busy())
    with pytest.raises(HomeAssistantError) as raised:
        await _read(hass, mock_config_entry, obis="1-1:32.7.0")
    assert raised.value.translation_key == "gateway_busy"


async def test_a_poll_reads_only_what_enabled_entities_show(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Of the guide meter's 450 objects a poll 30 s on asks only those of enabled entities (not
    the slow ones, read every 15 minutes), and those the net power is computed from."""
    await _learned(hass, mock_config_entry, freezer)
    enabled = {
        entry.unique_id.removeprefix(f"{SERIAL}_")
        for entry in er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id)
        if not entry.disabled
    }
    meter = sim.meter(0)
    asked: list[str] = []
    read = meter.read

    def spy(ref: Any, selection: Any = None) -> Any:
        asked.append(ref.obis.dotted)
        return read(ref, selection)

    with patch.object(meter, "read", spy):
        await poll(hass, freezer)
    slow = {key for key in enabled if FRESHNESS.get(key) is Freshness.SLOW}
    identity = {"1.0.0.0.0.255", "1.0.0.2.0.255"}  # read daily
    assert slow  # the clock
    assert set(asked) == enabled - identity - slow - set(COMPUTED)
    assert len(asked) == len(set(asked))
    assert len(asked) < 40


async def test_objects_of_disabled_entities_are_learned_after_the_enabled_ones(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The enabled entities of the 450-object meter come first; the other objects are learned
    within their own budget per poll, in the polls that follow."""
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.microstar_dlms.coordinator.DISABLED_DISCOVERY_BUDGET", 0):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        coordinator = mock_config_entry.runtime_data.coordinator
        pending = coordinator.pending_objects()
        assert pending
        enabled = coordinator.enabled_entities()
        assert not any(key in enabled for key in pending)
        for entity_id in (TARIFF, RATE_1, CHANNEL_2_ENERGY, METER_COVER):
            assert hass.states.get(entity_id) is not None, entity_id
    await poll(hass, freezer)
    assert not coordinator.pending_objects()


@pytest.mark.usefixtures("init_integration")
async def test_read_action_during_a_poll_waits_its_turn(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """An action called while the meter is being polled waits for the poll's session to end:
    the gateway sees one connection at a time and both succeed."""
    coordinator = mock_config_entry.runtime_data.coordinator
    sim.record.clear()
    polled = hass.async_create_task(coordinator.async_refresh())
    read = await _read(hass, mock_config_entry, obis="1-1:1.8.0")
    await polled
    assert coordinator.last_update_success
    assert read["unit"] == "Wh"
    await settled(sim)
    assert len(sim.record.connections) == 2  # the poll's session, then the action's
    assert sim.record.max_concurrent_connections == 1
    assert sim.record.busy_replies == 0
