"""Turns on a shared line: one session at a time per endpoint, served in order of arrival.

Meters behind one gateway share one RS-485 line and one TCP client slot (field notes 3), so
their sessions take turns. A ``Bus`` per endpoint hands the turn over first in, first out: a
meter polling on a schedule takes a ``Seat`` and waits for its turn as long as the line needs
(waiting for the line is not a failure; closing the seat ends the wait), while a caller with a
person waiting (the add-meter dialog, the field CLI) waits a bounded time and is served before
the queued polls. An action (a read asked for by an automation or a person, possibly in a loop)
waits a bounded time too and takes its turn fairly: it goes before the queued polls only while
none of them has waited through an action already, so a waiting poll lets at most one action
go first. Every turn is a ``Turn`` handed to the session that runs in it (``MeterClient.session
(turn)``): the session never asks the bus again, and a turn runs one session at a time.

Not every poll is as pressing. A poll says when its reads fall due (``due_at``, on the loop's
clock; a meter polls every few seconds for its live power, every 30 s for the rest): until then
it is a spare poll, served only while no due poll waits, so the spare ones take the room the
line has and never delay a due one by more than the spare session already under way. Due polls
go in order of arrival (on a full line every poll is due: each meter once per cycle). An urgent
poll (one that decides a repair) goes before the other polls, so a failing meter's repair is not
a cycle late; the back-off of a failing meter keeps such polls rare.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from enum import Enum, auto
import weakref

from .errors import EndpointBusy


class _Kind(Enum):
    """Who asks for a turn, which decides where it queues."""

    PERSON = auto()  # bounded; a person waits (the add dialog, the field CLI): served first
    ACTION = auto()  # bounded; an action's read: at most one before each waiting poll
    POLL = auto()  # a seat's poll: waits as long as the line needs


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[None]
    seat: Seat | None
    kind: _Kind
    passed: bool = False  # a poll that has waited through an action's turn
    due_at: float | None = None  # a poll's: when its reads fall due (None: due now)
    urgent: bool = False  # a poll that decides a repair

    def due(self, now: float) -> bool:
        """Whether this poll's reads are due at ``now`` (else it is spare: live reads only)."""
        return self.urgent or self.due_at is None or self.due_at <= now


@dataclass(slots=True)
class Seat:
    """One meter's place on a bus: its turns and what they measured (loop time, seconds)."""

    bus: Bus
    name: str
    turns: int = 0
    last_turn_at: float | None = None
    interval: float | None = None  # between the starts of its last two turns
    last_wait: float | None = None  # from asking for the turn to getting it
    last_hold: float | None = None  # how long its last turn held the line
    closed: bool = False
    _waiters: list[_Waiter] = field(default_factory=list, repr=False)

    @asynccontextmanager
    async def turn(
        self, *, due_at: float | None = None, urgent: bool = False
    ) -> AsyncIterator[Turn]:
        """Wait for this seat's turn (no time bound; cancelled when the seat closes), hold it.

        ``due_at`` (loop time; None: now) is when the poll's reads fall due: before it, the
        poll is spare and goes only when no due poll waits. ``urgent`` goes before the other
        polls (a poll that decides a repair).
        """
        async with self.bus._held_turn(_Kind.POLL, self, None, due_at, urgent) as turn:
            yield turn

    def close(self) -> None:
        """Leave the bus (the meter is unloaded or removed): a waiting turn is cancelled."""
        if self.closed:
            return
        self.closed = True
        self.bus.seats.pop(id(self), None)
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.cancel()


class Turn:
    """The line held: what a session is handed to run in (one session at a time, while held)."""

    __slots__ = ("_busy", "_held", "bus")

    def __init__(self, bus: Bus) -> None:
        """A turn on ``bus``, held from now until the bus takes it back."""
        self.bus = bus
        self._held = True
        self._busy = False

    @contextmanager
    def session(self, key: str) -> Iterator[None]:
        """Run one session on endpoint ``key`` in this turn; EndpointBusy when the turn ended
        or already runs one; ValueError for a turn of another line."""
        if key != self.bus.key:
            raise ValueError(f"a turn on {self.bus.key} cannot open a session on {key}")
        if not self._held or self._busy:
            raise EndpointBusy(f"{self.bus.key}: one session at a time, while the turn holds")
        self._busy = True
        try:
            yield
        finally:
            self._busy = False


class Bus:
    """The turns of one endpoint (gateway ``host:port`` or serial device)."""

    def __init__(self, key: str) -> None:
        """An idle bus for ``key``."""
        self.key = key
        self.seats: dict[int, Seat] = {}
        self.turns = 0
        self.cycle: float | None = None  # the latest interval between one seat's turns
        self.busy_since: float | None = None
        self._held_by: _Kind | None = None  # who holds the turn now (None: the line is free)
        self._people: deque[_Waiter] = deque()  # bounded callers: a person is waiting
        self._actions: deque[_Waiter] = deque()  # bounded callers: actions
        self._polls: deque[_Waiter] = deque()  # seats, in order of arrival

    def seat(self, name: str) -> Seat:
        """A new seat on this bus for one meter."""
        seat = Seat(self, name)
        self.seats[id(seat)] = seat
        return seat

    @property
    def round_time(self) -> float | None:
        """Line time one round of every seated meter takes: the sum of their last turns."""
        holds = [s.last_hold for s in self.seats.values() if s.last_hold is not None]
        return round(sum(holds), 3) if holds else None

    @property
    def waiting(self) -> int:
        """Callers queued for a turn now."""
        return sum(1 for w in self._queued() if not w.future.done())

    def _queued(self) -> tuple[_Waiter, ...]:
        return (*self._people, *self._actions, *self._polls)

    @asynccontextmanager
    async def turn(self, *, within: float | None = None) -> AsyncIterator[Turn]:
        """Hold the line for a person waiting (served before actions and queued polls); a
        bounded wait (``within``) ends in EndpointBusy."""
        async with self._held_turn(_Kind.PERSON, None, within) as turn:
            yield turn

    @asynccontextmanager
    async def action_turn(self, *, within: float) -> AsyncIterator[Turn]:
        """Hold the line for an action; EndpointBusy when no turn came within ``within``
        seconds. A waiting poll lets at most one action go first."""
        async with self._held_turn(_Kind.ACTION, None, within) as turn:
            yield turn

    @asynccontextmanager
    async def _held_turn(
        self,
        kind: _Kind,
        seat: Seat | None,
        within: float | None,
        due_at: float | None = None,
        urgent: bool = False,
    ) -> AsyncIterator[Turn]:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        waiter = _Waiter(loop.create_future(), seat, kind, due_at=due_at, urgent=urgent)
        await self._acquire(waiter, within)
        started = loop.time()
        self._begin(seat, asked, started)
        turn = Turn(self)
        try:
            yield turn
        finally:
            turn._held = False
            if seat is not None:
                seat.last_hold = loop.time() - started
            self._pass_on()

    async def _acquire(self, waiter: _Waiter, within: float | None) -> None:
        seat, kind = waiter.seat, waiter.kind
        if seat is not None and seat.closed:
            raise asyncio.CancelledError(f"{seat.name} left the bus {self.key}")
        if self._held_by is None and not self.waiting:
            self._held_by = kind
            return
        # A poll that arrives during an action has waited through it already.
        waiter.passed = kind is _Kind.POLL and self._held_by is _Kind.ACTION
        self._queue_of(kind).append(waiter)
        if seat is not None:
            seat._waiters.append(waiter)
        try:
            async with asyncio.timeout(within):
                await waiter.future
        except BaseException as err:
            handed = waiter.future.done() and not waiter.future.cancelled()
            self._forget(waiter)
            if handed:  # given the turn just as the wait ended: hand it on
                self._pass_on()
            if isinstance(err, TimeoutError) and within is not None:
                raise EndpointBusy(
                    f"{self.key} is in use by another session of this process and was "
                    f"not released within {within:g} s"
                ) from None
            raise
        finally:
            if seat is not None:
                seat._waiters.remove(waiter)

    def _queue_of(self, kind: _Kind) -> deque[_Waiter]:
        return {_Kind.PERSON: self._people, _Kind.ACTION: self._actions, _Kind.POLL: self._polls}[
            kind
        ]

    def _forget(self, waiter: _Waiter) -> None:
        queue = self._queue_of(waiter.kind)
        if waiter in queue:
            queue.remove(waiter)

    def _begin(self, seat: Seat | None, asked: float, started: float) -> None:
        self.turns += 1
        if seat is None:
            return
        seat.turns += 1
        seat.last_wait = started - asked
        if seat.last_turn_at is not None:
            seat.interval = started - seat.last_turn_at
            self.cycle = seat.interval
        seat.last_turn_at = started

    def _pass_on(self) -> None:
        """Give the turn to the next caller: people first; then an action, unless a waiting due
        poll has waited through one already; then urgent polls, due polls in order of arrival,
        the actions held back, and last the spare polls."""
        waiter = self._next(asyncio.get_running_loop().time())
        if waiter is None:
            self._held_by = None
            return
        if waiter.kind is _Kind.ACTION:
            for poll in self._polls:
                poll.passed = True
        self._held_by = waiter.kind
        waiter.future.set_result(None)

    def _next(self, now: float) -> _Waiter | None:
        """Take the next waiter off its queue (None when nobody waits)."""
        for queue in (self._people, self._actions, self._polls):
            while queue and queue[0].future.done():
                queue.popleft()  # cancelled or timed out while waiting
        if self._people:
            return self._people.popleft()
        polls = [w for w in self._polls if not w.future.done()]
        due = [w for w in polls if w.due(now)]
        if self._actions and not any(w.passed for w in due):
            return self._actions.popleft()
        chosen = next((w for w in due if w.urgent), due[0] if due else None)
        if chosen is None and self._actions:
            return self._actions.popleft()
        if chosen is None and polls:
            chosen = polls[0]  # spare: the line has room
        if chosen is not None:
            self._polls.remove(chosen)
        return chosen


# One bus table per event loop (futures belong to a loop); in Home Assistant there is one loop.
_BUSES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Bus]] = (
    weakref.WeakKeyDictionary()
)


def bus_for(key: str) -> Bus:
    """The bus of an endpoint key (``transport.endpoint_key``), created on first use."""
    table = _BUSES.setdefault(asyncio.get_running_loop(), {})
    bus = table.get(key)
    if bus is None:
        bus = table[key] = Bus(key)
    return bus
