"""The COSEM objects this integration reads, and how their values become Python values.

Objects are keyed by their OBIS code in the six-group dotted form (``1.1.32.7.0.255``); that key
is also the suffix of every entity's unique id. Units, OBIS codes and ScalerUnit are the
protocol core's (``dlms/obis.py``), and so are the interface classes and which attribute holds
what (``MeterObject``, ``dlms/interface_classes.py``); this module holds only what the
integration adds.
"""

from datetime import datetime
import math
from typing import Any, Final

from .dlms import DecodeError, Obis, ScalerUnit
from .dlms.axdr import CosemDateTime
from .dlms.interface_classes import MeterObject

__all__ = [
    "CLOCK",
    "FIRMWARE",
    "OBJECT_LIST",
    "SERIAL_NUMBER",
    "UNSCALED",
    "MeterObject",
    "ScalerUnit",
    "as_cosem_datetime",
    "as_datetime",
    "as_number",
    "as_text",
    "obis_key",
    "object_unique_id",
    "parse_object_list",
    "parse_scaler_unit",
]

OBJECT_LIST: Final = "0.0.40.0.0.255"  # association LN, attribute 2 (field notes 2)
SERIAL_NUMBER: Final = "1.0.0.0.0.255"  # not 0-0:96.1.0 on this meter (field notes 2)
FIRMWARE: Final = "1.0.0.2.0.255"  # active firmware identifier
CLOCK: Final = "0.0.1.0.0.255"

_NO_UNIT: Final = 255  # count: what a unit code of 0 (not a COSEM unit) means


def object_unique_id(serial: str, key: str) -> str:
    """The unique id of the entity of an object: ``<serial>_<dotted OBIS>``, never changed."""
    return f"{serial}_{key}"


def obis_key(logical_name: bytes) -> str:
    """Return the dotted key of a 6-byte logical name."""
    return Obis.from_bytes(logical_name).dotted


UNSCALED: Final = ScalerUnit(0, _NO_UNIT)
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
    """Parse a scaler_unit structure ``{integer scaler, enum unit}`` (None if malformed).

    Unit code 0 is not in the COSEM enumeration; meters send it for a power factor, so it
    reads as no unit.
    """
    try:
        parsed = ScalerUnit.from_value(value)
    except DecodeError:
        return None
    return ScalerUnit(parsed.scaler, int(parsed.unit) or _NO_UNIT)


def as_number(value: Any) -> int | float | None:
    """A register value as a number: integers, and float32/float64 registers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
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


def as_datetime(
    value: Any, near: datetime | None = None, *, inverted: bool = False
) -> datetime | None:
    """A clock value (date-time or its 12-byte octet string) as a datetime.

    With ``near`` (the moment of reading) the deviation's sign convention is the one that
    lands closer: many meters encode it opposite to the standard. ``inverted``: the meter is
    known to (its clock said so).
    """
    stamp = as_cosem_datetime(value)
    return None if stamp is None else stamp.to_datetime(near, inverted=inverted)


def as_cosem_datetime(value: Any) -> CosemDateTime | None:
    """A date-time or its 12-byte octet string, undecoded into a moment; else None."""
    if isinstance(value, bytes | bytearray) and len(value) == 12:
        return CosemDateTime.decode(bytes(value))
    return value if isinstance(value, CosemDateTime) else None


def _items(value: Any) -> list[Any]:
    """A structure or array (the client gives lists) as a list; anything else as empty."""
    return list(value) if isinstance(value, list | tuple) else []
