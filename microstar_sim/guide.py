"""The ``microstar-guide`` profile: every object of the vendor's protocol guide, from its table.

The guide's object table lives once in the repository, in the integration's catalogue
(``custom_components/microstar_dlms/catalogue.csv``): its rows of source ``guide`` carry the
vendor's columns as the vendor writes them (OBIS, interface class, channel, description), so they
can be checked against the guide line by line. This module reads those columns only (the file, not
the integration's modules) and gives each row its value.

Channel 1 is what the meter measures; a dual-source meter's channel 2 is the grid source now
carrying the load and channel 3 the standby source (its counters hold what it measured in past
outages), so channel 2 + channel 3 = channel 1 for every counter.
"""

from __future__ import annotations

from collections.abc import Callable
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.util import find_spec
import math
from pathlib import Path

from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.obis import Obis, Unit

from .interface_classes import (
    ClockObject,
    CosemObject,
    DataObject,
    MeterView,
    Quantity,
    RegisterObject,
    Selection,
)
from .measurement import PhaseValues, tariff_rate


def _catalogue_table() -> Path:
    """The integration's catalogue.csv, found without importing the integration."""
    spec = find_spec("custom_components.microstar_dlms")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("custom_components.microstar_dlms")
    return Path(spec.submodule_search_locations[0]) / "catalogue.csv"


GUIDE_TABLE = _catalogue_table()
GUIDE_MAX_PDU = 6400  # the guide's AARE (field notes 4)
# The guide's UA example: max info 128/128 as 2-byte values, windows 1/1 (field notes 4).
GUIDE_UA_INFORMATION = bytes.fromhex("818014050200800602008007040000000108040000 0001")
# The guide writes the cover-open history as 0-0:96.51.4*X without giving its depth.
COVER_HISTORY_DEPTH = 10

_U8 = DataType.UNSIGNED
_U16 = DataType.LONG_UNSIGNED
_U32 = DataType.DOUBLE_LONG_UNSIGNED
_S16 = DataType.LONG

# Energy kind of value group C (import/export active, reactive, apparent).
_KINDS = {
    1: "import",
    2: "export",
    3: "reactive_import",
    4: "reactive_export",
    9: "apparent_import",
    10: "apparent_export",
}
_ENERGY_UNIT = {1: Unit.WATT_HOUR, 2: Unit.WATT_HOUR, 3: Unit.VAR_HOUR, 4: Unit.VAR_HOUR}
_POWER_UNIT = {1: Unit.WATT, 2: Unit.WATT, 3: Unit.VAR, 4: Unit.VAR}
# Maximum demand of the other kinds, as a share of import active's (no separate integration).
_DEMAND_SHARE = {1: 1.0, 2: 0.55, 3: 0.40, 4: 0.22, 9: 1.08, 10: 0.60}
# The standby source's counters per tariff (Wh, varh, VAh): what past outages ran through it.
_STANDBY = {
    "import": (41_230, 52_118, 19_804, 9_077),
    "export": (0, 0, 0, 0),
    "reactive_import": (12_369, 15_635, 5_941, 2_723),
    "reactive_export": (0, 0, 0, 0),
    "apparent_import": (44_116, 55_766, 21_190, 9_712),
    "apparent_export": (0, 0, 0, 0),
}
_STANDBY_MAX_DEMAND_W = (3_800.0, 4_200.0, 2_900.0, 1_200.0)
_MONTHLY_PF = (0.94, 0.93, 0.91, 0.92)

type Reading = Callable[[MeterView], float]


@dataclass(frozen=True, slots=True)
class GuideRow:
    """One row of the guide's table."""

    obis: str
    class_id: int
    channel: str
    label: str


def guide_rows(path: Path = GUIDE_TABLE) -> list[GuideRow]:
    """The guide's table, in its order (the catalogue's rows of the guide)."""
    with path.open(encoding="utf-8", newline="") as table:
        return [
            GuideRow(row["obis"], int(row["class"]), row["channel"], row["description"])
            for row in csv.DictReader(table)
            if row["source"] == "guide"
        ]


def guide_codes(row: GuideRow) -> list[Obis]:
    """The logical names a row stands for (``*X`` is a history: F = 1 .. depth)."""
    if row.obis.endswith("*X"):
        base = Obis.parse(row.obis[:-2]).to_bytes()
        return [Obis.from_bytes(base[:5] + bytes([f])) for f in range(1, COVER_HISTORY_DEPTH + 1)]
    return [Obis.parse(row.obis)]


class TimestampRegisterObject(CosemObject):
    """A class 3 register whose value is a date-time (the guide's time stamps), unitless."""

    class_id = 3
    attribute_count = 3
    method_count = 1

    def __init__(self, obis: Obis, at: Callable[[MeterView], datetime]) -> None:
        """``at`` gives the stamped instant (UTC)."""
        super().__init__(obis)
        self._at = at

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """The date-time, or scaler_unit {0, count}."""
        if attribute == 2:
            return view.date_time(self._at(view))
        return Data.structure(Data(DataType.INTEGER, 0), Data(DataType.ENUM, int(Unit.COUNT)))


def build_guide_objects(serial: bytes) -> list[CosemObject]:
    """Every object of the guide's table, in its order."""
    objects: list[CosemObject] = []
    for row in guide_rows():
        for obis in guide_codes(row):
            if row.class_id == 1:
                objects.append(DataObject(obis, lambda v: Data.octet_string(serial)))
            elif row.class_id == 8:
                objects.append(ClockObject(obis))
            else:
                objects.append(_register(obis))
    return objects


def _register(obis: Obis) -> CosemObject:
    """The class 3 object of one logical name."""
    a, b, c, d, e, f = obis.to_bytes()
    if f != 255:
        return TimestampRegisterObject(obis, _cover_history(f))
    if stamp := _STAMPS.get((a, b, c, d, e)):
        return TimestampRegisterObject(obis, stamp)
    if a == 1 and b in (1, 2, 3):
        return RegisterObject(obis, _channel_quantity(b, c, d, e))
    return RegisterObject(obis, _abstract(a, c, d, e))


# -- time stamps -------------------------------------------------------------------------------


def _month_start(view: MeterView) -> datetime:
    """00:00 local time on the first of this month (the end of the last billing period), UTC."""
    local = view.local
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(
        view.utc.tzinfo
    )


def _before_month(days: int, hour: int, minute: int) -> Callable[[MeterView], datetime]:
    return lambda v: _month_start(v) - timedelta(days=days) + timedelta(hours=hour, minutes=minute)


def _cover_history(index: int) -> Callable[[MeterView], datetime]:
    """The cover opened before the most recent time, ``index`` times back."""
    return _before_month(61 + 37 * index, 14, 5 + index)


_STAMPS: dict[tuple[int, int, int, int, int], Callable[[MeterView], datetime]] = {
    (1, 0, 0, 1, 2): _month_start,  # most recent billing period
    (0, 0, 96, 2, 1): _before_month(47, 10, 32),  # last configuration change
    (0, 0, 96, 20, 6): _before_month(23, 8, 17),  # terminal cover opened
    (0, 0, 96, 51, 4): _before_month(61, 14, 5),  # meter cover opened
    (0, 0, 240, 23, 0): _month_start,  # timing task start
}


# -- abstract and configuration objects ---------------------------------------------------------


def _constant(
    value: float, dtype: DataType = _U16, scaler: int = 0, unit: Unit = Unit.COUNT
) -> Quantity:
    return Quantity(dtype, scaler, unit, lambda v: value)


def _abstract(a: int, c: int, d: int, e: int) -> Quantity:
    """Counters, constants and settings of the meter (value group B 0)."""
    match (a, c, d, e):
        case (1, 0, 1, 0):
            return Quantity(_U8, 0, Unit.COUNT, lambda v: v.registers.billing_periods)
        case (1, 0, 3, 3):
            return _constant(1000, scaler=-3, unit=Unit.PER_WATT_HOUR)  # 1000 imp/kWh
        case (1, 0, 3, 4):
            return _constant(1000, scaler=-3, unit=Unit.PER_VAR_HOUR)
        case (1, 0, 4, 2) | (1, 0, 4, 5):
            return _constant(5, unit=Unit.AMPERE)  # CT 5/5 A: direct connection
        case (1, 0, 4, 3) | (1, 0, 4, 6):
            return _constant(230, unit=Unit.VOLT)  # VT 230/230 V
        case (0, 96, 2, 0):
            return _constant(3)  # configuration changes
        case (0, 96, 3, 3):
            return _constant(2, _U8)  # the source carrying the load: channel 2
        case (0, 96, 14, 0):
            return Quantity(_U8, 0, Unit.COUNT, lambda v: tariff_rate(v.local))
        case (0, 96, 20, 5):
            return _constant(2)  # terminal cover openings
        case (0, 240, 26, _):
            return _constant(0x0007 if e == 0 else 0x0F00, _U32)  # alarm and event masks
        case _:
            return _constant(0)  # error code, selection mode (automatic), LED alarm control


# -- channels 1, 2 and 3 ------------------------------------------------------------------------


def _counter(view: MeterView, channel: int, kind: str, rate: int) -> int:
    """One tariff's counter of an energy kind on a channel."""
    standby = _STANDBY[kind][rate]
    if channel == 3:
        return standby
    total = int(view.registers.all_rates()[kind][rate])
    return total if channel == 1 else max(0, total - standby)


def _monthly(view: MeterView, channel: int, kind: str, rate: int) -> int:
    """This month's part of a counter; the standby source has not run this month."""
    if channel == 3:
        return 0
    registers = view.registers
    start = registers.month_start_rates.get(kind, [0.0] * 4)[rate]
    return max(0, int(registers.all_rates()[kind][rate]) - int(start))


def _energy(channel: int, c: int, d: int, e: int) -> Reading:
    """Counters (D 8) and this month's (D 9); a total is the sum of its tariffs."""
    kind = _KINDS[c]
    part = _counter if d == 8 else _monthly
    rates = range(4) if e == 0 else (e - 1,)
    return lambda v: sum(part(v, channel, kind, r) for r in rates)


def _max_demand(channel: int, c: int, e: int) -> Reading:
    share = _DEMAND_SHARE[c]
    if channel == 3:
        return lambda v: (
            share * (max(_STANDBY_MAX_DEMAND_W) if e == 0 else _STANDBY_MAX_DEMAND_W[e - 1])
        )
    if e == 0:
        return lambda v: share * v.registers.max_demand_w
    return lambda v: share * v.registers.max_demand_rates_w[e - 1]


def _rising_demand(channel: int, c: int) -> Reading:
    share = _DEMAND_SHARE[c] if c in (1, 3, 9) else 0.0  # no export during a demand period here
    return lambda v: 0.0 if channel == 3 else share * v.registers.current_average_w


def _phases(view: MeterView, channel: int) -> tuple[PhaseValues, ...]:
    """The phases a channel sees: the standby source is off."""
    if channel == 3:
        return tuple(PhaseValues(0.0, 0.0, 0.0, 0.0, 0.0) for _ in range(3))
    return view.instant.phases


def _reactive(p: PhaseValues) -> float:
    return abs(p.active_power) * math.tan(math.acos(p.power_factor)) if p.power_factor else 0.0


def _phase_value(quantity: int, p: PhaseValues) -> float:
    """Value group C within one phase's block of 20 (21..33: L1)."""
    importing = p.active_power >= 0
    apparent = p.voltage * p.current
    return {
        1: max(0.0, p.active_power),
        2: max(0.0, -p.active_power),
        3: _reactive(p) if importing else 0.0,
        4: 0.0 if importing else _reactive(p),
        9: apparent if importing else 0.0,
        10: 0.0 if importing else apparent,
        11: p.current,
        12: p.voltage,
        13: p.power_factor,
    }[quantity]


def _sum(channel: int, quantity: int) -> Reading:
    return lambda v: sum(_phase_value(quantity, p) for p in _phases(v, channel))


def _angle(channel: int, e: int) -> Reading:
    """81.7.E: 1/2 U(L2)/U(L3) to U(L1), 4/15/26 I(Ln) to U(Ln), 45/46 I(L2)/I(L3) to I(L1)."""

    def angle(view: MeterView) -> float:
        if channel == 3:
            return 0.0
        phi = [p.angle for p in view.instant.phases]
        value = {
            1: 120.0,
            2: 240.0,
            4: phi[0],
            15: phi[1],
            26: phi[2],
            45: 120.0 + phi[1] - phi[0],
            46: 240.0 + phi[2] - phi[0],
        }[e]
        return value % 360.0

    return angle


def _channel_quantity(channel: int, c: int, d: int, e: int) -> Quantity:
    """A register of channel ``channel`` (value group B)."""
    if d in (8, 9):
        return Quantity(
            _U32, 0, _ENERGY_UNIT.get(c, Unit.VOLT_AMPERE_HOUR), _energy(channel, c, d, e)
        )
    if d == 2:
        return Quantity(_U32, 0, _POWER_UNIT.get(c, Unit.VOLT_AMPERE), _max_demand(channel, c, e))
    if d == 16:
        return Quantity(_U32, 0, _POWER_UNIT.get(c, Unit.VOLT_AMPERE), _rising_demand(channel, c))
    if c == 13 and d == 0:
        pf = _MONTHLY_PF[e - 1] if e else 0.93
        return Quantity(_S16, -3, Unit.COUNT, lambda v: 0.0 if channel == 3 else pf)
    if c == 81:
        return Quantity(_U16, -1, Unit.DEGREE, _angle(channel, e))
    return _instantaneous(channel, c)


def _instantaneous(channel: int, c: int) -> Quantity:
    """D 7: sums (C 1..15) and per-phase values (C 21..73)."""
    if c == 13:
        return Quantity(
            _S16, -3, Unit.COUNT, lambda v: 0.0 if channel == 3 else v.instant.power_factor
        )
    if c == 14:
        return Quantity(
            _U16, -2, Unit.HERTZ, lambda v: 0.0 if channel == 3 else v.instant.frequency
        )
    if c == 15:
        return Quantity(
            _U32, 0, Unit.WATT, lambda v: abs(sum(p.active_power for p in _phases(v, channel)))
        )
    if c <= 10:
        return Quantity(_U32, 0, _POWER_UNIT.get(c, Unit.VOLT_AMPERE), _sum(channel, c))
    index, offset = divmod(c - 21, 20)
    quantity = offset + 1

    def reading(view: MeterView) -> float:
        return _phase_value(quantity, _phases(view, channel)[index])

    match quantity:
        case 11:
            return Quantity(_U32, -3, Unit.AMPERE, reading)
        case 12:
            return Quantity(_U16, -2, Unit.VOLT, reading)
        case 13:
            return Quantity(_S16, -3, Unit.COUNT, reading)
        case _:
            return Quantity(_U32, 0, _POWER_UNIT.get(quantity, Unit.VOLT_AMPERE), reading)
