"""How fresh each class of readings is kept, and what one session reads.

The catalogue gives every presented object a class (its ``freshness`` column): live (active
power: what automations act on), standard (energies, voltages, currents, the tariff, the time
stamps behind the events) and slow (ratios, constants, counters, maximum demand, the clock).
``ReadSchedule`` keeps when each class was last read. A poll reads every class due, together, in
one session (one SNRM/AARQ/RLRQ/DISC: cheaper on a half-duplex line than a session per class),
and the coordinator polls again when the next class falls due. Within the session the live
values are read first, in a request of their own, when other classes follow: Home Assistant shows
them at once, not after the slower reads (one more request, every 30 s); and again at the end of a
session that lasted longer than the live interval allows (``live_again``: 250 ms turnaround),
while the line has room. Whether a poll's turn
comes at once is the line's word (``dlms/bus.py``): a poll whose standard or slow reads are due
goes before polls that only have live reads due, so live reads take the room the line has left.

Pure: times in, classes and object keys out (no Home Assistant, no IO).
"""

from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final


class Freshness(StrEnum):
    """How often an object is read."""

    LIVE = "live"
    STANDARD = "standard"
    SLOW = "slow"


INTERVALS: Final[Mapping[Freshness, timedelta]] = {
    Freshness.LIVE: timedelta(seconds=5),
    Freshness.STANDARD: timedelta(seconds=30),
    Freshness.SLOW: timedelta(minutes=15),
}
"""Each class read at most this long after its last read, where the line has room."""

EARLY: Final = 0.5
"""A class is due this part of the live interval before its own has passed (2.5 s): Home
Assistant fires a poll's timer up to a second early (whole seconds), and a live poll a moment
early must not leave the standard reads to the next one (every 35 s instead of 30)."""

LATE: Final = timedelta(seconds=0.6)
"""How late Home Assistant may start a poll after the interval asked for (it spreads polls over
0.05-0.5 s past the whole second; 0.1 s more for a busy loop): the next poll is asked for this
much early, so a class is read at most its interval apart."""

SOONEST: Final = timedelta(seconds=0.5)
"""The shortest wait before a poll when a class is overdue (a session longer than the live
interval, a turn that came late): the next poll asks for its turn at once, and Home Assistant
takes an interval of zero for "never"."""


@dataclass(frozen=True, slots=True)
class SessionReads:
    """What one session reads: the classes due, and the objects to read for them."""

    due: frozenset[Freshness]
    keys: frozenset[str]

    def steps(self, freshness_of: Mapping[str, Freshness | None]) -> list[frozenset[str]]:
        """The keys in the order read: the live ones first, on their own, when others follow
        (Home Assistant shows the power without waiting for the slower reads), else all at once."""
        live = frozenset(k for k in self.keys if freshness_of.get(k) is Freshness.LIVE)
        return [live, self.keys - live] if live and live != self.keys else [self.keys]


@dataclass(slots=True)
class ReadSchedule:
    """When each class was last read, the measured interval between its last two reads, the
    classes with objects to read and the objects read at least once."""

    intervals: Mapping[Freshness, timedelta] = field(default_factory=lambda: INTERVALS)
    last_read: dict[Freshness, datetime] = field(default_factory=dict)
    measured: dict[Freshness, timedelta] = field(default_factory=dict)
    classes: set[Freshness] = field(default_factory=set)
    """The classes with objects to read (standard always), as the last session planned."""
    read_once: set[str] = field(default_factory=set)

    def plan(
        self, now: datetime, wanted: Iterable[str], freshness_of: Mapping[str, Freshness | None]
    ) -> SessionReads:
        """What a session starting ``now`` reads of the objects ``wanted`` (confirmed, their
        entities enabled): the ones of the classes due and any never read. A poll asked for
        between two due ones (an update_entity call, a repair's fix) reads the fastest class:
        someone wants fresh values now."""
        wanted = list(wanted)
        self.classes = classes_of(freshness_of, wanted)
        due = self.due(now, self.classes) or self.fastest(self.classes)
        return SessionReads(due, frozenset(reads_due(freshness_of, wanted, due, self.read_once)))

    def done(self, plan: SessionReads, started: datetime, read: Iterable[str]) -> None:
        """The session that started ``started`` read what ``plan`` said (``read``: the
        objects it read and computed)."""
        self.read(plan.due, started)
        self.read_once.update(read)

    def due_at(self, freshness: Freshness) -> datetime | None:
        """When ``freshness`` falls due (None: never read, due now)."""
        last = self.last_read.get(freshness)
        early = self.intervals[Freshness.LIVE] * EARLY
        return None if last is None else last + self.intervals[freshness] - early

    def due(self, now: datetime, present: Collection[Freshness]) -> frozenset[Freshness]:
        """The classes of ``present`` (those with objects to read) due at ``now``."""
        return frozenset(
            freshness
            for freshness in present
            if (at := self.due_at(freshness)) is None or at <= now
        )

    def fastest(self, present: Collection[Freshness]) -> frozenset[Freshness]:
        """The class of ``present`` read most often (what a poll asked for early reads)."""
        return frozenset({min(present, key=self.intervals.__getitem__)}) if present else frozenset()

    def beyond_live_due_at(self) -> datetime | None:
        """When the first class other than live falls due (None: one is due now): until then a
        poll has only live reads to do, which wait for room on the line."""
        times = [
            self.due_at(f) for f in self.classes or {Freshness.STANDARD} if f is not Freshness.LIVE
        ]
        if not times or None in times:
            return None
        return min(t for t in times if t is not None)

    def live_again(self, started: datetime, now: datetime) -> bool:
        """Whether a session that started ``started`` and read its live values first reads them
        again at ``now``, its end: it lasted so long (a slow turnaround's standard reads) that
        the next poll, SOONEST after it, could not read them within their interval."""
        return now - started + SOONEST > self.intervals[Freshness.LIVE]

    def read(self, classes: Iterable[Freshness], at: datetime) -> None:
        """The session that started ``at`` read ``classes``."""
        for freshness in classes:
            last = self.last_read.get(freshness)
            if last is not None:
                self.measured[freshness] = at - last
            self.last_read[freshness] = at

    def next_poll_in(self, now: datetime) -> timedelta:
        """How long until the first class with objects to read is due again (its interval
        after its last read, less LATE; at least SOONEST)."""
        present = self.classes or {Freshness.STANDARD}
        waits = [
            last + self.intervals[freshness] - LATE - now
            for freshness in present
            if (last := self.last_read.get(freshness)) is not None
        ]
        if len(waits) < len(present):
            return SOONEST  # a class never read
        return max(min(waits, default=self.intervals[Freshness.STANDARD]), SOONEST)


def reads_due(
    freshness_of: Mapping[str, Freshness | None],
    wanted: Iterable[str],
    due: Container[Freshness],
    read_before: Container[str],
) -> list[str]:
    """The objects a session reads: of those ``wanted`` (confirmed, their entities enabled),
    the ones whose class is due, and any never read before (an entity just confirmed or enabled
    shows its value at once, whatever its class)."""
    return [key for key in wanted if freshness_of.get(key) in due or key not in read_before]


def classes_of(freshness_of: Mapping[str, Freshness | None], keys: Iterable[str]) -> set[Freshness]:
    """The classes with objects among ``keys``, and the standard class always (a meter with
    nothing enabled is still asked every standard interval: its health is known)."""
    classes = {f for key in keys if (f := freshness_of.get(key)) is not None}
    return classes | {Freshness.STANDARD}
