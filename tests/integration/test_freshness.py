"""Fresh where it matters: live power every tick, the standard readings every 30 s, the slow ones
every 15 minutes, each in the one session of its poll; a value not read keeps its state; the net
power is import minus export of the same session."""

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.microstar_dlms.catalogue import FRESHNESS
from custom_components.microstar_dlms.freshness import INTERVALS, LATE, Freshness, ReadSchedule
from microstar_sim import Simulator

from .conftest import SERIAL
from .polling import SLACK

pytestmark = [
    pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True),
    pytest.mark.usefixtures("whole_discovery_right_after_setup"),
]

POWER = f"sensor.microstar_{SERIAL}_power_import"
EXPORT = f"sensor.microstar_{SERIAL}_power_export"
NET = f"sensor.microstar_{SERIAL}_net_power"
VOLTAGE = f"sensor.microstar_{SERIAL}_voltage_l1"
ENERGY = f"sensor.microstar_{SERIAL}_energy_import"
CLOCK_DRIFT = f"sensor.microstar_{SERIAL}_clock_drift"
CLOCK = "0.0.1.0.0.255"


class Asked:
    """The objects the meter is asked for (attribute 2), poll by poll."""

    def __init__(self, sim: Simulator) -> None:
        self.keys: list[str] = []
        meter = sim.meter(0)
        read = meter.read

        def spy(ref: Any, selection: Any = None) -> Any:
            if ref.attribute == 2:
                self.keys.append(ref.obis.dotted)
            return read(ref, selection)

        self._patch = patch.object(meter, "read", spy)

    def __enter__(self) -> Asked:
        self._patch.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._patch.stop()

    def take(self) -> set[str]:
        """What was asked since the last take."""
        keys, self.keys = set(self.keys), []
        return keys


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 5) -> None:
    """Let ``seconds`` pass; the poll that falls due in them runs to its end."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass, dt_util.utcnow() + SLACK)
    await hass.async_block_till_done(wait_background_tasks=True)


def _classes(keys: set[str]) -> set[Freshness | None]:
    return {FRESHNESS.get(key) for key in keys}


async def test_live_every_tick_standard_every_sixth_slow_every_180th(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """Fifteen minutes of 5 s ticks: each tick's poll reads the live power; every sixth the
    standard readings as well; the 180th the slow ones (the clock) too. One session a poll."""
    coordinator = init_integration.runtime_data.coordinator
    sessions = len(sim.record.sessions)
    with Asked(sim) as asked:
        asked.take()
        polls = []
        for _ in range(180):
            await _tick(hass, freezer)
            polls.append(_classes(asked.take()))
    assert coordinator.last_update_success
    assert len(sim.record.sessions) - sessions == 180  # one session a tick
    assert all(Freshness.LIVE in poll for poll in polls)
    standard = [n + 1 for n, poll in enumerate(polls) if Freshness.STANDARD in poll]
    assert standard == list(range(6, 181, 6))
    slow = [n + 1 for n, poll in enumerate(polls) if Freshness.SLOW in poll]
    assert slow == [180]
    assert Counter(frozenset(poll) for poll in polls) == {
        frozenset({Freshness.LIVE}): 150,
        frozenset({Freshness.LIVE, Freshness.STANDARD}): 29,
        frozenset({Freshness.LIVE, Freshness.STANDARD, Freshness.SLOW}): 1,
    }


async def test_a_value_not_read_in_a_session_keeps_its_state(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """A live-only poll writes the power (its report time moves) and leaves the voltage, the
    energy and the clock drift as they were: the same value, not unknown, not written again."""
    await _tick(hass, freezer, 30)  # a standard poll: every standard value fresh
    before = {e: _shown(hass, e) for e in (POWER, VOLTAGE, ENERGY, CLOCK_DRIFT)}
    assert all(state not in ("unknown", "unavailable") for state, _ in before.values())

    await _tick(hass, freezer)

    after = {e: _shown(hass, e) for e in before}
    for entity_id in (VOLTAGE, ENERGY, CLOCK_DRIFT):
        assert after[entity_id] == before[entity_id], entity_id  # the value, not written again
    assert after[POWER][1] > before[POWER][1]


def _shown(hass: HomeAssistant, entity_id: str) -> tuple[str, datetime]:
    """An entity's state and when it was last written (Home Assistant updates the report
    time of a State in place, so it is copied out)."""
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state, state.last_reported


async def test_net_power_is_import_minus_export_of_the_same_session(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """The meter draws 2500 W, then exports 1200 W: the net power follows at the next live
    poll, signed as the Energy dashboard takes a grid power (+ import, - export), in W."""
    sim.set_load(2500, meter=0)
    await _tick(hass, freezer)
    net = hass.states.get(NET)
    assert net is not None
    assert float(net.state) == 2500
    assert net.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.POWER
    assert net.attributes["state_class"] == SensorStateClass.MEASUREMENT
    assert net.attributes[ATTR_UNIT_OF_MEASUREMENT] == UnitOfPower.WATT

    sim.set_load(-1200, meter=0)
    await _tick(hass, freezer)
    assert float(hass.states.get(NET).state) == -1200  # type: ignore[union-attr]
    assert float(hass.states.get(POWER).state) == 0  # type: ignore[union-attr]
    assert float(hass.states.get(EXPORT).state) == 1200  # type: ignore[union-attr]


def test_a_schedule_plans_the_classes_due_and_what_was_never_read() -> None:
    """Pure: the first session reads everything; 5 s on only live; a live poll 1.5 s early
    still reads the standard class due at 30 s; an object never read is read whatever its
    class; a poll asked for between two due ones reads the live class; the next poll is asked
    for LATE before the first class falls due."""
    schedule = ReadSchedule()
    start = dt_util.utcnow()
    freshness = {"power": Freshness.LIVE, "energy": Freshness.STANDARD, "clock": Freshness.SLOW}
    plan = schedule.plan(start, freshness, freshness)
    assert plan.due == set(Freshness)
    schedule.done(plan, start, plan.keys)
    assert schedule.next_poll_in(start) == INTERVALS[Freshness.LIVE] - LATE

    at = start + timedelta(seconds=1)
    assert schedule.plan(at, freshness, freshness).keys == {"power"}  # asked for early
    at = start + timedelta(seconds=5)
    assert schedule.plan(at, freshness, freshness).keys == {"power"}
    plan = schedule.plan(at, [*freshness, "voltage"], {**freshness, "voltage": Freshness.STANDARD})
    assert plan.keys == {"power", "voltage"}  # just enabled: read at once
    at = start + timedelta(seconds=28.5)
    assert schedule.plan(at, freshness, freshness).due == {Freshness.LIVE, Freshness.STANDARD}
    assert schedule.beyond_live_due_at() == start + timedelta(seconds=27.5)
