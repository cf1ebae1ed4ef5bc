"""Turns on one gateway's line: meters served in order, nobody starved, nobody left waiting."""

import asyncio
import itertools

import pytest

from custom_components.microstar_dlms.dlms import MeterClient
from custom_components.microstar_dlms.dlms.bus import Bus, Seat, bus_for
from custom_components.microstar_dlms.dlms.errors import EndpointBusy
from custom_components.microstar_dlms.dlms.transport import endpoint_lock
from microstar_sim.pytest_plugin import SimulatorFactory

from .simulated import VOLTAGE, settings_for, start, value_of


async def test_meters_on_one_line_are_served_in_turn() -> None:
    """Eight meters polling as fast as they can: every round serves each of them once."""
    bus = Bus("gateway:3333")
    seats = [bus.seat(f"meter {n}") for n in range(8)]
    order: list[str] = []

    async def poll_forever(seat_index: int) -> None:
        seat = seats[seat_index]
        for _ in range(5):
            async with seat.turn():
                order.append(seat.name)
                await asyncio.sleep(0.002)

    await asyncio.gather(*(poll_forever(n) for n in range(8)))
    rounds = [order[i : i + 8] for i in range(0, len(order), 8)]
    assert len(rounds) == 5
    for served in rounds:
        assert sorted(served) == sorted(seat.name for seat in seats)
    assert all(seat.turns == 5 for seat in seats)


async def test_a_poll_waits_for_its_turn_past_the_bound_a_person_gets() -> None:
    """The line held longer than a bounded wait: the dialog's caller gives up, the poll waits."""
    bus = Bus("gateway:3333")
    holder, poller = bus.seat("slow meter"), bus.seat("next meter")
    got_turn = asyncio.Event()

    async def hold() -> None:
        async with holder.turn():
            await asyncio.sleep(0.4)

    async def poll() -> None:
        async with poller.turn():
            got_turn.set()

    holding = asyncio.create_task(hold())
    await asyncio.sleep(0)
    polling = asyncio.create_task(poll())
    with pytest.raises(EndpointBusy, match="gateway:3333"):
        async with bus.turn(within=0.1):
            pass
    await asyncio.gather(holding, polling)
    assert got_turn.is_set()
    assert poller.last_wait is not None
    assert poller.last_wait >= 0.3


async def test_a_person_waiting_goes_before_the_queued_polls() -> None:
    """The add-meter dialog is served after the current session, not after the whole queue."""
    bus = Bus("gateway:3333")
    seats = [bus.seat(f"meter {n}") for n in range(4)]
    order: list[str] = []

    async def poll(n: int) -> None:
        async with seats[n].turn():
            order.append(seats[n].name)
            await asyncio.sleep(0.01)

    async def dialog() -> None:
        async with bus.turn(within=5.0):
            order.append("dialog")

    polls = [asyncio.create_task(poll(n)) for n in range(4)]
    await asyncio.sleep(0.001)  # meter 0 holds the line, the others queue
    await asyncio.gather(dialog(), *polls)
    assert order == ["meter 0", "dialog", "meter 1", "meter 2", "meter 3"]


async def test_a_removed_meter_stops_waiting_and_the_others_keep_their_order() -> None:
    """Closing a seat mid-cycle cancels its wait at once; the queue behind it moves up."""
    bus = Bus("gateway:3333")
    first, removed, last = bus.seat("first"), bus.seat("removed"), bus.seat("last")
    order: list[str] = []

    async def poll(seat_name: str) -> None:
        seat = {"first": first, "removed": removed, "last": last}[seat_name]
        async with seat.turn():
            order.append(seat_name)
            await asyncio.sleep(0.05)

    tasks = {name: asyncio.create_task(poll(name)) for name in ("first", "removed", "last")}
    await asyncio.sleep(0.01)
    removed.close()
    with pytest.raises(asyncio.CancelledError):
        await tasks["removed"]
    await asyncio.gather(tasks["first"], tasks["last"])
    assert order == ["first", "last"]
    assert len(bus.seats) == 2
    with pytest.raises(asyncio.CancelledError):
        async with removed.turn():
            pass
    assert not bus.waiting


async def test_a_cancelled_holder_or_waiter_never_keeps_the_line() -> None:
    """Cancellation anywhere (the entry unloading, Home Assistant stopping) hands the turn on."""
    bus = Bus("gateway:3333")
    a, b, c = bus.seat("a"), bus.seat("b"), bus.seat("c")

    async def hold(seat_index: int, seconds: float) -> None:
        async with (a, b, c)[seat_index].turn():
            await asyncio.sleep(seconds)

    holding = asyncio.create_task(hold(0, 10))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(hold(1, 10))
    last = asyncio.create_task(hold(2, 0))
    await asyncio.sleep(0.01)
    holding.cancel()
    await asyncio.sleep(0)  # b is handed the turn ...
    waiting.cancel()  # ... and cancelled before it runs
    async with asyncio.timeout(1):
        await last
    assert c.turns == 1
    async with asyncio.timeout(1), bus.turn(within=0.1):
        pass


async def test_one_session_inside_a_meters_turn_and_never_two(
    simulator: SimulatorFactory,
) -> None:
    """The poll's session runs in the turn it is handed; a second session in that turn, or
    anyone else's, cannot overlap it; the turn ended, it opens none."""
    sim = await start(simulator)
    settings = settings_for(sim, lock_timeout=0.2)
    seat = bus_for(f"127.0.0.1:{sim.port}").seat("meter")
    async with seat.turn() as turn:
        async with MeterClient(settings).session(turn) as session:
            assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
            with pytest.raises(EndpointBusy):
                async with MeterClient(settings).session(turn):
                    pass
            with pytest.raises(EndpointBusy):
                async with endpoint_lock(settings.endpoint, 0.1):
                    pass
        async with MeterClient(settings).session(turn) as session:
            assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
    with pytest.raises(EndpointBusy):
        async with MeterClient(settings).session(turn):
            pass
    seat.close()
    assert sim.record.max_concurrent_connections == 1
    assert len(sim.record.connections) == 2


async def test_the_cycle_of_a_line_is_measured() -> None:
    """Each meter's interval between turns, and the line time a round of all of them takes."""
    bus = Bus("gateway:3333")
    seats = [bus.seat(f"meter {n}") for n in range(3)]

    async def poll(n: int) -> None:
        for _ in range(2):
            async with seats[n].turn():
                await asyncio.sleep(0.05)

    await asyncio.gather(*(poll(n) for n in range(3)))
    for seat in seats:
        assert seat.interval is not None
        assert 0.14 <= seat.interval < 0.5
    assert bus.cycle is not None
    assert 0.14 <= bus.cycle < 0.5
    assert bus.round_time is not None
    assert 0.14 <= bus.round_time < 0.5


def _actions_between_turns(order: list[str], seat_name: str) -> list[int]:
    """How many actions ran between each two consecutive turns of one seat."""
    turns = [i for i, name in enumerate(order) if name == seat_name]
    return [
        sum(1 for name in order[a + 1 : b] if name.startswith("action"))
        for a, b in itertools.pairwise(turns)
    ]


async def test_actions_in_a_loop_let_every_meter_through_each_round() -> None:
    """Four callers reading in a loop and four meters polling as fast as they can: between two
    turns of any meter at most one action runs, and every action still gets its turns."""
    bus = Bus("gateway:3333")
    seats = [bus.seat(f"meter {n}") for n in range(4)]
    order: list[str] = []

    async def poll_forever(seat: Seat) -> None:
        for _ in range(6):
            async with seat.turn():
                order.append(seat.name)
                await asyncio.sleep(0.002)

    async def read_forever(name: str) -> None:
        for _ in range(3):
            async with bus.action_turn(within=10.0):
                order.append(name)
                await asyncio.sleep(0.002)

    await asyncio.gather(
        *(poll_forever(seat) for seat in seats), *(read_forever(f"action {n}") for n in range(4))
    )
    for seat in seats:
        assert seat.turns == 6
        assert max(_actions_between_turns(order, seat.name)) == 1, order
    assert sum(1 for name in order if name.startswith("action")) == 12


async def test_a_poll_that_arrives_during_an_action_goes_before_the_next_one() -> None:
    """An action holds the line when a meter's poll falls due: the next action waits for it."""
    bus = Bus("gateway:3333")
    seat = bus.seat("meter")
    order: list[str] = []

    async def read(name: str) -> None:
        async with bus.action_turn(within=5.0):
            order.append(name)
            await asyncio.sleep(0.01)

    async def poll() -> None:
        async with seat.turn():
            order.append("meter")

    first = asyncio.create_task(read("action 1"))
    await asyncio.sleep(0.001)  # the first action holds the line
    polling = asyncio.create_task(poll())
    await asyncio.sleep(0)
    await asyncio.gather(first, polling, read("action 2"))
    assert order == ["action 1", "meter", "action 2"]


async def test_the_dialog_still_goes_before_actions_and_an_action_before_the_queued_polls() -> None:
    """A person waiting is served first; an action then goes before polls that let none go."""
    bus = Bus("gateway:3333")
    seats = [bus.seat(f"meter {n}") for n in range(3)]
    order: list[str] = []

    async def poll(seat: Seat) -> None:
        async with seat.turn():
            order.append(seat.name)
            await asyncio.sleep(0.01)

    async def read() -> None:
        async with bus.action_turn(within=5.0):
            order.append("action")

    async def dialog() -> None:
        async with bus.turn(within=5.0):
            order.append("dialog")

    polls = [asyncio.create_task(poll(seat)) for seat in seats]
    await asyncio.sleep(0.001)  # meter 0 holds the line, the others queue
    reading = asyncio.create_task(read())
    await asyncio.sleep(0)
    await asyncio.gather(dialog(), reading, *polls)
    assert order == ["meter 0", "dialog", "action", "meter 1", "meter 2"]


async def test_an_action_gives_up_after_its_bound_and_the_line_moves_on() -> None:
    """A line held past an action's bound: EndpointBusy for the action; the polls go on."""
    bus = Bus("gateway:3333")
    holder, poller = bus.seat("slow meter"), bus.seat("next meter")

    async def hold() -> None:
        async with holder.turn():
            await asyncio.sleep(0.3)

    async def poll() -> None:
        async with poller.turn():
            pass

    holding = asyncio.create_task(hold())
    await asyncio.sleep(0)
    polling = asyncio.create_task(poll())
    with pytest.raises(EndpointBusy, match="gateway:3333"):
        async with bus.action_turn(within=0.05):
            pass
    await asyncio.gather(holding, polling)
    assert poller.turns == 1
    assert not bus.waiting


async def test_one_session_inside_an_actions_turn_and_never_two(
    simulator: SimulatorFactory,
) -> None:
    """The action's own session opens at once in its turn; a second one cannot overlap."""
    sim = await start(simulator)
    settings = settings_for(sim, lock_timeout=0.2)
    async with bus_for(f"127.0.0.1:{sim.port}").action_turn(within=1.0) as turn:
        async with MeterClient(settings).session(turn) as session:
            assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
            with pytest.raises(EndpointBusy):
                async with endpoint_lock(settings.endpoint, 0.1):
                    pass
    assert sim.record.max_concurrent_connections == 1
    assert len(sim.record.connections) == 1


async def test_a_turn_opens_sessions_only_on_its_own_line(simulator: SimulatorFactory) -> None:
    """A turn handed to a client of another endpoint is a mistake, refused before any byte."""
    sim = await start(simulator)
    settings = settings_for(sim)
    async with Bus("elsewhere:3333").turn(within=1.0) as turn:
        with pytest.raises(ValueError, match="elsewhere:3333"):
            async with MeterClient(settings).session(turn):
                pass
    assert len(sim.record.connections) == 0


async def _queue_behind_a_holder(
    bus: Bus, asks: list[tuple[Seat, float | None, bool]], order: list[str]
) -> None:
    """One meter holds the line while ``asks`` (seat, due in seconds or None, urgent) queue in
    this order; each records its name when served."""
    loop = asyncio.get_running_loop()
    holder = bus.seat("holder")
    release = asyncio.Event()

    async def hold() -> None:
        async with holder.turn():
            await release.wait()

    async def ask(seat: Seat, due_in: float | None, urgent: bool) -> None:
        due_at = None if due_in is None else loop.time() + due_in
        async with seat.turn(due_at=due_at, urgent=urgent):
            order.append(seat.name)

    holding = asyncio.create_task(hold())
    await asyncio.sleep(0)
    tasks = []
    for seat, due_in, urgent in asks:
        tasks.append(asyncio.create_task(ask(seat, due_in, urgent)))
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holding, *tasks)


async def test_due_polls_go_before_spare_ones_and_urgent_before_both() -> None:
    """Live-only polls (due later) queued first still wait for the polls whose standard reads
    are due; the poll that decides a repair goes first; spare polls keep their order."""
    bus = Bus("gateway:3333")
    live_a, live_b, due_a, due_b, repair = (
        bus.seat(n) for n in ("live a", "live b", "due a", "due b", "repair")
    )
    order: list[str] = []
    await _queue_behind_a_holder(
        bus,
        [
            (live_a, 30.0, False),
            (due_a, None, False),
            (live_b, 30.0, False),
            (due_b, -1.0, False),  # fell due a second ago
            (repair, 30.0, True),
        ],
        order,
    )
    assert order == ["repair", "due a", "due b", "live a", "live b"]


async def test_a_spare_poll_takes_a_free_line_and_becomes_due_while_it_waits() -> None:
    """On a free line a live-only poll goes at once; queued, it counts as due once its due
    time passes, and then keeps its place in the order of arrival."""
    bus = Bus("gateway:3333")
    free = bus.seat("free")
    async with free.turn(due_at=asyncio.get_running_loop().time() + 60):
        pass
    assert free.turns == 1

    early, late = bus.seat("early"), bus.seat("late")
    order: list[str] = []
    await _queue_behind_a_holder(bus, [(early, 0.0, False), (late, None, False)], order)
    assert order == ["early", "late"]


async def test_an_action_is_not_held_back_by_spare_polls_it_passed() -> None:
    """A spare poll that waited through an action does not make the next action wait: only
    due polls are owed a turn before another action (actions in a loop on a full line)."""
    bus = Bus("gateway:3333")
    spare = bus.seat("spare")
    order: list[str] = []
    loop = asyncio.get_running_loop()
    holder = bus.seat("holder")
    release = asyncio.Event()

    async def hold() -> None:
        async with holder.turn():
            await release.wait()

    async def action(name: str) -> None:
        async with bus.action_turn(within=5.0):
            order.append(name)
            await asyncio.sleep(0.005)

    async def live_poll() -> None:
        async with spare.turn(due_at=loop.time() + 60):
            order.append("spare")

    holding = asyncio.create_task(hold())
    await asyncio.sleep(0)
    first = asyncio.create_task(action("action 1"))
    await asyncio.sleep(0)
    polling = asyncio.create_task(live_poll())
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0.001)  # action 1 holds the line: the spare poll waited through it
    second = asyncio.create_task(action("action 2"))
    await asyncio.gather(holding, first, polling, second)
    assert order == ["action 1", "action 2", "spare"]
