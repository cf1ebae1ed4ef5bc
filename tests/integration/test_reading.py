"""One poll's reads on their own: no meter, no Home Assistant session; answers made by hand."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from custom_components.microstar_dlms.cosem import MeterObject
from custom_components.microstar_dlms.discovery import MeterDiscovery
from custom_components.microstar_dlms.dlms import Data, ReadResult, RequestRefusedError
from custom_components.microstar_dlms.dlms.axdr import DataType
from custom_components.microstar_dlms.dlms.errors import ProtocolError
from custom_components.microstar_dlms.dlms.obis import ScalerUnit, Unit
from custom_components.microstar_dlms.reading import DeviationSign, ValueReads

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
