"""A-XDR data of every COSEM type, and the COSEM date-time layout."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.microstar_dlms.dlms.axdr import (
    BitString,
    CompactArray,
    CosemDate,
    CosemDateTime,
    CosemTime,
    Data,
    DataType,
    TypeDescription,
    encode_length,
)
from custom_components.microstar_dlms.dlms.errors import DecodeError, EncodeError

CLOCK = CosemDateTime(CosemDate(2024, 3, 31, 7), CosemTime(2, 30, 5, 0), -60, 0x80)

SAMPLES = [
    (Data(DataType.NULL_DATA), "00"),
    (Data(DataType.BOOLEAN, True), "03 01"),
    (Data(DataType.BIT_STRING, BitString(b"\xa0", 3)), "04 03 a0"),
    (Data(DataType.DOUBLE_LONG, -2), "05 ff ff ff fe"),
    (Data(DataType.DOUBLE_LONG_UNSIGNED, 230_01), "06 00 00 59 d9"),
    (Data.octet_string(b"\x01\x02"), "09 02 01 02"),
    (Data(DataType.VISIBLE_STRING, "MS1234"), "0a 06 4d 53 31 32 33 34"),
    (Data(DataType.UTF8_STRING, "Ω"), "0c 02 ce a9"),
    (Data(DataType.BCD, 0x42), "0d 42"),
    (Data(DataType.INTEGER, -3), "0f fd"),
    (Data(DataType.LONG, -300), "10 fe d4"),
    (Data(DataType.UNSIGNED, 200), "11 c8"),
    (Data(DataType.LONG_UNSIGNED, 50000), "12 c3 50"),
    (Data(DataType.LONG64, -1), "14 ff ff ff ff ff ff ff ff"),
    (Data(DataType.LONG64_UNSIGNED, 2**64 - 1), "15 ff ff ff ff ff ff ff ff"),
    (Data(DataType.ENUM, 33), "16 21"),
    (Data(DataType.FLOAT32, 1.5), "17 3f c0 00 00"),
    (Data(DataType.FLOAT64, -0.25), "18 bf d0 00 00 00 00 00 00"),
    (Data(DataType.DATE_TIME, CLOCK), "19 07 e8 03 1f 07 02 1e 05 00 ff c4 80"),
    (Data(DataType.DATE, CosemDate(None, 12, 254, None)), "1a ff ff 0c fe ff"),
    (Data(DataType.TIME, CosemTime(23, 59, None, None)), "1b 17 3b ff ff"),
    (Data(DataType.DELTA_INTEGER, -1), "1c ff"),
    (Data(DataType.DONT_CARE), "ff"),
    (
        Data.structure(Data(DataType.INTEGER, -3), Data(DataType.ENUM, 33)),
        "02 02 0f fd 16 21",
    ),
    (Data.array(Data(DataType.UNSIGNED, 1), Data(DataType.UNSIGNED, 2)), "01 02 11 01 11 02"),
]


@pytest.mark.parametrize(("data", "wire"), SAMPLES)
def test_encode_decode_every_type(data: Data, wire: str) -> None:
    """Each type encodes to the expected bytes and decodes back to the same tagged value."""
    raw = bytes.fromhex(wire)
    assert data.encode() == raw
    assert Data.decode(raw) == data


def test_scaler_unit_to_python() -> None:
    """The field's scaler_unit {-3, A} becomes [-3, 33]."""
    assert Data.decode(bytes.fromhex("02 02 0F FD 16 21")).to_python() == [-3, 33]


def test_compact_array_round_trip() -> None:
    """A compact-array of structures {long-unsigned, integer}: tags once, values packed."""
    description = TypeDescription(
        DataType.STRUCTURE,
        (TypeDescription(DataType.LONG_UNSIGNED), TypeDescription(DataType.INTEGER)),
    )
    elements = tuple(
        Data.structure(Data(DataType.LONG_UNSIGNED, n), Data(DataType.INTEGER, -n)) for n in (1, 2)
    )
    data = Data(DataType.COMPACT_ARRAY, CompactArray(description, elements))
    raw = data.encode()
    assert raw == bytes.fromhex("13 02 02 12 0f 06 00 01 ff 00 02 fe")
    assert Data.decode(raw) == data
    assert data.to_python() == [[1, -1], [2, -2]]


def test_long_lengths() -> None:
    """Octet strings of 128+ bytes use 0x81/0x82 length prefixes."""
    assert encode_length(127) == b"\x7f"
    assert encode_length(128) == b"\x81\x80"
    assert encode_length(300) == b"\x82\x01\x2c"
    data = Data.octet_string(bytes(300))
    assert Data.decode(data.encode()) == data


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "07",
        "09 05 01 02",
        "01 ff",
        "02 02 0f",
        "0c 02 ff fe",
        "13 00",
        "13 02 01 00 01 05",  # structure of null-data: zero-size elements
        "13 01 ff ff 00 02 00 00",  # array of 65535 null-data
        "13 13",
        "09 85 00 00 00 00 01",
        "03 01 00",  # trailing byte
        "02 01" * 40 + "00",  # nesting bomb
    ],
)
def test_malformed_data_raises_decode_error(wire: str) -> None:
    """Truncated, unknown, zero-size and nested-too-deep data all raise DecodeError."""
    with pytest.raises(DecodeError):
        Data.decode(bytes.fromhex(wire))


@pytest.mark.parametrize(
    "data",
    [
        Data(DataType.INTEGER, 200),
        Data(DataType.UNSIGNED, -1),
        Data(DataType.BOOLEAN, 1),
        Data(DataType.OCTET_STRING, "text"),
        Data(DataType.VISIBLE_STRING, "Ω"),
        Data(DataType.STRUCTURE, [1]),
        Data(DataType.NULL_DATA, 0),
        Data(DataType.BIT_STRING, BitString(b"\x00\x00", 3)),
    ],
)
def test_values_that_do_not_fit_raise_encode_error(data: Data) -> None:
    """Out-of-range or mistyped values raise EncodeError, never a bare Python error."""
    with pytest.raises(EncodeError):
        data.encode()


def test_cosem_datetime_to_and_from_datetime() -> None:
    """Deviation -60 is CET (UTC+1): local = UTC - deviation."""
    value = CLOCK.to_datetime()
    assert value == datetime(2024, 3, 31, 2, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    back = CosemDateTime.from_datetime(value, clock_status=0x80)
    assert back == CLOCK
    assert CosemDateTime.from_datetime(datetime(2024, 1, 1, tzinfo=UTC)).deviation == 0


def test_cosem_datetime_not_specified_fields() -> None:
    """All-0xFF date-time (and deviation 0x8000) is not a concrete instant."""
    raw = bytes.fromhex("ff ff ff ff ff ff ff ff ff 80 00 ff")
    value = CosemDateTime.decode(raw)
    assert value.date.year is None
    assert value.deviation is None
    assert value.to_datetime() is None
    assert value.encode() == raw


def test_bit_string_text() -> None:
    """Bits print most significant first."""
    assert str(BitString(b"\xa0", 3)) == "101"


def test_compact_array_of_mostly_empty_fields_cannot_amplify() -> None:
    """2 kB whose elements are structures of 1000 null-data and one unsigned would decode to a
    million values; the value budget (a few per input byte) refuses it instead."""
    description = bytes([0x02, 0x82, 0x03, 0xE9]) + bytes(1000) + bytes([0x11])
    wire = bytes([0x13]) + description + bytes([0x82, 0x03, 0xE8]) + bytes(1000)
    with pytest.raises(DecodeError, match="more values than its size"):
        Data.decode(wire)


def test_value_budget_allows_real_data() -> None:
    """An array of 500 null-data (one value per byte) and a compact array of pairs decode."""
    nulls = Data.array(*(Data(DataType.NULL_DATA) for _ in range(500)))
    assert Data.decode(nulls.encode()) == nulls
    pair = TypeDescription(
        DataType.STRUCTURE, (TypeDescription(DataType.UNSIGNED), TypeDescription(DataType.UNSIGNED))
    )
    elements = tuple(
        Data.structure(Data(DataType.UNSIGNED, n % 256), Data(DataType.UNSIGNED, 1))
        for n in range(1000)
    )
    compact = Data(DataType.COMPACT_ARRAY, CompactArray(pair, elements))
    assert Data.decode(compact.encode()) == compact
