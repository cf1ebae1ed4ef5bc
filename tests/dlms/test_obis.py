"""OBIS codes, units and exact scaling."""

from decimal import Decimal

import pytest

from custom_components.microstar_dlms.dlms.errors import DecodeError
from custom_components.microstar_dlms.dlms.obis import Obis, ScalerUnit, Unit


@pytest.mark.parametrize(
    "text", ["1-1:32.7.0", "1.1.32.7.0.255", "1-1:32.7.0.255", "1-1:32.7.0*255", " 1-1:32.7.0 "]
)
def test_both_text_forms(text: str) -> None:
    """Both field spellings parse to the same code."""
    obis = Obis.parse(text)
    assert obis == Obis(1, 1, 32, 7, 0, 255)
    assert str(obis) == "1-1:32.7.0"
    assert obis.dotted == "1.1.32.7.0.255"
    assert obis.to_bytes() == bytes.fromhex("01 01 20 07 00 FF")
    assert Obis.from_bytes(obis.to_bytes()) == obis


def test_f_group_shown_when_not_255() -> None:
    """A billing-period F group stays visible."""
    assert str(Obis.parse("1.0.0.1.0.3")) == "1-0:0.1.0.3"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1-1:32.7",
        "1.1.32.7.0",
        "1-1:256.7.0",
        "a-b:c.d.e",
        "1-1:32.7.\u0660",  # Arabic-Indic zero: int() would read it as 0
        "\uff11-1:32.7.0",  # fullwidth one
    ],
)
def test_bad_codes(text: str) -> None:
    """Garbage is a DecodeError with the offending text."""
    with pytest.raises(DecodeError):
        Obis.parse(text)


@pytest.mark.parametrize(
    ("code", "symbol"),
    [(27, "W"), (30, "Wh"), (33, "A"), (35, "V"), (44, "Hz"), (29, "var"), (56, "%")],
)
def test_units(code: int, symbol: str) -> None:
    """35 is volt, not hertz (the old reader's mistake); 44 is hertz."""
    assert Unit(code).symbol == symbol


def test_unknown_unit_kept() -> None:
    """A reserved unit code does not fail the read."""
    unit = Unit(99)
    assert int(unit) == 99
    assert unit.symbol == ""


def test_exact_scaling() -> None:
    """230.01 V from 23001 * 10^-2, exact; large energy counters keep every digit."""
    volts = ScalerUnit.from_value([-2, 35])
    assert volts.apply(23001) == Decimal("230.01")
    assert volts.unit is Unit.VOLT
    assert ScalerUnit(-3, Unit.WATT_HOUR).apply(2**64 - 1) == Decimal("18446744073709551.615")
    assert ScalerUnit(3, Unit.WATT).apply(7) == Decimal(7000)
    assert ScalerUnit(-1, Unit.HERTZ).apply(0.1 + 0.2) == Decimal("0.030000000000000004")
    assert str(volts) == "10^-2 V"


@pytest.mark.parametrize("value", [[1], [1, 2, 3], "x", [True, 1], [200, 1], [1, 300]])
def test_bad_scaler_unit(value: object) -> None:
    """Anything but a structure of two small integers is rejected."""
    with pytest.raises(DecodeError):
        ScalerUnit.from_value(value)
