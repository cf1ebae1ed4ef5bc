"""One poll's reads on their own: no meter, no Home Assistant session; answers made by hand."""

from datetime import UTC, datetime
from decimal import Decimal

from homeassistant.util import dt as dt_util
import pytest

from custom_components.microstar_dlms import reading
from custom_components.microstar_dlms.cosem import UNSCALED, MeterObject
from custom_components.microstar_dlms.discovery import MeterDiscovery
from custom_components.microstar_dlms.dlms import Data, ReadResult, RequestRefusedError
from custom_components.microstar_dlms.dlms.axdr import DataType
from custom_components.microstar_dlms.dlms.errors import DecodeError, ProtocolError
from custom_components.microstar_dlms.dlms.obis import ScalerUnit, Unit
from custom_components.microstar_dlms.reading import (
    DeviationSign,
    ValueReads,
    meter_deviation_inverted,
    register_value,
)

VOLTAGE = MeterObject("1.1.32.7.0.255", 3)
FREQUENCY = MeterObject("1.1.14.7.0.255", 3)
READ_AT = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def _reads() -> ValueReads:
    discovery = MeterDiscovery("21061234")
    discovery.confirm(VOLTAGE, ScalerUnit(-2, Unit(35)))
    discovery.confirm(FREQUENCY, ScalerUnit(-2, Unit(44)))
    return ValueReads(discovery, {VOLTAGE.key, FREQUENCY.key}, DeviationSign())


def _refused(obj: MeterObject) -> ReadResult:
    return ReadResult(obj.value_ref(), error=RequestRefusedError("exception response D8 01 02"))


def test_one_value_refused_with_an_exception_is_unknown() -> None:
    """The others still read: the poll is good, the refused value unknown."""
    reads = _reads()
    answered = ReadResult(FREQUENCY.value_ref(), data=Data(DataType.LONG_UNSIGNED, 5000))
    reading = reads.reading([_refused(VOLTAGE), answered], READ_AT)
    assert reading.values[VOLTAGE.key].value is None
    assert reading.values[FREQUENCY.key].value == Decimal("50.00")


def test_every_value_refused_with_an_exception_fails_the_poll() -> None:
    """No value answered, each refused with no data-access result: the association is gone."""
    reads = _reads()
    with pytest.raises(ProtocolError, match="refused all 2 reads"):
        reads.reading([_refused(VOLTAGE), _refused(FREQUENCY)], READ_AT)


def test_a_poll_that_reads_nothing_is_no_refusal() -> None:
    """No enabled entity: nothing asked, nothing refused."""
    reads = ValueReads(MeterDiscovery("21061234"), set(), DeviationSign())
    assert reads.refs == []
    assert reads.reading([], READ_AT).values == {}


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
# Date-times as meters send them (12 octets), at the edges a meter's bad clock can reach.
NAIVE = bytes.fromhex("07ea0c03ff0c000000800000")  # 2026-12-03 12:00, deviation not specified
YEAR_1_EAST = bytes.fromhex("00010101ff00000000fcb800")  # 0001-01-01 00:00, deviation -840
YEAR_9999_WEST = bytes.fromhex("270f0c1fff173b3b00034800")  # 9999-12-31 23:59:59, deviation 840


def test_a_date_time_at_the_edge_of_the_calendar_is_no_value() -> None:
    """A naive date-time is local time; one that falls off Python's calendar in UTC is no value
    (unknown), never an error that fails the poll."""
    assert register_value(NAIVE, UNSCALED) == datetime(
        2026, 12, 3, 12, 0, tzinfo=dt_util.get_default_time_zone()
    )
    assert register_value(YEAR_1_EAST, UNSCALED) is None
    assert register_value(YEAR_9999_WEST, UNSCALED, inverted_deviation=True) is None
    assert meter_deviation_inverted(YEAR_1_EAST, NOW) is None
    assert meter_deviation_inverted(YEAR_9999_WEST, NOW) is None
    assert meter_deviation_inverted(b"not a clock", NOW) is None


@pytest.mark.parametrize("error", [OverflowError, ValueError, DecodeError])
def test_a_date_time_the_decoder_cannot_place_is_no_value(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """Whatever a decoder of date-times raises on a meter's bytes: no value, no failed poll."""

    def refuse(*_: object, **__: object) -> None:
        raise error("off the calendar")

    monkeypatch.setattr(reading, "as_datetime", refuse)
    monkeypatch.setattr(reading, "as_cosem_datetime", refuse)
    if error is not DecodeError:
        assert register_value(NAIVE, UNSCALED) is None
    assert meter_deviation_inverted(NAIVE, NOW) is None
