"""The COSEM objects this integration reads, and how their values become Python values.

Objects are keyed by their OBIS code in the six-group dotted form (``1.1.32.7.0.255``); that key
is also the suffix of every entity's unique id.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from .dlms import AttributeRef, Obis
from .dlms.axdr import CosemDateTime

OBJECT_LIST: Final = "0.0.40.0.0.255"  # association LN, attribute 2 (field notes 2)
SERIAL_NUMBER: Final = "1.0.0.0.0.255"  # not 0-0:96.1.0 on this meter (field notes 2)
FIRMWARE: Final = "1.0.0.2.0.255"  # active firmware identifier
CLOCK: Final = "0.0.1.0.0.255"

CLASS_DATA: Final = 1
CLASS_REGISTER: Final = 3
CLASS_EXTENDED_REGISTER: Final = 4
CLASS_DEMAND_REGISTER: Final = 5
CLASS_CLOCK: Final = 8
CLASS_ASSOCIATION_LN: Final = 15

# Interface class -> (value attribute, scaler_unit attribute or None).
# Demand registers publish the running average as attribute 2 and keep scaler_unit in 4.
_ATTRIBUTES: Final[dict[int, tuple[int, int | None]]] = {
    CLASS_DATA: (2, None),
    CLASS_REGISTER: (2, 3),
    CLASS_EXTENDED_REGISTER: (2, 3),
    CLASS_DEMAND_REGISTER: (2, 4),
    CLASS_CLOCK: (2, None),
    CLASS_ASSOCIATION_LN: (2, None),  # the object list
}

# COSEM unit enumeration (IEC 62056-6-2) -> Home Assistant unit string; None is unitless.
COSEM_UNITS: Final[dict[int, str | None]] = {
    8: "°",
    9: "°C",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    35: "V",
    44: "Hz",
    56: "%",
    254: None,  # other
    255: None,  # count
}


def obis_key(logical_name: bytes) -> str:
    """Return the dotted key of a 6-byte logical name."""
    return ".".join(str(part) for part in logical_name)


@dataclass(frozen=True, slots=True)
class MeterObject:
    """One object the meter has, as discovered from its association object list."""

    key: str
    class_id: int

    @property
    def supported(self) -> bool:
        """Whether this integration knows how to read this interface class."""
        return self.class_id in _ATTRIBUTES

    def value_ref(self) -> AttributeRef:
        """The attribute holding the value."""
        return AttributeRef(self.class_id, Obis.parse(self.key), _ATTRIBUTES[self.class_id][0])

    def scaler_unit_ref(self) -> AttributeRef | None:
        """The attribute holding scaler and unit, if the class has one."""
        attribute = _ATTRIBUTES[self.class_id][1]
        if attribute is None:
            return None
        return AttributeRef(self.class_id, Obis.parse(self.key), attribute)


@dataclass(frozen=True, slots=True)
class ScalerUnit:
    """Scaler (power of ten) and COSEM unit code of a register, read once per meter."""

    scaler: int
    unit: int

    @property
    def ha_unit(self) -> str | None:
        """The Home Assistant unit string (None when unitless)."""
        return COSEM_UNITS.get(self.unit)

    def scale(self, raw: int) -> Decimal:
        """Apply the scaler exactly."""
        return Decimal(raw).scaleb(self.scaler)


UNSCALED: Final = ScalerUnit(0, 255)
"""What a number without a scaler_unit attribute (class 1 Data) is: a plain count."""


def parse_object_list(value: Any) -> list[MeterObject]:
    """Parse attribute 2 of an Association LN: ``{class_id, version, logical_name, rights}``."""
    objects: list[MeterObject] = []
    for entry in _items(value):
        fields = _items(entry)
        if len(fields) < 3:
            continue
        class_id, logical_name = fields[0], fields[2]
        if (
            isinstance(class_id, int)
            and isinstance(logical_name, bytes | bytearray)
            and len(logical_name) == 6
        ):
            objects.append(MeterObject(obis_key(bytes(logical_name)), class_id))
    return objects


def parse_scaler_unit(value: Any) -> ScalerUnit | None:
    """Parse a scaler_unit structure ``{integer scaler, enum unit}`` (None if malformed)."""
    fields = _items(value)
    if len(fields) != 2 or not all(isinstance(v, int) for v in fields):
        return None
    scaler, unit = fields
    if not -128 <= scaler <= 127:
        return None
    return ScalerUnit(scaler, int(unit))


def as_number(value: Any) -> int | None:
    """A register value as an integer (COSEM registers here carry integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def as_text(value: Any) -> str | None:
    """A Data value (serial number, firmware id) as printable text."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("ascii", errors="replace")
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = "".join(char for char in value if char.isprintable()).strip()
    return text or None


def as_datetime(value: Any) -> datetime | None:
    """A clock value (date-time or its 12-byte octet string) as a datetime."""
    if isinstance(value, bytes | bytearray) and len(value) == 12:
        value = CosemDateTime.decode(bytes(value))
    if isinstance(value, CosemDateTime):
        return value.to_datetime()
    return None


def _items(value: Any) -> list[Any]:
    """A structure or array (the client gives lists) as a list; anything else as empty."""
    return list(value) if isinstance(value, list | tuple) else []
