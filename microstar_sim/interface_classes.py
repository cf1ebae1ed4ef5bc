"""COSEM interface classes the Microstar meter uses (1, 3, 4, 5, 7, 8, 15, 23), as readable objects.

Each object answers ``read(attribute, view, selection)`` with tagged A-XDR ``Data`` or raises
``DataAccessError``; ``view`` is the meter at the instant of the request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from custom_components.microstar_dlms.dlms.axdr import (
    BitString,
    CosemDateTime,
    Data,
    DataType,
)
from custom_components.microstar_dlms.dlms.errors import (
    DataAccessError,
    DataAccessResult,
    DecodeError,
)
from custom_components.microstar_dlms.dlms.obis import Obis, Unit

from .measurement import Instant, ProfileEntry, Registers

LN_NO_CIPHERING = bytes.fromhex("60857405080101")
LLS_MECHANISM = bytes.fromhex("60857405080201")


@dataclass(frozen=True, slots=True)
class AssociationView:
    """The association a request arrives on (what class 15 reports about itself)."""

    client_sap: int
    server_sap: int
    conformance: int
    client_max_pdu: int
    server_max_pdu: int
    authenticated: bool
    read_only: bool


@dataclass(frozen=True, slots=True)
class MeterView:
    """The meter at the instant of one request."""

    utc: datetime
    utc_offset: timedelta
    instant: Instant
    registers: Registers
    association: AssociationView | None
    objects: Sequence[CosemObject]
    hdlc_max_info: int
    hdlc_address: int
    inactivity_timeout: float
    inverted_deviation: bool = False  # the date-times' deviation with the sign many meters use

    @property
    def local(self) -> datetime:
        """Meter local time with its UTC offset."""
        return self.utc.astimezone(timezone(self.utc_offset))

    def date_time(self, utc: datetime) -> Data:
        """A COSEM date-time octet-string of ``utc`` in meter local time."""
        local = utc.astimezone(timezone(self.utc_offset))
        stamp = CosemDateTime.from_datetime(local)
        if self.inverted_deviation and stamp.deviation is not None:
            stamp = replace(stamp, deviation=-stamp.deviation)
        return Data.octet_string(stamp.encode())


@dataclass(frozen=True, slots=True)
class Selection:
    """Selective access of a GET: selector and its parameters."""

    selector: int
    parameters: Data


def undefined() -> DataAccessError:
    """The answer to an attribute or object that does not exist."""
    return DataAccessError(DataAccessResult.OBJECT_UNDEFINED)


def _u8(value: int) -> Data:
    return Data(DataType.UNSIGNED, value)


def _u16(value: int) -> Data:
    return Data(DataType.LONG_UNSIGNED, value)


def _u32(value: int) -> Data:
    return Data(DataType.DOUBLE_LONG_UNSIGNED, value)


def _enum(value: int) -> Data:
    return Data(DataType.ENUM, value)


def _int8(value: int) -> Data:
    return Data(DataType.INTEGER, value)


NULL = Data(DataType.NULL_DATA)


class CosemObject(ABC):
    """One COSEM object: class, version, logical name and readable attributes."""

    class_id: int
    version: int = 0
    attribute_count: int
    method_count: int = 0

    def __init__(self, obis: Obis) -> None:
        """``obis`` is the logical name (attribute 1)."""
        self.obis = obis

    def read(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """Attribute value; raises DataAccessError."""
        if selection is not None and selection.selector not in self.access_selectors(attribute):
            raise DataAccessError(DataAccessResult.SCOPE_OF_ACCESS_VIOLATED)
        if attribute == 1:
            return Data.octet_string(self.obis.to_bytes())
        if not 1 <= attribute <= self.attribute_count:
            raise undefined()
        return self.read_attribute(attribute, view, selection)

    @abstractmethod
    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """Attribute 2 and up."""

    def access_selectors(self, attribute: int) -> tuple[int, ...]:
        """Selective-access selectors an attribute supports."""
        return ()

    def writable(self, attribute: int) -> bool:
        """Whether the object list advertises write access (the simulator refuses SET anyway)."""
        return False

    def readable(self, attribute: int) -> bool:
        """Whether the object list advertises read access."""
        return True

    def object_list_entry(self) -> Data:
        """This object's entry in the association's object_list (class 15 attribute 2)."""
        attributes = []
        for attr in range(1, self.attribute_count + 1):
            mode = (1 if self.readable(attr) else 0) | (2 if self.writable(attr) else 0)
            selectors = self.access_selectors(attr)
            attributes.append(
                Data.structure(
                    _int8(attr),
                    _enum(mode),
                    Data.array(*(_int8(s) for s in selectors)) if selectors else NULL,
                )
            )
        methods = [Data.structure(_int8(m), _enum(1)) for m in range(1, self.method_count + 1)]
        return Data.structure(
            _u16(self.class_id),
            _u8(self.version),
            Data.octet_string(self.obis.to_bytes()),
            Data.structure(Data.array(*attributes), Data.array(*methods)),
        )


class DataObject(CosemObject):
    """Class 1 Data: a value."""

    class_id = 1
    attribute_count = 2

    def __init__(self, obis: Obis, value: Callable[[MeterView], Data]) -> None:
        """``value`` computes attribute 2."""
        super().__init__(obis)
        self._value = value

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """Attribute 2: the value."""
        return self._value(view)


@dataclass(frozen=True, slots=True)
class Quantity:
    """How a register encodes its reading: A-XDR type, scaler, unit, and the reading itself."""

    dtype: DataType
    scaler: int
    unit: Unit
    reading: Callable[[MeterView], float]

    def raw(self, view: MeterView) -> int:
        """The reading as the integer the meter sends (value / 10^scaler)."""
        return round(self.reading(view) / 10.0**self.scaler)

    def scaler_unit(self) -> Data:
        """Attribute 3: structure {integer scaler, enum unit}."""
        return Data.structure(_int8(self.scaler), _enum(int(self.unit)))


class RegisterObject(CosemObject):
    """Class 3 Register: value and scaler_unit (method 1 reset)."""

    class_id = 3
    attribute_count = 3
    method_count = 1

    def __init__(self, obis: Obis, quantity: Quantity) -> None:
        """A register measuring ``quantity``."""
        super().__init__(obis)
        self.quantity = quantity

    def value(self, view: MeterView) -> Data:
        """Attribute 2."""
        return Data(self.quantity.dtype, self.quantity.raw(view))

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """Value or scaler_unit."""
        if attribute == 2:
            return self.value(view)
        return self.quantity.scaler_unit()


class ExtendedRegisterObject(RegisterObject):
    """Class 4 Extended register: adds status and capture_time (max demand with its time)."""

    class_id = 4
    attribute_count = 5

    def __init__(
        self, obis: Obis, quantity: Quantity, captured: Callable[[MeterView], datetime | None]
    ) -> None:
        """``captured`` gives when the value was captured (None: not yet)."""
        super().__init__(obis, quantity)
        self._captured = captured

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """Adds status (4) and capture_time (5)."""
        if attribute == 4:
            return _u8(0)
        if attribute == 5:
            at = self._captured(view)
            if at is None:
                return Data.octet_string(bytes([0xFF] * 9) + b"\x80\x00\xff")
            return view.date_time(at)
        return super().read_attribute(attribute, view, selection)


class DemandRegisterObject(CosemObject):
    """Class 5 Demand register: average import power of the running and the last period."""

    class_id = 5
    attribute_count = 9
    method_count = 2

    def __init__(self, obis: Obis, scaler: int = 0, unit: Unit = Unit.WATT) -> None:
        """Average active import power over the meter's demand period."""
        super().__init__(obis)
        self._scaler = scaler
        self._unit = unit

    def _raw(self, watts: float) -> Data:
        return Data(DataType.DOUBLE_LONG_UNSIGNED, round(watts / 10.0**self._scaler))

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """current_average 2, last_average 3, scaler_unit 4, status 5, times 6/7, period 8/9."""
        registers = view.registers
        start = registers.period_start or view.utc
        match attribute:
            case 2:
                return self._raw(registers.current_average_w)
            case 3:
                return self._raw(registers.last_average_w)
            case 4:
                return Data.structure(_int8(self._scaler), _enum(int(self._unit)))
            case 5:
                return _u8(0)
            case 6:
                return view.date_time(start)
            case 7:
                return view.date_time(start)
            case 8:
                return _u32(registers.demand_period)
            case _:
                return _u16(1)


class ClockObject(CosemObject):
    """Class 8 Clock: local date-time, time zone, status, DST, base."""

    class_id = 8
    attribute_count = 9
    method_count = 6

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """time 2, time_zone 3, status 4, DST begin/end 5/6, deviation 7, enabled 8, base 9."""
        match attribute:
            case 2:
                return view.date_time(view.utc)
            case 3:
                # IEC 62056-6-2: minutes of local time *behind* UTC (CET is -60).
                return Data(DataType.LONG, -int(view.utc_offset.total_seconds() // 60))
            case 4:
                return _u8(0)
            case 5:  # last Sunday of March, 02:00
                return Data.octet_string(bytes.fromhex("FFFF03FE07020000008000FF"))
            case 6:  # last Sunday of October, 03:00
                return Data.octet_string(bytes.fromhex("FFFF0AFE07030000008000FF"))
            case 7:
                return _int8(0)
            case 8:
                return Data(DataType.BOOLEAN, False)
            case _:
                return _enum(1)  # internal crystal

    def writable(self, attribute: int) -> bool:
        """Time and zone are settable by the LLS client in the real meter."""
        return attribute in (2, 3)


@dataclass(frozen=True, slots=True)
class CaptureObject:
    """One column of a profile: which object attribute it captures."""

    class_id: int
    obis: Obis
    attribute: int
    value: Callable[[MeterView, ProfileEntry], Data]

    def definition(self) -> Data:
        """{class_id, logical_name, attribute_index, data_index}."""
        return Data.structure(
            _u16(self.class_id),
            Data.octet_string(self.obis.to_bytes()),
            _int8(self.attribute),
            _u16(0),
        )


class ProfileGenericObject(CosemObject):
    """Class 7 Profile generic: a growing buffer, read whole, by range (1) or by entry (2)."""

    class_id = 7
    version = 1
    attribute_count = 8
    method_count = 2

    def __init__(self, obis: Obis, columns: Sequence[CaptureObject], period: int) -> None:
        """A load profile capturing ``columns`` every ``period`` seconds."""
        super().__init__(obis)
        self.columns = tuple(columns)
        self.period = period

    def access_selectors(self, attribute: int) -> tuple[int, ...]:
        """The buffer supports range and entry descriptors."""
        return (1, 2) if attribute == 2 else ()

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """buffer 2, capture_objects 3, capture_period 4, sort 5/6, entries 7/8."""
        entries = view.registers.profile
        match attribute:
            case 2:
                return self._buffer(view, entries, selection)
            case 3:
                return Data.array(*(c.definition() for c in self.columns))
            case 4:
                return _u32(self.period)
            case 5:
                return _enum(1)  # fifo
            case 6:
                return Data.structure(_u16(0), Data.octet_string(bytes(6)), _int8(0), _u16(0))
            case 7:
                return _u32(len(entries))
            case _:
                return _u32(view.registers.profile_capacity)

    def _buffer(
        self, view: MeterView, entries: Sequence[ProfileEntry], selection: Selection | None
    ) -> Data:
        columns: Sequence[CaptureObject] = self.columns
        rows = list(entries)
        if selection is not None:
            rows, columns = self._select(view, rows, selection)
        return Data.array(*(Data.structure(*(c.value(view, row) for c in columns)) for row in rows))

    def _select(
        self, view: MeterView, rows: list[ProfileEntry], selection: Selection
    ) -> tuple[list[ProfileEntry], Sequence[CaptureObject]]:
        params = selection.parameters.value
        if not isinstance(params, tuple) or len(params) != 4:
            raise DataAccessError(DataAccessResult.OTHER_REASON, "bad access parameters")
        if selection.selector == 1:
            start = _selection_time(params[1], view)
            end = _selection_time(params[2], view)
            chosen = [r for r in rows if start <= r.at <= end]
            wanted = params[3].value
            columns: Sequence[CaptureObject] = self.columns
            if isinstance(wanted, tuple) and wanted:
                columns = [self._column(item) for item in wanted]
            return chosen, columns
        first, last, first_col, last_col = (p.value for p in params)
        if not all(isinstance(v, int) for v in (first, last, first_col, last_col)):
            raise DataAccessError(DataAccessResult.OTHER_REASON, "bad entry descriptor")
        assert isinstance(first, int)
        assert isinstance(last, int)
        assert isinstance(first_col, int)
        assert isinstance(last_col, int)
        last = last or len(rows)
        last_col = last_col or len(self.columns)
        return rows[max(first, 1) - 1 : last], self.columns[max(first_col, 1) - 1 : last_col]

    def _column(self, definition: Data) -> CaptureObject:
        parts = definition.value
        if isinstance(parts, tuple) and len(parts) >= 3:
            ln = parts[1].value
            for column in self.columns:
                if (
                    isinstance(ln, bytes)
                    and column.obis.to_bytes() == ln
                    and column.attribute == parts[2].value
                ):
                    return column
        raise DataAccessError(DataAccessResult.OTHER_REASON, "unknown capture object selected")


def _selection_time(value: Data, view: MeterView) -> datetime:
    """A range bound: a date-time octet-string (or DATE_TIME) in meter local time if no zone."""
    raw = value.value
    if isinstance(raw, bytes):
        try:
            stamp = CosemDateTime.decode(raw)
        except DecodeError as err:
            raise DataAccessError(DataAccessResult.OTHER_REASON, str(err)) from None
    elif isinstance(raw, CosemDateTime):
        stamp = raw
    else:
        raise DataAccessError(DataAccessResult.OTHER_REASON, "range bound is not a date-time")
    moment = stamp.to_datetime()
    if moment is None:
        raise DataAccessError(DataAccessResult.OTHER_REASON, "range bound is not a concrete time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(view.utc_offset))
    return moment


def conformance_bits(value: int) -> Data:
    """The 24-bit conformance block as a bit-string."""
    return Data(DataType.BIT_STRING, BitString(value.to_bytes(3, "big"), 24))


class AssociationLnObject(CosemObject):
    """Class 15 Association LN (version 1): object_list and what this association is."""

    class_id = 15
    version = 1
    attribute_count = 9
    method_count = 2

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """object_list 2, partners 3, context 4/5, mechanism 6, secret 7, status 8, security 9."""
        association = view.association
        match attribute:
            case 2:
                return Data.array(*(o.object_list_entry() for o in view.objects))
            case 3:
                sap = association.client_sap if association else 0
                return Data.structure(_int8(sap), _u16(view.hdlc_address))
            case 4:
                return Data.octet_string(LN_NO_CIPHERING)
            case 5:
                if association is None:
                    raise DataAccessError(DataAccessResult.OBJECT_UNAVAILABLE)
                return Data.structure(
                    conformance_bits(association.conformance),
                    _u16(association.server_max_pdu),
                    _u16(association.client_max_pdu),
                    _u8(6),
                    _int8(0),
                    Data.octet_string(b""),
                )
            case 6:
                authenticated = association is not None and association.authenticated
                return Data.octet_string(LLS_MECHANISM if authenticated else b"")
            case 7:
                raise DataAccessError(DataAccessResult.READ_WRITE_DENIED)
            case 8:
                return _enum(2)  # associated
            case _:
                return Data.octet_string(b"")

    def readable(self, attribute: int) -> bool:
        """The secret is never readable."""
        return attribute != 7


class HdlcSetupObject(CosemObject):
    """Class 23 IEC HDLC setup: the line the meter speaks (speed, windows, sizes, timeouts)."""

    class_id = 23
    version = 1
    attribute_count = 9

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """comm_speed 2, windows 3/4, max info 5/6, inter-octet 7, inactivity 8, address 9."""
        match attribute:
            case 2:
                return _enum(5)  # 9600 baud
            case 3 | 4:
                return _u8(1)
            case 5 | 6:
                return _u16(view.hdlc_max_info)
            case 7:
                return _u16(25)
            case 8:
                return _u16(round(view.inactivity_timeout))
            case _:
                return _u16(view.hdlc_address)
