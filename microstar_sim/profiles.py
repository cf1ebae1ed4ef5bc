"""The Microstar OBIS object sets: ``microstar-3p``, ``microstar-1p`` (field notes §2) and
``microstar-guide`` (every object of the vendor's guide, see ``guide.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.obis import Obis, Unit

from .config import MeterConfig
from .guide import GUIDE_MAX_PDU, GUIDE_UA_INFORMATION, build_guide_objects
from .interface_classes import (
    AssociationLnObject,
    CaptureObject,
    ClockObject,
    CosemObject,
    DataObject,
    DemandRegisterObject,
    ExtendedRegisterObject,
    HdlcSetupObject,
    MeterView,
    ProfileGenericObject,
    Quantity,
    RegisterObject,
)
from .measurement import ProfileEntry

GUIDE_PROFILE = "microstar-guide"
PROFILES = ("microstar-3p", "microstar-1p", GUIDE_PROFILE)
PHASE_COUNT = {"microstar-3p": 3, "microstar-1p": 1, GUIDE_PROFILE: 3}
# What a profile's meter offers unless configured otherwise: server max PDU, UA parameters.
PROFILE_MAX_PDU = {GUIDE_PROFILE: GUIDE_MAX_PDU}
PROFILE_UA_INFORMATION = {GUIDE_PROFILE: GUIDE_UA_INFORMATION}

SERIAL_NUMBER = Obis.parse("1-0:0.0.0")
FIRMWARE_VERSION = Obis.parse("1-0:0.2.0")
CLOCK = Obis.parse("0-0:1.0.0")
ASSOCIATION = Obis.parse("0-0:40.0.0")
HDLC_SETUP = Obis.parse("0-0:22.0.0")
LOAD_PROFILE = Obis.parse("1-1:99.1.0")
ENERGY_REGISTERS = frozenset(
    Obis.parse(code)
    for code in (
        "1-1:1.8.0", "1-1:1.8.1", "1-1:1.8.2", "1-1:1.8.3", "1-1:1.8.4",
        "1-1:2.8.0", "1-1:3.8.0", "1-1:4.8.0", "1-1:9.8.0", "1-1:10.8.0",
    )
)  # fmt: skip

type Reading = Callable[[MeterView], float]

_U32 = DataType.DOUBLE_LONG_UNSIGNED
_U16 = DataType.LONG_UNSIGNED


def _energy(unit: Unit, reading: Reading) -> Quantity:
    return Quantity(_U32, 0, unit, reading)


def _power(unit: Unit, reading: Reading) -> Quantity:
    return Quantity(_U32, 0, unit, reading)


def _phase(index: int, pick: Callable[[MeterView, int], float]) -> Reading:
    return lambda v: pick(v, index)


def _voltage(v: MeterView, i: int) -> float:
    return v.instant.phases[i].voltage


def _current(v: MeterView, i: int) -> float:
    return v.instant.phases[i].current


def _pf(v: MeterView, i: int) -> float:
    return v.instant.phases[i].power_factor


def _import_power(v: MeterView, i: int) -> float:
    return max(0.0, v.instant.phases[i].active_power)


def _angle(v: MeterView, i: int) -> float:
    return v.instant.phases[i].angle % 360.0


def _registers(phases: int) -> list[tuple[str, Quantity]]:
    """(OBIS, quantity) of every class-3 register of a profile."""
    items: list[tuple[str, Quantity]] = [
        ("0-0:97.97.0", Quantity(_U32, 0, Unit.COUNT, lambda v: 0)),
        ("1-1:1.8.0", _energy(Unit.WATT_HOUR, lambda v: int(v.registers.import_wh))),
        *(
            (f"1-1:1.8.{n}", _energy(Unit.WATT_HOUR, _rate(n)))
            for n in range(1, 5)
        ),
        ("1-1:2.8.0", _energy(Unit.WATT_HOUR, lambda v: int(v.registers.export_wh))),
        ("1-1:3.8.0", _energy(Unit.VAR_HOUR, lambda v: int(v.registers.reactive_import_varh))),
        ("1-1:4.8.0", _energy(Unit.VAR_HOUR, lambda v: int(v.registers.reactive_export_varh))),
        (
            "1-1:9.8.0",
            _energy(Unit.VOLT_AMPERE_HOUR, lambda v: int(v.registers.apparent_import_vah)),
        ),
        (
            "1-1:10.8.0",
            _energy(Unit.VOLT_AMPERE_HOUR, lambda v: int(v.registers.apparent_export_vah)),
        ),
        ("1-1:1.9.0", _energy(Unit.WATT_HOUR, lambda v: int(v.registers.monthly_import_wh))),
        ("1-1:1.7.0", _power(Unit.WATT, lambda v: max(0.0, v.instant.net_power))),
        ("1-1:2.7.0", _power(Unit.WATT, lambda v: max(0.0, -v.instant.net_power))),
        ("1-1:3.7.0", _power(Unit.VAR, lambda v: v.instant.reactive_power)),
        ("1-1:9.7.0", _power(Unit.VOLT_AMPERE, lambda v: v.instant.apparent_power)),
        ("1-1:15.7.0", _power(Unit.WATT, lambda v: abs(v.instant.net_power))),
        ("1-1:13.7.0", Quantity(DataType.LONG, -3, Unit.COUNT, lambda v: v.instant.power_factor)),
        ("1-1:14.7.0", Quantity(_U16, -2, Unit.HERTZ, lambda v: v.instant.frequency)),
        ("1-1:1.2.0", _power(Unit.WATT, lambda v: v.registers.max_demand_w)),
        ("1-1:1.16.0", _power(Unit.WATT, lambda v: v.registers.current_average_w)),
        ("1-0:0.1.0", Quantity(DataType.UNSIGNED, 0, Unit.COUNT, _billing_periods)),
    ]  # fmt: skip
    for index in range(phases):
        c = 20 * index  # L1 32.7.0, L2 52.7.0, L3 72.7.0 (IEC 62056-6-1 value group C)
        items += [
            (f"1-1:{32 + c}.7.0", Quantity(_U16, -2, Unit.VOLT, _phase(index, _voltage))),
            (f"1-1:{31 + c}.7.0", Quantity(_U32, -3, Unit.AMPERE, _phase(index, _current))),
            (f"1-1:{33 + c}.7.0", Quantity(DataType.LONG, -3, Unit.COUNT, _phase(index, _pf))),
            (f"1-1:{21 + c}.7.0", _power(Unit.WATT, _phase(index, _import_power))),
            # 81.7.4 / 81.7.15 / 81.7.26: angle of I(Ln) to U(Ln).
            (f"1-1:81.7.{4 + 11 * index}", Quantity(_U16, -1, Unit.DEGREE, _phase(index, _angle))),
        ]  # fmt: skip
    if phases == 3:
        items += [
            ("1-1:81.7.1", Quantity(_U16, -1, Unit.DEGREE, lambda v: 120.0)),
            ("1-1:81.7.2", Quantity(_U16, -1, Unit.DEGREE, lambda v: 240.0)),
        ]
    return items


def profile_meter(profile: str, **changes: Any) -> MeterConfig:
    """A meter of ``profile`` with the server max PDU that profile offers (the guide: 6400)."""
    if (max_pdu := PROFILE_MAX_PDU.get(profile)) is not None:
        changes.setdefault("max_pdu_size", max_pdu)
    return MeterConfig(profile=profile, **changes)


def _billing_periods(view: MeterView) -> float:
    return view.registers.billing_periods


def _rate(n: int) -> Reading:
    return lambda v: int(v.registers.rates_wh[n - 1])


def _stamp(view: MeterView, entry: ProfileEntry) -> Data:
    return view.date_time(entry.at)


def _max_demand_time(view: MeterView) -> datetime | None:
    return view.registers.max_demand_at


def build_objects(
    profile: str, serial_number: str, firmware: str, profile_period: int
) -> list[CosemObject]:
    """All objects of a profile, in object-list order."""
    if profile not in PHASE_COUNT:
        raise ValueError(f"unknown meter profile {profile!r}; known: {', '.join(PROFILES)}")
    serial = serial_number.encode("ascii")
    version = firmware.encode("ascii")
    if profile == GUIDE_PROFILE:
        # The guide's table lacks what every meter has: the association, the firmware id (the
        # field meter answers 1-0:0.2.0) and the HDLC setup.
        return [
            AssociationLnObject(ASSOCIATION),
            DataObject(FIRMWARE_VERSION, lambda v: Data.octet_string(version)),
            HdlcSetupObject(HDLC_SETUP),
            *build_guide_objects(serial),
        ]
    objects: list[CosemObject] = [
        AssociationLnObject(ASSOCIATION),
        DataObject(SERIAL_NUMBER, lambda v: Data.octet_string(serial)),
        DataObject(FIRMWARE_VERSION, lambda v: Data.octet_string(version)),
        ClockObject(CLOCK),
        HdlcSetupObject(HDLC_SETUP),
    ]
    objects += [RegisterObject(Obis.parse(code), q) for code, q in _registers(PHASE_COUNT[profile])]
    objects += [
        ExtendedRegisterObject(
            Obis.parse("1-1:1.6.0"),
            _power(Unit.WATT, lambda v: v.registers.max_demand_w),
            _max_demand_time,
        ),
        DemandRegisterObject(Obis.parse("1-1:1.4.0")),
    ]
    columns = (
        CaptureObject(8, CLOCK, 2, _stamp),
        CaptureObject(
            3,
            Obis.parse("1-1:1.8.0"),
            2,
            lambda v, e: Data(DataType.DOUBLE_LONG_UNSIGNED, e.import_wh),
        ),
        CaptureObject(
            3,
            Obis.parse("1-1:2.8.0"),
            2,
            lambda v, e: Data(DataType.DOUBLE_LONG_UNSIGNED, e.export_wh),
        ),
        CaptureObject(
            5,
            Obis.parse("1-1:1.4.0"),
            3,
            lambda v, e: Data(DataType.DOUBLE_LONG_UNSIGNED, e.average_demand_w),
        ),
    )
    objects.append(ProfileGenericObject(LOAD_PROFILE, columns, profile_period))
    return objects
