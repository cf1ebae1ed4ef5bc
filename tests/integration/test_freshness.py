"""Fresh where it matters: live power every tick, the standard readings every 30 s, the slow ones
every 15 minutes, each in the one session of its poll; a value not read keeps its state; the net
power is import minus export of the same session."""

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    UnitOfPower,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.microstar_dlms.catalogue import FRESHNESS
from custom_components.microstar_dlms.freshness import INTERVALS, LATE, Freshness, ReadSchedule
from microstar_sim import DropMidResponse, Simulator

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
ENERGY_IMPORT = "1.1.1.8.0.255"
POWER_IMPORT = "1.1.1.7.0.255"


class ShownWhenAsked:
    """What Home Assistant shows of ``entity_id`` each time the meter is asked for the energy
    import total; ``then`` runs there too (a fault switched on for the answer)."""

    def __init__(
        self, hass: HomeAssistant, sim: Simulator, entity_id: str, then: Any = None
    ) -> None:
        self.shown: list[str] = []
        meter = sim.meter(0)
        read = meter.read

        def spy(ref: Any, selection: Any = None) -> Any:
            if ref.attribute == 2 and ref.obis.dotted == ENERGY_IMPORT:
                state = hass.states.get(entity_id)
                self.shown.append(state.state if state else "none")
                if then is not None:
                    then()
            return read(ref, selection)

        self._patch = patch.object(meter, "read", spy)

    def __enter__(self) -> ShownWhenAsked:
        self._patch.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._patch.stop()


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


async def test_the_live_power_is_shown_before_the_standard_readings_are_asked(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """The meter steps to 2500 W; the next poll has its standard readings due as well: it
    reads the live power first, in a request of its own, and Home Assistant shows the new power
    while the meter is still to be asked for the energy. The energy is written when the session
    ends, the power not again (its report time is still the earlier one)."""
    await _tick(hass, freezer, 30)
    sim.set_load(2500, meter=0)
    with ShownWhenAsked(hass, sim, POWER) as asked:
        await _tick(hass, freezer, 30)
    assert [float(shown) for shown in asked.shown] == [2500]
    power, energy = _shown(hass, POWER), _shown(hass, ENERGY)
    assert float(power[0]) == 2500
    assert power[1] < energy[1]
    assert init_integration.runtime_data.coordinator.last_update_success


@pytest.mark.parametrize(
    ("session_s", "other_poll_waits", "power_reads"),
    [(3, False, 1), (5, False, 2), (5, True, 1)],
)
async def test_a_long_session_reads_the_power_again_at_its_end_while_the_line_has_room(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
    init_integration: MockConfigEntry,
    session_s: float,
    other_poll_waits: bool,
    power_reads: int,
) -> None:
    """A session with the standard readings that lasts ``session_s`` (the clock moves while the
    meter is asked for the energy, as at a slow turnaround): past the live interval less
    SOONEST the next poll could not read the power in time, so the session reads it again at
    its end - unless another poll waits for the line (it goes first). The next poll is asked
    for the live interval after the power was last read."""
    coordinator = init_integration.runtime_data.coordinator
    bus = coordinator.seat.bus
    waiting: list[asyncio.Task[None]] = []

    async def another_poll() -> None:
        async with bus.turn(within=10):
            pass

    def slow_answer() -> None:
        freezer.tick(timedelta(seconds=session_s))
        if other_poll_waits:
            waiting.append(hass.loop.create_task(another_poll()))

    await _tick(hass, freezer, 30)
    with Asked(sim) as asked, ShownWhenAsked(hass, sim, POWER, slow_answer):
        freezer.tick(timedelta(seconds=30))
        started = dt_util.utcnow()
        async_fire_time_changed(hass, started + SLACK)
        await hass.async_block_till_done(wait_background_tasks=True)
    await asyncio.gather(*waiting)
    assert coordinator.last_update_success
    assert asked.keys.count(POWER_IMPORT) == power_reads
    last_live = coordinator.schedule.last_read[Freshness.LIVE]
    if power_reads == 2:
        assert last_live - started >= timedelta(seconds=session_s)
    else:
        assert last_live - started < timedelta(seconds=1)


def test_live_again_once_the_next_poll_could_not_read_the_power_in_time() -> None:
    """Pure: a session longer than the live interval less SOONEST (4.5 s) reads it again."""
    schedule = ReadSchedule()
    start = dt_util.utcnow()
    assert not schedule.live_again(start, start + timedelta(seconds=4.4))
    assert schedule.live_again(start, start + timedelta(seconds=4.6))


async def test_a_poll_whose_later_reads_fail_still_fails(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """The connection drops while the meter answers for the energy, after the live power was
    shown: the poll fails (counted, the entities unavailable) as a poll failing in one request
    does. The next poll, after the back-off, shows nothing before its end: when it fails the
    same way, the entities stay unavailable."""
    coordinator = init_integration.runtime_data.coordinator
    await _tick(hass, freezer, 30)
    sim.set_load(2500, meter=0)
    with ShownWhenAsked(hass, sim, POWER, lambda: sim.set_fault(DropMidResponse())) as asked:
        await _tick(hass, freezer, 30)
        assert not coordinator.last_update_success
        assert hass.states.get(POWER).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
        failures = sum(coordinator.health.failures.values())
        assert failures >= 1
        for _ in range(12):  # the back-off's next poll
            await _tick(hass, freezer, 30)
            if sum(coordinator.health.failures.values()) > failures:
                break
    assert float(asked.shown[0]) == 2500
    assert asked.shown[-1] == STATE_UNAVAILABLE
    assert sum(coordinator.health.failures.values()) > failures
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE  # type: ignore[union-attr]


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
    assert plan.steps(freshness) == [{"power"}, {"energy", "clock"}]  # the live ones first
    schedule.done(plan, start, plan.keys)
    assert schedule.next_poll_in(start) == INTERVALS[Freshness.LIVE] - LATE

    at = start + timedelta(seconds=1)
    assert schedule.plan(at, freshness, freshness).keys == {"power"}  # asked for early
    assert schedule.plan(at, freshness, freshness).steps(freshness) == [{"power"}]
    at = start + timedelta(seconds=5)
    assert schedule.plan(at, freshness, freshness).keys == {"power"}
    plan = schedule.plan(at, [*freshness, "voltage"], {**freshness, "voltage": Freshness.STANDARD})
    assert plan.keys == {"power", "voltage"}  # just enabled: read at once
    at = start + timedelta(seconds=28.5)
    assert schedule.plan(at, freshness, freshness).due == {Freshness.LIVE, Freshness.STANDARD}
    assert schedule.beyond_live_due_at() == start + timedelta(seconds=27.5)
