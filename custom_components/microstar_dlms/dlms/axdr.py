"""A-XDR encoding of COSEM data (IEC 62056-6-2 / 5-3) and the COSEM date and time layouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import IntEnum
import struct

from .errors import DecodeError, EncodeError

MAX_NESTING = 16  # deeper data is not COSEM a meter sends; stops recursion bombs


class DataType(IntEnum):
    """Tags of the COSEM ``Data`` CHOICE."""

    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27
    DELTA_INTEGER = 28
    DELTA_LONG = 29
    DELTA_DOUBLE_LONG = 30
    DELTA_UNSIGNED = 31
    DELTA_LONG_UNSIGNED = 32
    DELTA_DOUBLE_LONG_UNSIGNED = 33
    DONT_CARE = 255


# Fixed-size integers: (byte width, signed).
_INTEGERS: dict[DataType, tuple[int, bool]] = {
    DataType.DOUBLE_LONG: (4, True),
    DataType.DOUBLE_LONG_UNSIGNED: (4, False),
    DataType.BCD: (1, False),
    DataType.INTEGER: (1, True),
    DataType.LONG: (2, True),
    DataType.UNSIGNED: (1, False),
    DataType.LONG_UNSIGNED: (2, False),
    DataType.LONG64: (8, True),
    DataType.LONG64_UNSIGNED: (8, False),
    DataType.ENUM: (1, False),
    DataType.DELTA_INTEGER: (1, True),
    DataType.DELTA_LONG: (2, True),
    DataType.DELTA_DOUBLE_LONG: (4, True),
    DataType.DELTA_UNSIGNED: (1, False),
    DataType.DELTA_LONG_UNSIGNED: (2, False),
    DataType.DELTA_DOUBLE_LONG_UNSIGNED: (4, False),
}


# -- lengths ------------------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    """A-XDR/BER length: one byte below 128, else 0x8N followed by N bytes."""
    if length < 0:
        raise EncodeError(f"negative length {length}")
    if length < 0x80:
        return bytes([length])
    width = (length.bit_length() + 7) // 8
    if width > 4:
        raise EncodeError(f"length {length} too large")
    return bytes([0x80 | width]) + length.to_bytes(width, "big")


VALUES_PER_BYTE = 4  # decoded values allowed per input byte (plus a small constant)


class Reader:
    """A bounds-checked cursor over bytes; every read raises DecodeError past the end.

    It also carries a budget of decoded values proportional to the input, so no input can
    expand into more values than a few per byte (a compact-array of zero-size fields would).
    """

    __slots__ = ("_budget", "data", "pos")

    def __init__(self, data: bytes, pos: int = 0, budget: list[int] | None = None) -> None:
        self.data = data
        self.pos = pos
        self._budget = budget if budget is not None else [VALUES_PER_BYTE * len(data) + 16]

    def child(self, data: bytes) -> Reader:
        """A reader over a nested byte string sharing this reader's value budget."""
        return Reader(data, 0, self._budget)

    def spend(self) -> None:
        """Account for one decoded value."""
        self._budget[0] -= 1
        if self._budget[0] < 0:
            raise DecodeError("data expands into more values than its size allows")

    @property
    def remaining(self) -> int:
        """Bytes not yet read."""
        return len(self.data) - self.pos

    def take(self, count: int) -> bytes:
        """Read ``count`` bytes."""
        if count < 0 or self.pos + count > len(self.data):
            raise DecodeError(
                f"data ends early: need {count} bytes at offset {self.pos}, {self.remaining} left"
            )
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def byte(self) -> int:
        """Read one unsigned byte."""
        return self.take(1)[0]

    def uint(self, width: int) -> int:
        """Read a big-endian unsigned integer."""
        return int.from_bytes(self.take(width), "big")

    def length(self) -> int:
        """Read an A-XDR/BER length and check it against the bytes left."""
        first = self.byte()
        if first < 0x80:
            value = first
        else:
            width = first & 0x7F
            if width == 0 or width > 4:
                raise DecodeError(f"invalid length prefix 0x{first:02X}")
            value = self.uint(width)
        return value

    def sized(self) -> bytes:
        """Read a length-prefixed byte string."""
        return self.take(self.length())


# -- date and time -----------------------------------------------------------------------------

_NOT_SPECIFIED = 0xFF
_DEVIATION_NOT_SPECIFIED = -0x8000


def _opt(value: int) -> int | None:
    return None if value == _NOT_SPECIFIED else value


def _raw(value: int | None) -> int:
    return _NOT_SPECIFIED if value is None else value


@dataclass(frozen=True, slots=True)
class CosemDate:
    """COSEM date (5 bytes); None marks a field 'not specified' (0xFF / 0xFFFF)."""

    year: int | None
    month: int | None  # 0xFD/0xFE (253/254) mean DST end/begin
    day: int | None  # 0xFD/0xFE (253/254) mean second-last/last day of month
    weekday: int | None  # 1 = Monday

    def encode(self) -> bytes:
        """Return the 5 octets."""
        year = 0xFFFF if self.year is None else self.year
        try:
            return year.to_bytes(2, "big") + bytes(
                [_raw(self.month), _raw(self.day), _raw(self.weekday)]
            )
        except (OverflowError, ValueError) as err:
            raise EncodeError(f"invalid COSEM date {self}: {err}") from None

    @classmethod
    def decode(cls, data: bytes) -> CosemDate:
        """Parse 5 octets."""
        if len(data) != 5:
            raise DecodeError(f"COSEM date needs 5 bytes, got {len(data)}")
        year = int.from_bytes(data[:2], "big")
        return cls(None if year == 0xFFFF else year, _opt(data[2]), _opt(data[3]), _opt(data[4]))

    def to_date(self) -> date | None:
        """A ``date`` when year, month and day are concrete, else None."""
        if self.year is None or self.month is None or self.day is None:
            return None
        try:
            return date(self.year, self.month, self.day)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class CosemTime:
    """COSEM time (4 bytes); None marks a field 'not specified'."""

    hour: int | None
    minute: int | None
    second: int | None
    hundredths: int | None

    def encode(self) -> bytes:
        """Return the 4 octets."""
        try:
            return bytes(
                [_raw(self.hour), _raw(self.minute), _raw(self.second), _raw(self.hundredths)]
            )
        except ValueError as err:
            raise EncodeError(f"invalid COSEM time {self}: {err}") from None

    @classmethod
    def decode(cls, data: bytes) -> CosemTime:
        """Parse 4 octets."""
        if len(data) != 4:
            raise DecodeError(f"COSEM time needs 4 bytes, got {len(data)}")
        return cls(_opt(data[0]), _opt(data[1]), _opt(data[2]), _opt(data[3]))

    def to_time(self) -> time | None:
        """A ``time`` when hour and minute are concrete, else None."""
        if self.hour is None or self.minute is None:
            return None
        try:
            return time(self.hour, self.minute, self.second or 0, (self.hundredths or 0) * 10_000)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class CosemDateTime:
    """COSEM date-time (12 bytes): date, time, deviation in minutes and clock status.

    ``deviation`` follows IEC 62056-6-2: local time = UTC - deviation (CET is -60).
    """

    date: CosemDate
    time: CosemTime
    deviation: int | None = None
    clock_status: int | None = None

    def encode(self) -> bytes:
        """Return the 12 octets."""
        deviation = _DEVIATION_NOT_SPECIFIED if self.deviation is None else self.deviation
        try:
            tail = deviation.to_bytes(2, "big", signed=True) + bytes([_raw(self.clock_status)])
        except (OverflowError, ValueError) as err:
            raise EncodeError(f"invalid COSEM date-time {self}: {err}") from None
        return self.date.encode() + self.time.encode() + tail

    @classmethod
    def decode(cls, data: bytes) -> CosemDateTime:
        """Parse 12 octets."""
        if len(data) != 12:
            raise DecodeError(f"COSEM date-time needs 12 bytes, got {len(data)}")
        deviation = int.from_bytes(data[9:11], "big", signed=True)
        return cls(
            CosemDate.decode(data[:5]),
            CosemTime.decode(data[5:9]),
            None if deviation == _DEVIATION_NOT_SPECIFIED else deviation,
            _opt(data[11]),
        )

    @classmethod
    def from_datetime(cls, value: datetime, clock_status: int | None = 0) -> CosemDateTime:
        """Build from a ``datetime``; an aware one carries its UTC offset as deviation."""
        offset = value.utcoffset()
        deviation = None if offset is None else -int(offset.total_seconds() // 60)
        return cls(
            CosemDate(value.year, value.month, value.day, value.isoweekday()),
            CosemTime(value.hour, value.minute, value.second, value.microsecond // 10_000),
            deviation,
            clock_status,
        )

    def to_datetime(
        self, near: datetime | None = None, *, inverted: bool = False
    ) -> datetime | None:
        """A ``datetime`` (aware when the deviation is known) or None when not concrete.

        Many meters encode the deviation with the opposite sign (Gurux has an option for it).
        Given ``near`` (an aware datetime such as the moment of reading), the sign convention
        that lands closer to it is taken; without it, the standard's, or the opposite one with
        ``inverted`` (a meter known to use it, from its clock: ``inverted_deviation``).
        """
        day = self.date.to_date()
        clock = self.time.to_time()
        if day is None or clock is None:
            return None
        if self.deviation is None:
            return datetime.combine(day, clock)
        deviation = -self.deviation if inverted else self.deviation
        signs = (deviation,) if near is None else (deviation, -deviation)
        moments = [
            datetime.combine(day, clock, UTC if d == 0 else timezone(timedelta(minutes=-d)))
            for d in signs
            if -720 <= d <= 840
        ]
        if not moments:
            return None
        if near is None:
            return moments[0]
        return min(moments, key=lambda moment: abs(moment - near))

    def inverted_deviation(self, near: datetime) -> bool | None:
        """Whether this clock reading uses the opposite deviation sign: it lands nearer ``near``
        (the moment of reading) that way. None when its deviation cannot tell (absent or 0)."""
        if not self.deviation:
            return None
        standard = self.to_datetime()
        opposite = self.to_datetime(inverted=True)
        if standard is None or opposite is None:
            return None
        return abs(opposite - near) < abs(standard - near)


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BitString:
    """A bit-string: ``length`` bits, most significant bit of ``data[0]`` first."""

    data: bytes
    length: int

    def __str__(self) -> str:
        """The bits as 0/1 text."""
        bits = "".join(f"{b:08b}" for b in self.data)
        return bits[: self.length]


@dataclass(frozen=True, slots=True)
class TypeDescription:
    """Type of compact-array elements: a simple type, array(count, element) or structure."""

    type: DataType
    elements: tuple[TypeDescription, ...] = ()
    count: int = 0  # array only


@dataclass(frozen=True, slots=True)
class CompactArray:
    """A compact-array: the element type once, then elements without tags."""

    description: TypeDescription
    elements: tuple[Data, ...]


type ScalarValue = (
    bool | int | float | bytes | str | BitString | CosemDateTime | CosemDate | CosemTime
)
"""A value that is not a container."""

type DataValue = ScalarValue | CompactArray | tuple[Data, ...] | None

type PythonValue = ScalarValue | list[PythonValue] | None


@dataclass(frozen=True, slots=True)
class Data:
    """One tagged COSEM value; arrays and structures hold a tuple of Data."""

    type: DataType
    value: DataValue = None

    def to_python(self) -> PythonValue:
        """Drop the tags: arrays, structures and compact arrays become lists."""
        value = self.value
        if isinstance(value, tuple):
            return [item.to_python() for item in value]
        if isinstance(value, CompactArray):
            return [item.to_python() for item in value.elements]
        return value

    def encode(self) -> bytes:
        """A-XDR bytes including the tag."""
        out = bytearray()
        _encode(self, out, with_tag=True)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Data:
        """Decode exactly one tagged value; trailing bytes are an error."""
        reader = Reader(data)
        value = decode_data(reader)
        if reader.remaining:
            raise DecodeError(f"{reader.remaining} unexpected bytes after the data")
        return value

    # Short constructors for servers and tests.
    @classmethod
    def structure(cls, *items: Data) -> Data:
        """A structure of ``items``."""
        return cls(DataType.STRUCTURE, tuple(items))

    @classmethod
    def array(cls, *items: Data) -> Data:
        """An array of ``items``."""
        return cls(DataType.ARRAY, tuple(items))

    @classmethod
    def octet_string(cls, value: bytes) -> Data:
        """An octet-string."""
        return cls(DataType.OCTET_STRING, value)


def _read_type(reader: Reader, depth: int, what: str) -> DataType:
    """The type tag at the reader's position, once the nesting is known to be bounded."""
    if depth > MAX_NESTING:
        raise DecodeError(f"{what} nested deeper than {MAX_NESTING} levels")
    tag = reader.byte()
    try:
        return DataType(tag)
    except ValueError:
        raise DecodeError(f"unknown A-XDR {what} tag {tag} (0x{tag:02X})") from None


def decode_data(reader: Reader, depth: int = 0) -> Data:
    """Decode one tagged value at the reader's position."""
    dtype = _read_type(reader, depth, "data")
    if dtype in (DataType.ARRAY, DataType.STRUCTURE):
        reader.spend()
        count = reader.length()
        if count > reader.remaining:
            raise DecodeError(f"{dtype.name.lower()} of {count} items in {reader.remaining} bytes")
        return Data(dtype, tuple(decode_data(reader, depth + 1) for _ in range(count)))
    if dtype is DataType.COMPACT_ARRAY:
        reader.spend()
        description = _decode_description(reader, depth + 1)
        contents = reader.child(reader.sized())
        elements: list[Data] = []
        while contents.remaining:
            before = contents.remaining
            elements.append(_decode_untagged(contents, description, depth + 1))
            if contents.remaining == before:
                raise DecodeError("compact-array element type has zero size")
        return Data(dtype, CompactArray(description, tuple(elements)))
    return _decode_untagged(reader, TypeDescription(dtype), depth)


def _decode_description(reader: Reader, depth: int) -> TypeDescription:
    dtype = _read_type(reader, depth, "type description")
    if dtype is DataType.ARRAY:
        count = reader.uint(2)
        return TypeDescription(dtype, (_decode_description(reader, depth + 1),), count)
    if dtype is DataType.STRUCTURE:
        count = reader.length()
        if count > reader.remaining:
            raise DecodeError(f"structure description of {count} items in {reader.remaining}")
        items = tuple(_decode_description(reader, depth + 1) for _ in range(count))
        return TypeDescription(dtype, items)
    if dtype is DataType.COMPACT_ARRAY:
        raise DecodeError("a compact-array cannot contain a compact-array")
    return TypeDescription(dtype)


def _decode_untagged(reader: Reader, desc: TypeDescription, depth: int) -> Data:
    """Decode a value whose type is known (used for tagged values and compact arrays)."""
    if depth > MAX_NESTING:
        raise DecodeError(f"data nested deeper than {MAX_NESTING} levels")
    reader.spend()
    dtype = desc.type
    if dtype is DataType.ARRAY:
        element = desc.elements[0]
        if desc.count and _zero_size(element):
            raise DecodeError("compact-array element type has zero size")
        if desc.count > reader.remaining:
            raise DecodeError(f"array of {desc.count} items in {reader.remaining} bytes")
        items = tuple(_decode_untagged(reader, element, depth + 1) for _ in range(desc.count))
        return Data(dtype, items)
    if dtype is DataType.STRUCTURE:
        return Data(dtype, tuple(_decode_untagged(reader, d, depth + 1) for d in desc.elements))
    if dtype in (DataType.NULL_DATA, DataType.DONT_CARE):
        return Data(dtype, None)
    if dtype is DataType.BOOLEAN:
        return Data(dtype, reader.byte() != 0)
    if dtype in _INTEGERS:
        width, signed = _INTEGERS[dtype]
        return Data(dtype, int.from_bytes(reader.take(width), "big", signed=signed))
    if dtype is DataType.BIT_STRING:
        bits = reader.length()
        return Data(dtype, BitString(reader.take((bits + 7) // 8), bits))
    if dtype is DataType.OCTET_STRING:
        return Data(dtype, reader.sized())
    if dtype is DataType.VISIBLE_STRING:
        return Data(dtype, reader.sized().decode("latin-1"))
    if dtype is DataType.UTF8_STRING:
        raw = reader.sized()
        try:
            return Data(dtype, raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise DecodeError(f"invalid utf8-string: {err}") from None
    if dtype is DataType.FLOAT32:
        return Data(dtype, struct.unpack(">f", reader.take(4))[0])
    if dtype is DataType.FLOAT64:
        return Data(dtype, struct.unpack(">d", reader.take(8))[0])
    if dtype is DataType.DATE_TIME:
        return Data(dtype, CosemDateTime.decode(reader.take(12)))
    if dtype is DataType.DATE:
        return Data(dtype, CosemDate.decode(reader.take(5)))
    if dtype is DataType.TIME:
        return Data(dtype, CosemTime.decode(reader.take(4)))
    raise DecodeError(f"cannot decode {dtype.name}")


def _zero_size(desc: TypeDescription) -> bool:
    if desc.type in (DataType.NULL_DATA, DataType.DONT_CARE):
        return True
    if desc.type is DataType.ARRAY:
        return desc.count == 0 or _zero_size(desc.elements[0])
    if desc.type is DataType.STRUCTURE:
        return all(_zero_size(d) for d in desc.elements)
    return False


def _encode_description(desc: TypeDescription, out: bytearray) -> None:
    out.append(desc.type)
    if desc.type is DataType.ARRAY:
        if len(desc.elements) != 1:
            raise EncodeError("an array description needs exactly one element type")
        out += desc.count.to_bytes(2, "big")
        _encode_description(desc.elements[0], out)
    elif desc.type is DataType.STRUCTURE:
        out += encode_length(len(desc.elements))
        for item in desc.elements:
            _encode_description(item, out)


def _encode(data: Data, out: bytearray, *, with_tag: bool) -> None:
    dtype, value = data.type, data.value
    if with_tag:
        out.append(dtype)
    try:
        _encode_value(dtype, value, out, with_tag=with_tag)
    except (OverflowError, struct.error, UnicodeEncodeError) as err:
        raise EncodeError(f"{dtype.name} cannot hold {value!r}: {err}") from None


def _encode_value(dtype: DataType, value: DataValue, out: bytearray, *, with_tag: bool) -> None:
    if dtype in (DataType.ARRAY, DataType.STRUCTURE):
        if not isinstance(value, tuple):
            raise EncodeError(f"{dtype.name} needs a tuple of Data")
        if with_tag:
            out += encode_length(len(value))
        for item in value:
            _encode(item, out, with_tag=with_tag)
    elif dtype is DataType.COMPACT_ARRAY:
        if not isinstance(value, CompactArray):
            raise EncodeError("COMPACT_ARRAY needs a CompactArray")
        _encode_description(value.description, out)
        contents = bytearray()
        for item in value.elements:
            _encode(item, contents, with_tag=False)
        out += encode_length(len(contents)) + contents
    elif dtype in (DataType.NULL_DATA, DataType.DONT_CARE):
        if value is not None:
            raise EncodeError(f"{dtype.name} carries no value")
    elif dtype is DataType.BOOLEAN:
        if not isinstance(value, bool):
            raise EncodeError("BOOLEAN needs a bool")
        out.append(1 if value else 0)
    elif dtype in _INTEGERS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"{dtype.name} needs an int")
        width, signed = _INTEGERS[dtype]
        out += value.to_bytes(width, "big", signed=signed)
    elif dtype is DataType.BIT_STRING:
        if not isinstance(value, BitString) or len(value.data) != (value.length + 7) // 8:
            raise EncodeError("BIT_STRING needs a BitString with matching data length")
        out += encode_length(value.length) + value.data
    elif dtype is DataType.OCTET_STRING:
        if not isinstance(value, bytes):
            raise EncodeError("OCTET_STRING needs bytes")
        out += encode_length(len(value)) + value
    elif dtype in (DataType.VISIBLE_STRING, DataType.UTF8_STRING):
        if not isinstance(value, str):
            raise EncodeError(f"{dtype.name} needs a str")
        raw = value.encode("latin-1" if dtype is DataType.VISIBLE_STRING else "utf-8")
        out += encode_length(len(raw)) + raw
    elif dtype in (DataType.FLOAT32, DataType.FLOAT64):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise EncodeError(f"{dtype.name} needs a float")
        out += struct.pack(">f" if dtype is DataType.FLOAT32 else ">d", value)
    elif dtype is DataType.DATE_TIME:
        if not isinstance(value, CosemDateTime):
            raise EncodeError("DATE_TIME needs a CosemDateTime")
        out += value.encode()
    elif dtype is DataType.DATE:
        if not isinstance(value, CosemDate):
            raise EncodeError("DATE needs a CosemDate")
        out += value.encode()
    elif dtype is DataType.TIME:
        if not isinstance(value, CosemTime):
            raise EncodeError("TIME needs a CosemTime")
        out += value.encode()
    else:  # pragma: no cover - every DataType is handled above
        raise EncodeError(f"cannot encode {dtype.name}")
