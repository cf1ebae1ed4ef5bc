"""One poll's values: what to read, and each value scaled with its unit; clock drift, capture times.

Given what discovery learned and which objects' entities are enabled, ``ValueReads`` names the
attributes a poll reads (the values, then the capture times of extended and demand registers);
from the session's results it makes the ``MeterReading`` the entities show: a register's number
scaled exactly by the scaler_unit learned once, with that unit; a date-time as a ``datetime``;
the meter clock's drift; and which confirmed objects the meter now calls undefined.
"""

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from homeassistant.util import dt as dt_util

from .const import LOGGER
from .cosem import CLASS_CLOCK, UNSCALED, ScalerUnit, as_datetime, as_number
from .discovery import MeterDiscovery
from .dlms import AttributeRef, ReadResult
from .dlms.errors import DataAccessResult


@dataclass(frozen=True, slots=True)
class Measured:
    """One object's value this poll (None: the meter refused it) and the scaler_unit it was
    scaled by (None: the object has none)."""

    value: Decimal | datetime | None
    unit: ScalerUnit | None


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One poll's values by object key (the clock's is its drift)."""

    values: Mapping[str, Measured]
    clock_drift: int | None = None
    capture_times: Mapping[str, datetime] = field(default_factory=dict)
    """When a demand register's value was captured (extended and demand registers)."""


class ValueReads:
    """The reads of one poll: the values of objects whose entities are enabled, one round trip
    each (or one GET-with-list), then their capture times."""

    def __init__(self, discovery: MeterDiscovery, enabled: Container[str]) -> None:
        """Plan the reads of the confirmed objects in ``enabled``."""
        self._serial = discovery.serial
        self._units = discovery.scaler_units
        self._wanted = [obj for key, obj in discovery.objects.items() if key in enabled]
        self._captured = [(obj.key, ref) for obj in self._wanted if (ref := obj.capture_time_ref())]
        self.refs: list[AttributeRef] = [obj.value_ref() for obj in self._wanted]
        self.refs += [ref for _, ref in self._captured]
        self.undefined: list[str] = []
        """Confirmed objects the meter answered object-undefined: it changed."""

    def reading(self, results: Sequence[ReadResult], read_at: datetime) -> MeterReading:
        """The values of ``results`` (answers to ``refs``, read at ``read_at``)."""
        count = len(self._wanted)
        capture_times = {
            key: stamp
            for (key, _), result in zip(self._captured, results[count:], strict=True)
            if result.error is None
            and isinstance(stamp := register_value(result.value, UNSCALED), datetime)
        }
        values: dict[str, Measured] = {}
        clock_drift = None
        for obj, result in zip(self._wanted, results[:count], strict=True):
            unit = self._units.get(obj.key)
            if result.error is not None:
                LOGGER.debug("Meter %s: %s: %s", self._serial, obj.key, result.error)
                values[obj.key] = Measured(None, unit)
                if result.error.result is DataAccessResult.OBJECT_UNDEFINED:
                    self.undefined.append(obj.key)
                continue
            if obj.class_id == CLASS_CLOCK:
                clock_drift = meter_clock_drift(result.value, read_at)
                continue
            values[obj.key] = Measured(register_value(result.value, unit or UNSCALED), unit)
        return MeterReading(values, clock_drift, capture_times)


def register_value(value: Any, scaler_unit: ScalerUnit) -> Decimal | datetime | None:
    """A register's value: a number scaled, a date-time (a naive one is local time), else None."""
    if (raw := as_number(value)) is not None:
        return scaler_unit.scale(raw)
    try:
        # The standard's deviation sign: the "closer to now" guess of the clock would always
        # pick the later of the two readings of a past time stamp.
        stamp = as_datetime(value)
    except OverflowError, ValueError:
        return None
    if stamp is not None and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt_util.get_default_time_zone())
    return stamp


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
