"""OBIS codes, the COSEM unit enumeration and exact scaler application."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from enum import IntEnum
import re
from typing import Final

from .errors import DecodeError

_EXACT = Context(prec=80)  # wide enough that no 64-bit raw value is ever rounded
# ASCII digits only (re.ASCII): \d and int() take other scripts' digits too (U+0661 is 1).
_OBIS_DOTTED = re.compile(
    r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", re.ASCII
)
_OBIS_REDUCED = re.compile(
    r"(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[.*](\d{1,3}))?", re.ASCII
)


@dataclass(frozen=True, slots=True, order=True)
class Obis:
    """A six-group OBIS code A-B:C.D.E*F (IEC 62056-6-1)."""

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int = 255

    def __post_init__(self) -> None:
        """Every group is one byte."""
        for group in (self.a, self.b, self.c, self.d, self.e, self.f):
            if not 0 <= group <= 255:
                raise DecodeError(f"OBIS group {group} is outside 0..255")

    @classmethod
    def parse(cls, text: str) -> Obis:
        """Parse ``1.1.32.7.0.255``, ``1-1:32.7.0``, ``1-1:32.7.0.255`` or ``1-1:32.7.0*255``."""
        cleaned = text.strip()
        match = _OBIS_DOTTED.fullmatch(cleaned) or _OBIS_REDUCED.fullmatch(cleaned)
        if match is None:
            raise DecodeError(f"not an OBIS code: {text!r} (use 1-1:32.7.0 or 1.1.32.7.0.255)")
        groups = [int(g) if g is not None else 255 for g in match.groups()]
        return cls(*groups)

    @classmethod
    def from_bytes(cls, data: bytes) -> Obis:
        """Read the 6-byte logical name."""
        if len(data) != 6:
            raise DecodeError(f"an OBIS code has 6 bytes, got {len(data)}")
        return cls(*data)

    def to_bytes(self) -> bytes:
        """The 6-byte logical name."""
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    @property
    def dotted(self) -> str:
        """The six-group form ``1.1.32.7.0.255``."""
        return ".".join(str(g) for g in self.to_bytes())

    def __str__(self) -> str:
        """The reduced form ``1-1:32.7.0`` (``.F`` appended when F is not 255)."""
        base = f"{self.a}-{self.b}:{self.c}.{self.d}.{self.e}"
        return base if self.f == 255 else f"{base}.{self.f}"


class Unit(IntEnum):
    """COSEM physical units (IEC 62056-6-2, enumeration of the scaler_unit)."""

    YEAR = 1
    MONTH = 2
    WEEK = 3
    DAY = 4
    HOUR = 5
    MINUTE = 6
    SECOND = 7
    DEGREE = 8
    DEGREE_CELSIUS = 9
    CURRENCY = 10
    METRE = 11
    METRE_PER_SECOND = 12
    CUBIC_METRE = 13
    CUBIC_METRE_CORRECTED = 14
    CUBIC_METRE_PER_HOUR = 15
    CUBIC_METRE_PER_HOUR_CORRECTED = 16
    CUBIC_METRE_PER_DAY = 17
    CUBIC_METRE_PER_DAY_CORRECTED = 18
    LITRE = 19
    KILOGRAM = 20
    NEWTON = 21
    NEWTON_METRE = 22
    PASCAL = 23
    BAR = 24
    JOULE = 25
    JOULE_PER_HOUR = 26
    WATT = 27
    VOLT_AMPERE = 28
    VAR = 29
    WATT_HOUR = 30
    VOLT_AMPERE_HOUR = 31
    VAR_HOUR = 32
    AMPERE = 33
    COULOMB = 34
    VOLT = 35
    VOLT_PER_METRE = 36
    FARAD = 37
    OHM = 38
    OHM_SQUARE_METRE_PER_METRE = 39
    WEBER = 40
    TESLA = 41
    AMPERE_PER_METRE = 42
    HENRY = 43
    HERTZ = 44
    PER_WATT_HOUR = 45
    PER_VAR_HOUR = 46
    PER_VOLT_AMPERE_HOUR = 47
    VOLT_SQUARED_HOUR = 48
    AMPERE_SQUARED_HOUR = 49
    KILOGRAM_PER_SECOND = 50
    SIEMENS = 51
    KELVIN = 52
    PER_VOLT_SQUARED_HOUR = 53
    PER_AMPERE_SQUARED_HOUR = 54
    PER_CUBIC_METRE = 55
    PERCENT = 56
    AMPERE_HOUR = 57
    WATT_HOUR_PER_CUBIC_METRE = 60
    JOULE_PER_CUBIC_METRE = 61
    MOLE_PERCENT = 62
    GRAM_PER_CUBIC_METRE = 63
    PASCAL_SECOND = 64
    JOULE_PER_KILOGRAM = 65
    GRAM_PER_SQUARE_CENTIMETRE = 66
    ATMOSPHERE = 67
    DECIBEL_MILLIWATT = 70
    DECIBEL_MICROVOLT = 71
    DECIBEL = 72
    OTHER = 254
    COUNT = 255  # no unit, a count

    @classmethod
    def _missing_(cls, value: object) -> Unit | None:
        """Keep codes this table does not name (reserved or vendor) as pseudo-members."""
        if not isinstance(value, int) or not 0 <= value <= 255:
            return None
        member = int.__new__(cls, value)
        member._name_ = f"UNIT_{value}"
        member._value_ = value
        return member

    @property
    def symbol(self) -> str:
        """The unit as printed on a display (``W``, ``kWh`` is not a COSEM unit)."""
        return _SYMBOLS.get(self.value, "")


_SYMBOLS: dict[int, str] = {
    1: "a",
    2: "mo",
    3: "wk",
    4: "d",
    5: "h",
    6: "min",
    7: "s",
    8: "°",
    9: "°C",
    10: "currency",
    11: "m",
    12: "m/s",
    13: "m³",
    14: "m³",
    15: "m³/h",
    16: "m³/h",
    17: "m³/d",
    18: "m³/d",
    19: "l",
    20: "kg",
    21: "N",
    22: "Nm",
    23: "Pa",
    24: "bar",
    25: "J",
    26: "J/h",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    34: "C",
    35: "V",
    36: "V/m",
    37: "F",
    38: "Ω",
    39: "Ωm²/m",
    40: "Wb",
    41: "T",
    42: "A/m",
    43: "H",
    44: "Hz",
    45: "1/(Wh)",
    46: "1/(varh)",
    47: "1/(VAh)",
    48: "V²h",
    49: "A²h",
    50: "kg/s",
    51: "S",
    52: "K",
    53: "1/(V²h)",
    54: "1/(A²h)",
    55: "1/m³",
    56: "%",
    57: "Ah",
    60: "Wh/m³",
    61: "J/m³",
    62: "mol%",
    63: "g/m³",
    64: "Pa s",
    65: "J/kg",
    66: "g/cm²",
    67: "atm",
    70: "dBm",
    71: "dBµV",
    72: "dB",
}


_UNSIGNED_SCALERS: Final = (256 - 20, 255)  # -20..-1 sent as unsigned8
UNITLESS: Final = frozenset({0, Unit.OTHER, Unit.COUNT})
"""Unit codes that mean "no unit" (0 is not in the enumeration; meters send it for a power
factor)."""


@dataclass(frozen=True, slots=True)
class ScalerUnit:
    """Attribute 3 of a Register: value = raw * 10^scaler, in ``unit`` (a COSEM unit code;
    ``from_value`` gives a ``Unit`` member)."""

    scaler: int
    unit: int

    @classmethod
    def from_value(cls, value: object) -> ScalerUnit:
        """Build from the decoded structure ``[scaler, unit]`` (a list of two ints).

        The scaler is an integer (signed 8 bits); meters that send it as unsigned 8 bits
        (253 for -3) are read as two's complement, for the scalers registers use (down to
        10^-20); a larger unsigned value stays an error.
        """
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise DecodeError(f"scaler_unit must be a structure of two integers, got {value!r}")
        scaler, unit = value
        if _UNSIGNED_SCALERS[0] <= scaler <= _UNSIGNED_SCALERS[1]:
            scaler -= 256
        if not -128 <= scaler <= 127 or not 0 <= unit <= 255:
            raise DecodeError(f"scaler_unit out of range: {value!r}")
        return cls(scaler, Unit(unit))

    @property
    def symbol(self) -> str | None:
        """The unit as written after a value (``V``, ``Wh``); None when unitless."""
        if self.unit in UNITLESS or not 0 <= self.unit <= 255:
            return None
        return Unit(self.unit).symbol or None

    def scale(self, raw: int | float | Decimal) -> Decimal:
        """Scale exactly: integers stay exact, floats go through their shortest repr."""
        if isinstance(raw, bool):
            raise DecodeError("a boolean is not a register value")
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        return number.scaleb(self.scaler, _EXACT)

    apply = scale

    def __str__(self) -> str:
        """E.g. ``10^-3 A``."""
        unit = Unit(self.unit)
        return f"10^{self.scaler} {unit.symbol or unit.name}"
