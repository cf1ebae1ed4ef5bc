"""Two meters behind one gateway for an hour: the per-endpoint lock keeps them from colliding."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import async_get_platforms
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.const import DOMAIN
from microstar_sim import MeterConfig, Simulator

from .conftest import entry_data, settled
from .polling import poll

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)


SERIALS = ("21061234", "21065678")


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """Two meters on one RS-485 line, told apart by their factory physical addresses."""
    return tuple(MeterConfig(serial_number=serial, address_size=4) for serial in SERIALS)


async def _set_up_both(hass: HomeAssistant, sim: Simulator) -> list[MockConfigEntry]:
    """Both meters' entries, set up (their first learning poll done)."""
    entries = []
    for serial in SERIALS:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=f"Microstar {serial}",
            unique_id=serial,
            data=entry_data(sim, address_size="4", physical=int(serial[-4:])),
        )
        entry.add_to_hass(hass)
        entries.append(entry)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
    return entries


async def test_an_hour_behind_one_gateway(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """120 polls each: never 'Port already in use', never two connections, no session left open."""
    entries = await _set_up_both(hass, sim)

    for _ in range(120):
        await poll(hass, freezer)

    await settled(sim)
    record = sim.record
    assert record.busy_replies == 0
    assert "Port already in use" not in caplog.text
    assert record.max_concurrent_connections == 1
    assert not record.open_connections
    assert not record.open_sessions
    assert not record.open_associations
    for entry in entries:
        health = entry.runtime_data.coordinator.health
        assert health.successes >= 120
        assert not health.failures
        assert health.glitches_dropped == 0
        assert hass.states.get(f"sensor.microstar_{entry.unique_id}_energy_import").state not in (
            STATE_UNAVAILABLE,
        )


async def test_meters_share_their_descriptions_and_each_its_device_info(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """The same object on two meters is described once, and a meter's entities share equal
    device infos: not copies per entity (scripts/bench: objects_alive_per_meter)."""
    await _set_up_both(hass, sim)
    entities = [
        entity
        for platform in async_get_platforms(hass, DOMAIN)
        if platform.domain == "sensor"
        for entity in platform.entities.values()
    ]
    by_meter = {
        serial: [e for e in entities if e.unique_id.startswith(serial)] for serial in SERIALS
    }
    assert all(len(found) > 10 for found in by_meter.values())
    for found in by_meter.values():
        infos = [entity.device_info for entity in found]
        # Two at most: entities built before the learning poll saw the meter's phases give
        # its model as single-phase, the device registry keeps the last one.
        assert all(a is b for a in infos for b in infos if a == b)
        assert len({id(info) for info in infos}) <= 2
    first, second = (
        {e.entity_description.key: e.entity_description for e in by_meter[s]} for s in SERIALS
    )
    assert first.keys() == second.keys()
    assert all(first[key] is second[key] for key in first)
