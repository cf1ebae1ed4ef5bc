"""Meters sharing one gateway's line: waiting for the line is no failure, a silent meter backs
off without delaying its repair, a meter removed or added mid-cycle leaves the others be, read
actions in a loop do not keep the line from the polls, standard readings go before live-only
polls, and faulty meters take no turns from the healthy ones."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.dlms.transport import endpoint_lock
from custom_components.microstar_dlms.freshness import Freshness
from microstar_sim import MeterConfig, Silent, Simulator

from .conftest import entry_data, settled
from .polling import SLACK, poll

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)

SERIALS = ("21061001", "21061002", "21061003")


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """Three meters on one RS-485 line, told apart by their factory physical addresses."""
    return tuple(MeterConfig(serial_number=serial, address_size=4) for serial in SERIALS)


def _entry(sim: Simulator, serial: str) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Microstar {serial}",
        unique_id=serial,
        data=entry_data(sim, address_size="4", physical=int(serial[-4:])),
    )


async def _set_up(
    hass: HomeAssistant, sim: Simulator, serials: tuple[str, ...]
) -> list[MockConfigEntry]:
    entries = []
    for serial in serials:
        entry = _entry(sim, serial)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        entries.append(entry)
    await hass.async_block_till_done()
    return entries


def _coordinator(entry: MockConfigEntry) -> MicrostarCoordinator:
    coordinator: MicrostarCoordinator = entry.runtime_data.coordinator
    return coordinator


def _energy(hass: HomeAssistant, serial: str) -> str:
    state = hass.states.get(f"sensor.microstar_{serial}_energy_import")
    assert state is not None
    return state.state


async def _hold_the_line(sim: Simulator, held: asyncio.Event, release: asyncio.Event) -> None:
    """Another session on the gateway (the add-meter dialog, the field CLI) until released.

    (Not a sleep: firing Home Assistant's time-changed event runs due loop timers early.)
    """
    async with endpoint_lock(sim.endpoint, 5.0):
        held.set()
        await release.wait()


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let 30 s pass on Home Assistant's clock; the polls due start (and may wait for the line)."""
    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass, dt_util.utcnow() + SLACK)
    await asyncio.sleep(0.2)


async def test_waiting_for_the_line_is_not_a_failure(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory
) -> None:
    """The line busy far longer than any bound a person's wait has: the polls wait, then read."""
    entries = await _set_up(hass, sim, SERIALS)
    held, release = asyncio.Event(), asyncio.Event()
    # The old design failed a poll after LOCK_TIMEOUT of waiting, or POLL_TIMEOUT in all.
    with (
        patch("custom_components.microstar_dlms.meter_config.LOCK_TIMEOUT", 0.1),
        patch("custom_components.microstar_dlms.coordinator.POLL_TIMEOUT", 0.8),
    ):
        holder = asyncio.create_task(_hold_the_line(sim, held, release))
        await held.wait()
        await _tick(hass, freezer)
        assert _coordinator(entries[0]).seat.bus.waiting == 3
        await asyncio.sleep(1.3)  # real time: past both old bounds
        release.set()
        await holder
        await hass.async_block_till_done(wait_background_tasks=True)

    for entry in entries:
        coordinator = _coordinator(entry)
        assert coordinator.last_update_success
        assert not coordinator.health.failures
        assert coordinator.health.successes == 3  # setup (identity), learning, this poll
        assert coordinator.seat.last_wait is not None
        assert coordinator.seat.last_wait >= 1.0
        assert _energy(hass, str(entry.unique_id)) != STATE_UNAVAILABLE
    await settled(sim)
    assert sim.record.max_concurrent_connections == 1
    assert sim.record.busy_replies == 0


async def test_a_silent_meter_backs_off_and_still_gets_its_repair_on_time(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Eight minutes with one meter silent: its polls thin out, its repair comes at 3 minutes,
    and the other two meters are read every 30 s as if it were not there."""
    entries = await _set_up(hass, sim, SERIALS)
    silent, healthy = entries[1], (entries[0], entries[2])
    sim.set_fault(Silent(), meter=1)
    issue_id = f"meter_silent_{silent.entry_id}"
    raised_at = None
    for tick in range(1, 17):
        await poll(hass, freezer)
        if raised_at is None and issue_registry.async_get_issue(DOMAIN, issue_id) is not None:
            raised_at = tick * 30

    # The silence began with the poll at 30 s; the repair falls due 180 s later, at the 210 s
    # tick. The ticks fire timers up to SLACK early, which can run the poll that decides it a
    # moment before the window ends; the next poll (a second later) decides it at the next tick.
    # Backing off without the repair's clamp would ask at 270 s.
    assert raised_at in (240 - 30, 240)
    failed = _coordinator(silent).health.failures["no_answer"]
    assert 4 <= failed <= 7  # 16 without backing off: 30, 60, 90, 150, 211, 451 s
    for entry in healthy:
        health = _coordinator(entry).health
        assert health.successes == 18  # setup (identity), learning, 16 polls
        assert not health.failures
        assert _energy(hass, str(entry.unique_id)) != STATE_UNAVAILABLE
    assert _energy(hass, str(silent.unique_id)) == STATE_UNAVAILABLE


async def test_a_meter_removed_or_added_mid_cycle_changes_nothing_for_the_others(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory
) -> None:
    """Polls queue behind a long session; one queued meter is unloaded, a new one added: the
    unload ends its wait at once, the others are read in the order they asked."""
    first, leaving = await _set_up(hass, sim, SERIALS[:2])
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_the_line(sim, held, release))
    await held.wait()
    await _tick(hass, freezer)
    bus = _coordinator(first).seat.bus
    assert bus.waiting == 2

    async with asyncio.timeout(5):
        assert await hass.config_entries.async_unload(leaving.entry_id)
    assert leaving.state is ConfigEntryState.NOT_LOADED
    assert bus.waiting == 1
    newcomer = _entry(sim, SERIALS[2])
    newcomer.add_to_hass(hass)
    setup = asyncio.create_task(hass.config_entries.async_setup(newcomer.entry_id))
    await asyncio.sleep(0.1)
    assert bus.waiting == 2

    release.set()
    await holder
    assert await setup
    await hass.async_block_till_done(wait_background_tasks=True)
    serial_of = {str(m.config.address): m.config.serial_number for m in sim.meters}
    order = [serial_of[s.meter] for s in sim.record.sessions]
    assert order[-2:] == [SERIALS[0], SERIALS[2]]
    assert _coordinator(first).health.successes == 3  # setup (identity), learning, this poll
    assert not _coordinator(first).health.failures
    assert newcomer.state is ConfigEntryState.LOADED
    assert len(bus.seats) == 2


async def test_polls_waiting_for_the_line_end_when_home_assistant_stops(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory
) -> None:
    """Stopping never waits for a queue of meters: the waiting polls end, no session opens."""
    entries = await _set_up(hass, sim, SERIALS)
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_the_line(sim, held, release))
    await held.wait()
    await _tick(hass, freezer)
    bus = _coordinator(entries[0]).seat.bus
    assert bus.waiting == 3
    sessions = len(sim.record.sessions)

    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await asyncio.sleep(0.1)
    assert bus.waiting == 0
    release.set()
    await holder
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(sim.record.sessions) == sessions


async def test_adding_a_meter_to_a_busy_line_goes_before_the_queued_polls(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory
) -> None:
    """The add-meter dialog waits for the new meter's setup: its one short session (the
    identity) is served next; its learning poll then queues behind the meters already waiting."""
    first, _ = await _set_up(hass, sim, SERIALS[:2])
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_the_line(sim, held, release))
    await held.wait()
    await _tick(hass, freezer)
    assert _coordinator(first).seat.bus.waiting == 2
    newcomer = _entry(sim, SERIALS[2])
    newcomer.add_to_hass(hass)
    setup = asyncio.create_task(hass.config_entries.async_setup(newcomer.entry_id))
    await asyncio.sleep(0.1)

    release.set()
    await holder
    assert await setup
    await hass.async_block_till_done(wait_background_tasks=True)
    serial_of = {str(m.config.address): m.config.serial_number for m in sim.meters}
    order = [serial_of[s.meter] for s in sim.record.sessions]
    # The two queued polls keep their own order (their timers fire in an order Home Assistant's
    # per-coordinator jitter decides); the newcomer's identity comes before both, its learning
    # after both.
    assert order[-4] == SERIALS[2]
    assert sorted(order[-3:-1]) == [SERIALS[0], SERIALS[1]]
    assert order[-1] == SERIALS[2]
    assert newcomer.state is ConfigEntryState.LOADED


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    """Wait (real time, bounded) until ``condition`` holds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - counters kept by several tasks
            await asyncio.sleep(0.05)


async def test_read_actions_in_a_loop_leave_every_meter_its_poll_each_cycle(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory
) -> None:
    """Four automations call the read action in a loop on the meters of one line: each 30 s
    every meter is still polled (at most one action goes before each waiting poll), and the
    actions are served too."""
    entries = await _set_up(hass, sim, SERIALS)
    coordinators = [_coordinator(entry) for entry in entries]
    reads = [0, 0, 0, 0]
    in_flight = [0]
    calling, stop = asyncio.Event(), asyncio.Event()
    calling.set()

    async def read_in_a_loop(caller: int) -> None:
        entry = entries[caller % len(entries)]
        while not stop.is_set():
            await calling.wait()
            in_flight[0] += 1
            try:
                await hass.services.async_call(
                    DOMAIN,
                    "read",
                    {"config_entry_id": entry.entry_id, "obis": "1-1:32.7.0"},
                    blocking=True,
                    return_response=True,
                )
            finally:
                in_flight[0] -= 1
            reads[caller] += 1

    callers = [asyncio.create_task(read_in_a_loop(caller)) for caller in range(4)]
    try:
        await _until(lambda: all(reads))
        for _ in range(3):
            polled = [coordinator.health.successes for coordinator in coordinators]
            served = sum(reads)
            # Moving the frozen clock 30 s fires every timer due in them, a session's own
            # timeouts too: the callers pause for the tick and start again with the polls.
            calling.clear()
            await _until(lambda: not in_flight[0])
            await _tick(hass, freezer)
            calling.set()
            await _until(
                lambda polled=polled: all(
                    coordinator.health.successes > before
                    for coordinator, before in zip(coordinators, polled, strict=True)
                )
            )
            assert sum(reads) > served
    finally:
        stop.set()
        calling.set()
        await asyncio.gather(*callers)
    await hass.async_block_till_done(wait_background_tasks=True)

    for entry, coordinator in zip(entries, coordinators, strict=True):
        assert coordinator.last_update_success
        assert not coordinator.health.failures
        assert _energy(hass, str(entry.unique_id)) != STATE_UNAVAILABLE
    await settled(sim)
    assert sim.record.max_concurrent_connections == 1
    assert sim.record.busy_replies == 0


async def test_faulty_meters_take_no_turns_from_the_healthy_one(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Four minutes of 5 s ticks with one meter silent and one refusing its password: the
    healthy meter is read at every tick (live power; its standard readings every sixth), the
    silent one is asked at its back-off only and gets its repair, the one with the wrong
    password had one session, asks for re-authentication and is asked no more."""
    entries = await _set_up(hass, sim, SERIALS)
    healthy, silent, refusing = entries
    sim.set_fault(Silent(), meter=1)
    sim.set_password(1, "a-new-password", meter=2)
    address = {e.entry_id: str(sim.meters[n].address) for n, e in enumerate(entries)}
    sessions_before = len(sim.record.sessions)
    good_before = _coordinator(healthy).health.successes

    for _ in range(48):
        freezer.tick(timedelta(seconds=5))
        async_fire_time_changed(hass, dt_util.utcnow() + SLACK)
        await hass.async_block_till_done(wait_background_tasks=True)

    after = sim.record.sessions[sessions_before:]
    assert _coordinator(healthy).health.successes - good_before == 48
    assert not _coordinator(healthy).health.failures
    assert sum(1 for s in after if s.meter == address[refusing.entry_id]) == 1
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["entry_id"] for f in flows] == [refusing.entry_id]
    assert _coordinator(refusing).health.failures == {"authentication_failed": 1}
    failed = _coordinator(silent).health.failures["no_answer"]
    assert 4 <= failed <= 8  # at its back-off: 48 if it polled at every tick
    assert issue_registry.async_get_issue(DOMAIN, f"meter_silent_{silent.entry_id}") is not None
    assert _energy(hass, str(healthy.unique_id)) != STATE_UNAVAILABLE


async def test_a_meter_with_standard_readings_due_goes_before_live_only_polls(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory
) -> None:
    """Another client holds the line while two meters ask for their turn with only live power
    to read, then the third with its standard readings due (30 s since they were last read):
    when the line is free, the third is read first, then the two others (live reads take the
    room the standard ones leave)."""
    entries = await _set_up(hass, sim, SERIALS)
    await poll(hass, freezer, 5)  # every meter learned and read once
    waiting = _coordinator(entries[1])
    # No timer for its poll (asked for below, after the others): the data handed back as it is
    # cancels the timer and, with no interval, sets none; its poll's end sets the next.
    waiting.update_interval = None
    waiting.async_set_updated_data(waiting.data)
    standard_read = waiting.schedule.last_read[Freshness.STANDARD]
    waiting.schedule.last_read[Freshness.STANDARD] = standard_read - timedelta(seconds=30)
    address = {str(sim.meters[n].address): n for n in range(len(entries))}
    sessions_before = len(sim.record.sessions)
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_the_line(sim, held, release))
    await held.wait()
    freezer.tick(timedelta(seconds=5))
    async_fire_time_changed(hass, dt_util.utcnow() + SLACK)
    await asyncio.sleep(0.2)
    assert waiting.seat.bus.waiting == 2
    hass.async_create_task(waiting.async_refresh())
    await asyncio.sleep(0.2)
    assert waiting.seat.bus.waiting == 3
    release.set()
    await holder
    await hass.async_block_till_done(wait_background_tasks=True)

    order = [address[s.meter] for s in sim.record.sessions[sessions_before:]]
    assert order[0] == 1, order  # last to ask: [0, 2, 1] or [2, 0, 1] in order of arrival
    assert sorted(order) == [0, 1, 2]
    assert all(_coordinator(entry).last_update_success for entry in entries)
