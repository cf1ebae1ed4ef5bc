"""Two meters behind one gateway for an hour: the per-endpoint lock keeps them from colliding."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
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


async def test_an_hour_behind_one_gateway(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """120 polls each: never 'Port already in use', never two connections, no session left open."""
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
