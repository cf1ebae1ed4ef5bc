"""The meter's devices: channel devices appear as discovery confirms them and go when the meter
no longer has them; a person may delete only a device the meter no longer has."""

import asyncio
from collections.abc import Callable
import html
import json
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_CLASS, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.devices import (
    channel_identifier,
    meter_has_device,
    meter_identifier,
)
from custom_components.microstar_dlms.discovery import MeterDiscovery
from custom_components.microstar_dlms.dlms import DataAccessResult
from microstar_sim import GUIDE_PROFILE, DataAccessFailure, MeterConfig, Simulator, profile_meter
from tests.e2e.browser import CHROMIUM_FLAGS, chromium_path

from .conftest import SERIAL
from .polling import poll

pytestmark = [
    pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True),
    pytest.mark.usefixtures("whole_discovery_right_after_setup"),
]

CHANNEL_3_ENERGY_KEY = "1.3.1.8.0.255"
CHANNEL_3_ENERGY = "sensor.microstar_21061234_standby_source_standby_source_energy_import"
CHANNEL_3_GONE = DataAccessFailure("1-3:1.8.0", result=DataAccessResult.OBJECT_UNDEFINED)


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """The meter of the vendor's guide: channels 2 and 3 besides the meter's own."""
    return (profile_meter(GUIDE_PROFILE),)


def test_which_devices_the_meter_has() -> None:
    """Its own device always; a channel until its energy total is found absent; nothing else."""
    meter = MeterDiscovery(SERIAL)
    assert meter_has_device(meter, {meter_identifier(SERIAL)})
    assert meter_has_device(meter, {channel_identifier(SERIAL, 2)})  # not asked for yet
    meter.absent.add("1.2.1.8.0.255")
    assert not meter_has_device(meter, {channel_identifier(SERIAL, 2)})
    assert meter_has_device(meter, {channel_identifier(SERIAL, 3)})
    assert not meter_has_device(meter, {(DOMAIN, "99999999")})  # not this meter's
    assert not meter_has_device(meter, {("another_domain", SERIAL)})


async def _poll_until(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, done: Callable[[], bool], polls: int = 6
) -> None:
    """Poll until ``done`` holds (the meter learned again takes a few polls)."""
    for _ in range(polls):
        if done():
            return
        await poll(hass, freezer)
    assert done()


def _device(
    device_registry: dr.DeviceRegistry, entry: MockConfigEntry, channel: int
) -> dr.DeviceEntry | None:
    """The meter's device (channel 1) or a channel's, if registered."""
    identifier = meter_identifier(SERIAL) if channel == 1 else channel_identifier(SERIAL, channel)
    return device_registry.async_get_device_by_identifier(identifier, entry.entry_id)


async def test_channel_devices_come_and_go_with_the_meter_s_channels(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Channel devices appear at run time, as discovery confirms the channels; learned again
    without channel 3, the meter loses that device and its entities; when channel 3 answers
    again they come back. No reload on the way."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    # The setup's poll reads the meter's identity only: its device, no channel yet.
    assert _device(device_registry, mock_config_entry, 1) is not None
    assert _device(device_registry, mock_config_entry, 2) is None
    coordinator = mock_config_entry.runtime_data.coordinator
    await hass.async_block_till_done(wait_background_tasks=True)  # the learning poll
    await _poll_until(hass, freezer, lambda: not coordinator.pending_objects())
    meter = _device(device_registry, mock_config_entry, 1)
    assert meter is not None
    for channel in (2, 3):
        device = _device(device_registry, mock_config_entry, channel)
        assert device is not None
        assert device.via_device_id == meter.id
    assert hass.states.get(CHANNEL_3_ENERGY).state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)

    # The meter no longer has channel 3 (new firmware, say): its energy total is undefined.
    sim.set_fault(CHANNEL_3_GONE)
    await _poll_until(hass, freezer, lambda: not _device(device_registry, mock_config_entry, 3))
    assert entity_registry.async_get(CHANNEL_3_ENERGY) is None
    assert hass.states.get(CHANNEL_3_ENERGY) is None
    assert _device(device_registry, mock_config_entry, 2) is not None

    # The meter changes again (a known object answers undefined once): channel 3 is back.
    sim.clear_faults()
    once = DataAccessFailure("1-1:14.7.0", 2, DataAccessResult.OBJECT_UNDEFINED, count=1)
    sim.set_fault(once)
    await _poll_until(hass, freezer, lambda: hass.states.get(CHANNEL_3_ENERGY) is not None)
    channel_3 = _device(device_registry, mock_config_entry, 3)
    assert channel_3 is not None
    assert entity_registry.async_get(CHANNEL_3_ENERGY).device_id == channel_3.id
    await _poll_until(
        hass,
        freezer,
        lambda: hass.states.get(CHANNEL_3_ENERGY).state not in (STATE_UNKNOWN, STATE_UNAVAILABLE),
    )
    assert mock_config_entry.runtime_data.coordinator is coordinator  # never reloaded


# What channels 2 and 3 are called, device and entity, in each language Home Assistant may use.
CHANNEL_NAMES = {
    "en": {
        2: ("Microstar 21061234: source carrying the load", "Load source energy import"),
        3: ("Microstar 21061234: standby source", "Standby source energy import"),
    },
    "es": {
        2: (
            "Microstar 21061234: fuente que alimenta la carga",
            "Energía importada (fuente de la carga)",
        ),
        3: ("Microstar 21061234: fuente de reserva", "Energía importada (fuente de reserva)"),
    },
}
METER_ENERGY_IMPORT = {"en": "Energy import", "es": "Energía importada"}


async def _sorted_as_the_browser_does(labels: list[str], language: str, tmp: Path) -> list[str]:
    """``labels`` in the order Home Assistant's pickers give them: the frontend sorts with the
    browser's collator, ``Intl.Collator(language, {sensitivity: "accent"})`` (here Chromium's)."""
    page = tmp / "sort.html"
    page.write_text(
        "<pre id=out></pre><script>document.getElementById('out').textContent = JSON.stringify("
        f"{json.dumps(labels)}.sort(new Intl.Collator({json.dumps(language)}, "
        "{sensitivity: 'accent'}).compare));</script>",
        "utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        chromium_path(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp / 'profile'}",
        "--dump-dom",
        page.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    found = re.search(r"<pre id=\"out\">(.*)</pre>", out.decode(), re.DOTALL)
    assert found is not None, out
    result: list[str] = json.loads(html.unescape(found.group(1)))
    return result


def _energy_statistics(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, entry: MockConfigEntry
) -> list[tuple[str, str, er.RegistryEntry]]:
    """(device name, entity name, entry) of each enabled energy sensor with a running total:
    what the Energy dashboard's grid pickers offer of this meter."""
    device_registry = dr.async_get(hass)
    found = []
    for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id):
        state = hass.states.get(entity.entity_id)
        if (
            state is not None
            and state.attributes.get(ATTR_DEVICE_CLASS) == SensorDeviceClass.ENERGY
            and state.attributes.get("state_class") == SensorStateClass.TOTAL_INCREASING
        ):
            device = device_registry.async_get(entity.device_id or "")
            assert device is not None
            assert device.name is not None
            assert entity.original_name is not None
            found.append((device.name, entity.original_name, entity))
    return found


@pytest.mark.parametrize("language", ["en", "es"])
async def test_channels_say_what_they_are_and_the_meter_s_totals_come_first(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    tmp_path: Path,
    language: str,
) -> None:
    """Each channel device is named for its source, in the guide's words, with the meter's
    model; its energy totals carry the source in their own names. In the Energy dashboard's
    pickers (statistics sorted by device name, then entity name, joined by "_"; the frontend's
    ha-statistic-picker), the meter's own totals come before every channel's."""
    hass.config.language = language
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data.coordinator
    await _poll_until(hass, freezer, lambda: not coordinator.pending_objects())

    meter = _device(device_registry, mock_config_entry, 1)
    assert meter is not None
    for channel, (device_name, import_name) in CHANNEL_NAMES[language].items():
        device = _device(device_registry, mock_config_entry, channel)
        assert device is not None
        assert (device.name, device.model) == (device_name, meter.model)
        names = {e.original_name for e in er.async_entries_for_device(entity_registry, device.id)}
        assert import_name in names

    statistics = _energy_statistics(hass, entity_registry, mock_config_entry)
    own = {entity.entity_id for _, _, entity in statistics if entity.device_id == meter.id}
    meter_names = {name for _, name, entity in statistics if entity.device_id == meter.id}
    channel_names = {name for _, name, entity in statistics if entity.device_id != meter.id}
    assert METER_ENERGY_IMPORT[language] in meter_names
    assert channel_names
    assert not channel_names & meter_names  # none can be taken for the meter's own
    by_label = {f"0_{device}_{name}": entity.entity_id for device, name, entity in statistics}
    order = [
        by_label[label]
        for label in await _sorted_as_the_browser_does(list(by_label), language, tmp_path)
    ]
    assert set(order[: len(own)]) == own, order


async def _remove(client: Any, device_id: str) -> dict[str, Any]:
    """Delete a device as the device page does."""
    await client.send_json_auto_id(
        {"type": "config/device_registry/remove", "device_id": device_id}
    )
    response: dict[str, Any] = await client.receive_json()
    return response


async def test_only_a_device_the_meter_no_longer_has_can_be_deleted(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """The meter's device and a channel it has are refused; a channel device left from before
    (channel 3, which this meter no longer has) is deleted with its entities; with the entry
    unloaded the stored discovery decides the same way."""
    sim.set_fault(CHANNEL_3_GONE)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data.coordinator
    await _poll_until(hass, freezer, lambda: not coordinator.pending_objects())
    await poll(hass, freezer)  # learned: stale devices were looked for
    assert CHANNEL_3_ENERGY_KEY in coordinator.discovery.absent
    leftover = device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={channel_identifier(SERIAL, 3)}
    )
    entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{SERIAL}_{CHANNEL_3_ENERGY_KEY}",
        config_entry=mock_config_entry,
        device_id=leftover.id,
    )
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)

    for channel in (1, 2):
        device = _device(device_registry, mock_config_entry, channel)
        assert device is not None
        response = await _remove(client, device.id)
        assert not response["success"], channel
        assert device_registry.async_get(device.id) is not None

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.NOT_LOADED
    channel_2 = _device(device_registry, mock_config_entry, 2)
    assert channel_2 is not None
    assert not (await _remove(client, channel_2.id))["success"]

    assert (await _remove(client, leftover.id))["success"]
    assert device_registry.async_get(leftover.id) is None
    assert (
        entity_registry.async_get_entity_id("sensor", DOMAIN, f"{SERIAL}_{CHANNEL_3_ENERGY_KEY}")
        is None
    )
