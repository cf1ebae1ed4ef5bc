"""A-XDR edges: values no meter should send and values we must never encode."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.microstar_dlms.dlms.axdr import (
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

ARRAY_OF_LONGS = TypeDescription(DataType.ARRAY, (TypeDescription(DataType.LONG_UNSIGNED),), 2)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (Data(DataType.LONG, "x"), "LONG needs an int"),
        (Data(DataType.VISIBLE_STRING, b"x"), "VISIBLE_STRING needs a str"),
        (Data(DataType.FLOAT32, "1.5"), "FLOAT32 needs a float"),
        (Data(DataType.DATE_TIME, b"\x00" * 12), "DATE_TIME needs a CosemDateTime"),
        (Data(DataType.DATE, b"\x00" * 5), "DATE needs a CosemDate"),
        (Data(DataType.TIME, b"\x00" * 4), "TIME needs a CosemTime"),
        (Data(DataType.COMPACT_ARRAY, ()), "COMPACT_ARRAY needs a CompactArray"),
        (
            Data(
                DataType.COMPACT_ARRAY,
                CompactArray(TypeDescription(DataType.ARRAY, (), 1), ()),
            ),
            "exactly one element type",
        ),
        (Data(DataType.DATE, CosemDate(70000, 1, 1, 1)), "invalid COSEM date"),
        (Data(DataType.TIME, CosemTime(300, 0, 0, 0)), "invalid COSEM time"),
        (
            Data(
                DataType.DATE_TIME,
                CosemDateTime(CosemDate(2025, 1, 1, 3), CosemTime(1, 0, 0, 0), 40000),
            ),
            "invalid COSEM date-time",
        ),
    ],
)
def test_values_that_cannot_be_encoded(data: Data, match: str) -> None:
    """EncodeError names the type and what was wrong."""
    with pytest.raises(EncodeError, match=match):
        data.encode()


def test_lengths_out_of_range() -> None:
    """A-XDR lengths are 0..2^32-1."""
    with pytest.raises(EncodeError, match="negative"):
        encode_length(-1)
    with pytest.raises(EncodeError, match="too large"):
        encode_length(1 << 40)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (bytes([0x01, 0x05, 0x00]), "array of 5 items in 1 bytes"),
        (bytes([0x13, 0x01, 0x00, 0x05, 0x12, 0x02, 0x00, 0x01]), "array of 5 items in 2"),
        (bytes([0x13, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00]), "zero size"),
        (bytes([0x13, 0x02, 0x05]) + bytes([0x13]) * 5, "compact-array"),
    ],
)
def test_malformed_compact_arrays(raw: bytes, match: str) -> None:
    """Compact arrays whose description and contents disagree are DecodeErrors."""
    with pytest.raises(DecodeError, match=match):
        Data.decode(raw)


def test_compact_array_of_arrays_round_trip() -> None:
    """A compact array whose elements are fixed-size arrays reads back as written."""
    element = Data.array(Data(DataType.LONG_UNSIGNED, 1), Data(DataType.LONG_UNSIGNED, 2))
    data = Data(DataType.COMPACT_ARRAY, CompactArray(ARRAY_OF_LONGS, (element, element)))
    assert Data.decode(data.encode()) == data


def test_deep_nesting_is_refused() -> None:
    """Nesting beyond the limit is refused, for data and for compact-array descriptions."""
    with pytest.raises(DecodeError, match="nested deeper"):
        Data.decode(bytes([0x01, 0x01]) * 200 + b"\x00")
    with pytest.raises(DecodeError, match="nested deeper"):
        Data.decode(bytes([0x13]) + bytes([0x02, 0x01]) * 200 + b"\x11\x00")


@pytest.mark.parametrize(
    ("cls", "raw"),
    [(CosemDate, b"\x00" * 4), (CosemTime, b"\x00" * 3), (CosemDateTime, b"\x00" * 11)],
)
def test_dates_and_times_of_the_wrong_size(cls: type, raw: bytes) -> None:
    """A date is 5 octets, a time 4, a date-time 12."""
    with pytest.raises(DecodeError, match="needs"):
        cls.decode(raw)


def test_impossible_dates_and_times_are_not_a_moment() -> None:
    """February 30th, 25 o'clock and a deviation beyond ±14 h are no datetime."""
    assert CosemDate(2025, 2, 30, None).to_date() is None
    assert CosemTime(25, 0, 0, 0).to_time() is None
    day, clock = CosemDate(2025, 1, 15, 3), CosemTime(10, 0, 0, 0)
    assert CosemDateTime(day, clock, 900).to_datetime() is None
    assert CosemDateTime(day, clock, None).to_datetime() == datetime(2025, 1, 15, 10, 0)


def test_deviation_sign_is_taken_from_the_moment_of_reading() -> None:
    """Near the reading moment the opposite convention wins; alone, the standard's."""
    day, clock = CosemDate(2025, 1, 15, 3), CosemTime(10, 0, 0, 0)
    inverted = CosemDateTime(day, clock, 300)  # a meter in UTC+5 writing +300
    standard = datetime(2025, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert inverted.to_datetime() == standard
    near = datetime(2025, 1, 15, 5, 0, 3, tzinfo=UTC)
    moment = inverted.to_datetime(near)
    assert moment is not None
    assert moment.utcoffset() == timedelta(hours=5)
    assert CosemDateTime(day, clock, 0).to_datetime(near) == datetime(2025, 1, 15, 10, tzinfo=UTC)


def test_a_clock_tells_the_meters_deviation_sign_for_its_other_stamps() -> None:
    """The clock read near the moment of reading says which sign the meter writes; a past stamp
    of the same meter is then read with it (the nearer guess would pick the wrong one for a
    stamp hours old). A deviation of 0 or none tells nothing."""
    day, clock = CosemDate(2025, 1, 15, 3), CosemTime(10, 0, 0, 0)
    meter_clock = CosemDateTime(day, clock, 300)  # a meter in UTC+5 writing +300
    assert meter_clock.inverted_deviation(datetime(2025, 1, 15, 5, 0, 3, tzinfo=UTC)) is True
    assert meter_clock.inverted_deviation(datetime(2025, 1, 15, 15, 0, 3, tzinfo=UTC)) is False
    assert CosemDateTime(day, clock, 0).inverted_deviation(datetime.now(UTC)) is None
    assert CosemDateTime(day, clock, None).inverted_deviation(datetime.now(UTC)) is None
    stamp = CosemDateTime(CosemDate(2025, 1, 14, 2), CosemTime(19, 30, 0, 0), 300)
    assert stamp.to_datetime(inverted=True) == datetime(2025, 1, 14, 14, 30, tzinfo=UTC)
    assert stamp.to_datetime() == datetime(2025, 1, 15, 0, 30, tzinfo=UTC)
