"""One poll's values: what to read, and each value scaled with its unit; clock drift, capture times.

Given what discovery learned and which objects' entities are enabled, ``ValueReads`` names the
attributes a poll reads (the values, then the capture times of the classes that keep one for the
value shown: extended registers; a demand register's is not its current average's); from the
session's results it makes the ``MeterReading`` the entities show: a register's number scaled
exactly by the scaler_unit learned once, with that unit; a date-time as a ``datetime`` in the
meter's deviation sign (``DeviationSign``, learned from its clock); the meter clock's drift; and
which confirmed objects the meter now calls undefined. A poll whose every read the meter refused
with an exception (no data-access result: the association is gone) is a ``ProtocolError``.

A session reads only the classes due (``freshness.py``): ``MeterReading.after`` lays its values
over the last reading, so an object not read in this session keeps its last value (not unknown),
and ``read`` says which were read now. A computed object (the net power) is the difference of
its two inputs read in the same session, in the finer of their scalers. ``SessionValues`` reads
a session's values in steps, the live ones first when others follow, and hands the reading of
each step but the last to be shown at once; a session so long (a slow turnaround) that the next
poll could not read the live values within their interval reads them again at its end, when no
other poll waits for the line.
"""

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from homeassistant.util import dt as dt_util

from .catalogue import COMPUTED, FRESHNESS, KnownObject
from .const import LOGGER
from .cosem import CLOCK, UNSCALED, ScalerUnit, as_cosem_datetime, as_datetime, as_number
from .discovery import MeterDiscovery
from .dlms import AttributeRef, MeterSession, ReadResult
from .dlms.errors import DataAccessResult, DlmsError, ProtocolError, RequestRefusedError
from .dlms.interface_classes import CLASS_CLOCK
from .freshness import Freshness, ReadSchedule


@dataclass(frozen=True, slots=True)
class Measured:
    """One object's value this poll (None: the meter refused it) and the scaler_unit it was
    scaled by (None: the object has none)."""

    value: Decimal | datetime | None
    unit: ScalerUnit | None


@dataclass(frozen=True, slots=True)
class MeterReading:
    """The meter's values by object key (the clock's is its drift): this session's, and the
    last ones of the objects it did not read."""

    values: Mapping[str, Measured]
    clock_drift: int | None = None
    capture_times: Mapping[str, datetime] = field(default_factory=dict)
    """When a value was captured (an extended register's: its capture_time)."""
    read: frozenset[str] = frozenset()
    """The objects this session read (refused ones included; computed ones it computed)."""
    read_at: datetime | None = None

    def after(self, last: MeterReading | None) -> MeterReading:
        """This session's reading laid over ``last``: what it did not read keeps its value."""
        if last is None:
            return self
        return MeterReading(
            {**last.values, **self.values},
            self.clock_drift if CLOCK in self.read else last.clock_drift,
            {
                **{k: t for k, t in last.capture_times.items() if k not in self.read},
                **self.capture_times,
            },
            self.read,
            self.read_at,
        )


@dataclass(slots=True)
class DeviationSign:
    """Whether the meter writes its deviation with the sign opposite to the standard's: the
    standard's until its clock shows otherwise, then what the clock last showed (its other
    date-times, capture times included, are read the same way). Kept across polls."""

    inverted: bool = False


class ValueReads:
    """The reads of one poll: the values of objects whose entities are enabled, one round trip
    each (or one GET-with-list), then their capture times."""

    def __init__(
        self,
        discovery: MeterDiscovery,
        enabled: Container[str],
        sign: DeviationSign,
        computed: Sequence[KnownObject] = (),
    ) -> None:
        """Plan the reads of the confirmed objects in ``enabled`` (this session's), and the
        ``computed`` objects of their values; ``sign`` is the meter's."""
        self._serial = discovery.serial
        self._sign = sign
        self._units = discovery.scaler_units
        self._wanted = [obj for key, obj in discovery.objects.items() if key in enabled]
        self._computed = [
            (known, unit) for known in computed if (unit := computed_unit(discovery, known))
        ]
        self._captured = [(obj.key, ref) for obj in self._wanted if (ref := obj.capture_time_ref())]
        self.refs: list[AttributeRef] = [obj.value_ref() for obj in self._wanted]
        self.refs += [ref for _, ref in self._captured]
        self.undefined: list[str] = []
        """Confirmed objects the meter answered object-undefined: it changed."""

    def reading(self, results: Sequence[ReadResult], read_at: datetime) -> MeterReading:
        """The values of ``results`` (answers to ``refs``, read at ``read_at``).

        ProtocolError when the meter refused every one with an exception: a meter that lost
        the association mid-poll answers so, and a poll of unknowns would pass for a good one.
        """
        if results and all(isinstance(r.error, RequestRefusedError) for r in results):
            raise ProtocolError(
                f"the meter refused all {len(results)} reads of the poll: {results[0].error}"
            )
        count = len(self._wanted)
        clock_drift = self._read_clock(results[:count], read_at)
        inverted = self._sign.inverted
        values: dict[str, Measured] = {}
        for obj, result in zip(self._wanted, results[:count], strict=True):
            unit = self._units.get(obj.key)
            if result.error is not None:
                LOGGER.debug("Meter %s: %s: %s", self._serial, obj.key, result.error)
                values[obj.key] = Measured(None, unit)
                if result.error.result is DataAccessResult.OBJECT_UNDEFINED:
                    self.undefined.append(obj.key)
                continue
            if obj.class_id != CLASS_CLOCK:
                value = register_value(result.value, unit or UNSCALED, inverted)
                values[obj.key] = Measured(value, unit)
        capture_times = {
            key: stamp
            for (key, _), result in zip(self._captured, results[count:], strict=True)
            if result.error is None
            and isinstance(stamp := register_value(result.value, UNSCALED, inverted), datetime)
        }
        read = {obj.key for obj in self._wanted}
        for known, unit in self._computed:
            first, second = (values.get(key) for key in known.requires)
            if first is not None and second is not None:
                values[known.key] = difference(first, second, unit)
                read.add(known.key)
        return MeterReading(values, clock_drift, capture_times, frozenset(read), read_at)

    def _read_clock(self, results: Sequence[ReadResult], read_at: datetime) -> int | None:
        """The clock's drift; the deviation sign it shows is the one every date-time uses."""
        clock_drift = None
        for obj, result in zip(self._wanted, results, strict=True):
            if obj.class_id == CLASS_CLOCK and result.error is None:
                clock_drift = meter_clock_drift(result.value, read_at)
                inverted = meter_deviation_inverted(result.value, read_at)
                if inverted is not None:
                    self._sign.inverted = inverted
        return clock_drift


class SessionValues:
    """The values one session reads: of the objects whose entities are enabled (with the inputs
    of the computed ones), those due; the live ones first, in a request of their own, when others
    follow and ``live_first`` (Home Assistant shows them while the others are read), and again at
    the end when the others took so long that the next poll could not read them within their
    interval and ``line_has_room`` (no other poll waits for the line)."""

    def __init__(
        self,
        discovery: MeterDiscovery,
        enabled: Container[str],
        sign: DeviationSign,
        *,
        live_first: bool,
        line_has_room: Callable[[], bool] = lambda: False,
    ) -> None:
        """Name the objects wanted of what ``discovery`` confirmed; ``sign`` is the meter's."""
        self._discovery = discovery
        self._sign = sign
        self._live_first = live_first
        self._line_has_room = line_has_room
        self._computed = [c for c in COMPUTED.values() if c.key in enabled]
        inputs = {key for c in self._computed for key in c.requires}
        self._wanted = [key for key in discovery.objects if key in enabled or key in inputs]
        self.read: set[str] = set()
        """The objects read (and computed) in the session, every step's."""
        self.undefined: list[str] = []
        """Confirmed objects the meter answered object-undefined: it changed."""

    async def async_read(
        self,
        session: MeterSession,
        schedule: ReadSchedule,
        started: datetime,
        last: MeterReading | None,
        show: Callable[[MeterReading], None],
    ) -> MeterReading:
        """Read what ``schedule`` says is due at ``started``, step by step, each step's values
        laid over ``last`` and the steps before; ``show`` gets the reading between two steps."""
        plan = schedule.plan(started, self._wanted, FRESHNESS)
        first, *rest = plan.steps(FRESHNESS) if self._live_first else [plan.keys]
        reading = await self._async_step(session, first, last)
        for keys in rest:
            show(reading)
            reading = await self._async_step(session, keys, reading)
        schedule.done(plan, started, self.read)
        again = dt_util.utcnow()
        if rest and schedule.live_again(started, again) and self._line_has_room():
            show(reading)
            reading = await self._async_step(session, first, reading)
            schedule.read({Freshness.LIVE}, again)
        return reading

    async def _async_step(
        self, session: MeterSession, keys: Container[str], last: MeterReading | None
    ) -> MeterReading:
        """One request's values (of ``keys``) over ``last``."""
        reads = ValueReads(self._discovery, keys, self._sign, self._computed)
        fresh = reads.reading(await session.read_attributes(reads.refs), dt_util.utcnow())
        self.read |= fresh.read
        self.undefined += reads.undefined
        return fresh.after(last)


def computed_unit(discovery: MeterDiscovery, known: KnownObject) -> ScalerUnit | None:
    """The scaler_unit of a computed object: its inputs' unit in the finer of their scalers
    (None while an input is unconfirmed, or when their units differ)."""
    units = [discovery.scaler_units.get(key) for key in known.requires]
    if any(unit is None for unit in units) or len({u.unit for u in units if u}) != 1:
        return None
    return ScalerUnit(min(u.scaler for u in units if u), units[0].unit if units[0] else 0)


def difference(first: Measured, second: Measured, unit: ScalerUnit) -> Measured:
    """``first`` minus ``second`` (unknown when either is): the net power, import - export."""
    if isinstance(first.value, Decimal) and isinstance(second.value, Decimal):
        return Measured(first.value - second.value, unit)
    return Measured(None, unit)


def register_value(
    value: Any, scaler_unit: ScalerUnit, inverted_deviation: bool = False
) -> Decimal | datetime | None:
    """A register's value: a number scaled, a date-time (a naive one is local time), else None."""
    if (raw := as_number(value)) is not None:
        return scaler_unit.scale(raw)
    try:
        # The meter's deviation sign, as its clock showed it (the standard's until then): the
        # "closer to now" guess of the clock would always pick the later of the two readings
        # of a past time stamp.
        stamp = as_datetime(value, inverted=inverted_deviation)
    except OverflowError, ValueError:
        return None
    if stamp is not None and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt_util.get_default_time_zone())
    return stamp


def meter_deviation_inverted(value: Any, read_at: datetime) -> bool | None:
    """Whether the meter's clock writes its deviation with the sign opposite to the standard's
    (judged as the clock drift is: the reading nearer the moment of reading); None when its
    deviation cannot tell."""
    try:
        stamp = as_cosem_datetime(value)
        return None if stamp is None else stamp.inverted_deviation(read_at)
    except DlmsError, OverflowError, ValueError:
        return None


def meter_clock_drift(value: Any, read_at: datetime) -> int | None:
    """Seconds the meter clock is ahead of Home Assistant (a naive clock is local time)."""
    try:
        meter_time = as_datetime(value, near=read_at)
        if meter_time is None:
            return None
        if meter_time.tzinfo is None:
            meter_time = meter_time.replace(tzinfo=dt_util.get_default_time_zone())
        return round((meter_time - read_at).total_seconds())  # whole seconds, as the meter keeps
    except OverflowError:  # a clock at year 1 or 9999 with a deviation: no drift to show
        return None
