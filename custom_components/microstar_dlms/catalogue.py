"""The catalogue: every object the integration knows, what it is, and how it is presented.

One row per COSEM object, keyed by its dotted OBIS code (the suffix of its entities' unique
ids). A row says which interface class the meter should have for it and how Home Assistant shows
it: as a sensor, an event, both, or not at all (with the reason). The platforms build their
entity descriptions from here; discovery probes the presented objects; ``docs/objects.md`` is
generated from it (``scripts/objects-doc``).

Channel 1 (value group B 1) is what the meter measures. A dual-source meter also has channel 2
(the source carrying the load) and channel 3 (the standby source), presented as devices of their
own; their objects are probed only once the channel's energy register answers.
"""

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import ClassVar, Final

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    EntityCategory,
    Platform,
    UnitOfEnergy,
    UnitOfReactiveEnergy,
)

from .cosem import (
    CLASS_CLOCK,
    CLASS_DATA,
    CLASS_DEMAND_REGISTER,
    CLASS_EXTENDED_REGISTER,
    CLASS_REGISTER,
    CLOCK,
    FIRMWARE,
    SERIAL_NUMBER,
)
from .dlms.obis import UNITLESS, Obis, Unit

ACTIVE_TARIFF: Final = "0.0.96.14.0.255"
THREE_PHASE_MARKER: Final = "1.1.52.7.0.255"  # voltage L2: single-phase meters do not have it
TARIFF_STATES: Final = ("rate_1", "rate_2", "rate_3", "rate_4")
CHANNELS: Final = (1, 2, 3)

# COSEM units each kind of value accepts from the meter's scaler_unit (anything else: no entity).
_WH = frozenset({Unit.WATT_HOUR})
_VARH = frozenset({Unit.VAR_HOUR})
_VAH = frozenset({Unit.VOLT_AMPERE_HOUR})
_W = frozenset({Unit.WATT})
_VAR = frozenset({Unit.VAR})
_VA = frozenset({Unit.VOLT_AMPERE})
_V = frozenset({Unit.VOLT})
_A = frozenset({Unit.AMPERE})
_HZ = frozenset({Unit.HERTZ})
_DEGREES = frozenset({Unit.DEGREE})
_ANY = frozenset(range(256))


class ValueKind(StrEnum):
    """Where an entity's value comes from and what it is."""

    NUMBER = "number"  # a scaled register value
    TIMESTAMP = "timestamp"  # a register holding a date-time
    TARIFF = "tariff"  # the active tariff number, as one of TARIFF_STATES
    SERIAL = "serial"  # the serial number discovery read
    FIRMWARE = "firmware"  # the firmware id discovery read
    CLOCK_DRIFT = "clock_drift"  # seconds the meter clock is ahead


@dataclass(frozen=True, slots=True, kw_only=True)
class AsSensor:
    """Presented as a sensor."""

    platform: ClassVar[Platform] = Platform.SENSOR
    name: str
    """Translation key (``entity.sensor.<name>``)."""
    placeholders: Mapping[str, str] | None = None
    device_class: SensorDeviceClass | None = None
    state_class: SensorStateClass | None = None
    units: frozenset[int] = UNITLESS
    """COSEM unit codes accepted for this object; anything else is not shown."""
    suggested_unit: str | None = None
    display_shift: int = 0
    """Decimal places the suggested unit adds (3 for Wh shown as kWh)."""
    cumulative: bool = False
    """A register that only grows: a decrease (or a drop to zero) is a glitch, never published."""
    value: ValueKind = ValueKind.NUMBER
    enabled: bool = False
    enabled_with: str | None = None
    """Enabled by default when the meter has this object too (tariff counters: the tariff)."""
    category: EntityCategory | None = None

    def summary(self) -> str:
        """How it is presented, in a few words (docs/objects.md)."""
        details = [str(d) for d in (self.device_class, self.state_class) if d is not None]
        return _summary(
            "sensor",
            self.name,
            details,
            enabled=self.enabled,
            enabled_with=self.enabled_with,
            category=self.category,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AsEvent:
    """Presented as an event entity: fires when the object's value advances between polls."""

    platform: ClassVar[Platform] = Platform.EVENT
    name: str
    """Translation key (``entity.event.<name>``)."""
    event_type: str
    enabled: bool = True
    enabled_with: str | None = None
    category: EntityCategory | None = None

    def summary(self) -> str:
        """How it is presented, in a few words (docs/objects.md)."""
        return _summary(
            "event",
            self.name,
            [self.event_type],
            enabled=self.enabled,
            enabled_with=self.enabled_with,
            category=self.category,
        )


type Presentation = AsSensor | AsEvent


def _summary(
    platform: str,
    name: str,
    details: list[str],
    *,
    enabled: bool,
    enabled_with: str | None,
    category: EntityCategory | None,
) -> str:
    if enabled:
        state = "enabled"
    elif enabled_with is not None:
        state = f"enabled with {Obis.parse(enabled_with)}"
    else:
        state = "disabled"
    extra = ", ".join([*details, state, *([str(category)] if category else [])])
    return f"{platform} `{name}` ({extra})"


@dataclass(frozen=True, slots=True)
class KnownObject:
    """An object the integration knows."""

    key: str
    class_id: int
    label: str
    """What it is, in a few English words."""
    presented: tuple[Presentation, ...] = ()
    not_presented: str = ""
    """Why it has no entity (when ``presented`` is empty)."""
    requires: tuple[str, ...] = ()
    """Probed only once the meter has these objects (a channel's energy total; the active
    tariff for tariff registers beyond import energy), never where one is absent."""

    @property
    def channel(self) -> int:
        """The measurement channel (value group B) of an electricity object, else 1."""
        obis = Obis.parse(self.key)
        return obis.b if obis.a == 1 and obis.b in CHANNELS else 1

    def enabled_by_default(self, has: Collection[str]) -> bool:
        """Whether an entity of the object is enabled by default on a meter with ``has``."""
        return any(presentation_enabled(p, has) for p in self.presented)


def presentation_enabled(presentation: Presentation, has: Collection[str]) -> bool:
    """Whether an entity presented so is enabled by default on a meter with objects ``has``."""
    return presentation.enabled or (
        presentation.enabled_with is not None and presentation.enabled_with in has
    )


# -- channel objects ---------------------------------------------------------------------------

# Value group C of an energy kind: (energy name, power name, word in labels, device classes, units)
_KINDS: Final = (
    (1, "energy_import", "power_import", "active import", "import"),
    (2, "energy_export", "power_export", "active export", "export"),
    (3, "reactive_energy_import", "reactive_power", "reactive import", "reactive_import"),
    (4, "reactive_energy_export", "reactive_power_export", "reactive export", "reactive_export"),
    (9, "apparent_energy_import", "apparent_power", "apparent import", "apparent_import"),
    (10, "apparent_energy_export", "apparent_power_export", "apparent export", "apparent_export"),
)
_ENERGY: Final[dict[int, tuple[SensorDeviceClass | None, frozenset[int], str | None]]] = {
    1: (SensorDeviceClass.ENERGY, _WH, UnitOfEnergy.KILO_WATT_HOUR),
    2: (SensorDeviceClass.ENERGY, _WH, UnitOfEnergy.KILO_WATT_HOUR),
    3: (
        SensorDeviceClass.REACTIVE_ENERGY,
        _VARH,
        UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
    ),
    4: (
        SensorDeviceClass.REACTIVE_ENERGY,
        _VARH,
        UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
    ),
    9: (None, _VAH, None),
    10: (None, _VAH, None),
}
_POWER: Final[dict[int, tuple[SensorDeviceClass, frozenset[int]]]] = {
    1: (SensorDeviceClass.POWER, _W),
    2: (SensorDeviceClass.POWER, _W),
    3: (SensorDeviceClass.REACTIVE_POWER, _VAR),
    4: (SensorDeviceClass.REACTIVE_POWER, _VAR),
    9: (SensorDeviceClass.APPARENT_POWER, _VA),
    10: (SensorDeviceClass.APPARENT_POWER, _VA),
}
# Per-phase blocks of value group C (L1 21.., L2 41.., L3 61..): offset -> (name, label).
_PHASE_POWER: Final = {
    1: "power_import_phase",
    2: "power_export_phase",
    3: "reactive_power_import_phase",
    4: "reactive_power_export_phase",
    9: "apparent_power_import_phase",
    10: "apparent_power_export_phase",
}
# 81.7.E: (name, phase placeholder, label)
_ANGLES: Final = (
    (1, "voltage_angle", "2", "angle of U(L2) to U(L1)"),
    (2, "voltage_angle", "3", "angle of U(L3) to U(L1)"),
    (4, "current_angle", "1", "angle of I(L1) to U(L1)"),
    (15, "current_angle", "2", "angle of I(L2) to U(L2)"),
    (26, "current_angle", "3", "angle of I(L3) to U(L3)"),
    (45, "current_to_current_angle", "2", "angle of I(L2) to I(L1)"),
    (46, "current_to_current_angle", "3", "angle of I(L3) to I(L1)"),
)


def _key(channel: int, c: int, d: int, e: int) -> str:
    return f"1.{channel}.{c}.{d}.{e}.255"


def channel_marker(channel: int) -> str | None:
    """The object a channel's others wait for: its import energy total (none for channel 1)."""
    return None if channel == 1 else _key(channel, 1, 8, 0)


def _register(
    channel: int, c: int, d: int, e: int, label: str, *presented: Presentation
) -> KnownObject:
    suffix = "" if channel == 1 else f", channel {channel}"
    key = _key(channel, c, d, e)
    requires: list[str] = []
    if (marker := channel_marker(channel)) is not None and marker != key:
        requires.append(marker)
    # Tariff registers (E 1-4) other than import energy's are looked for only on a meter that
    # tells its active tariff: the others have none of them.
    if e in range(1, 5) and d in (0, 2, 8, 9) and (c, d) != (1, 8):
        requires.append(ACTIVE_TARIFF)
    return KnownObject(key, CLASS_REGISTER, label + suffix, presented, requires=tuple(requires))


def _rated(name: str, rate: int) -> tuple[str, dict[str, str] | None]:
    """The translation key and placeholders of a total (rate 0) or a tariff's register."""
    return (name, None) if rate == 0 else (f"{name}_rate", {"rate": str(rate)})


def _energy_objects(channel: int) -> Iterator[KnownObject]:
    """Counters (D 8) and this month's (D 9) of every kind, total and per tariff."""
    for c, energy, _, words, _ in _KINDS:
        device_class, units, suggested = _ENERGY[c]
        shift = 3 if suggested else 0
        for rate in range(5):
            name, placeholders = _rated(energy, rate)
            of = "total" if rate == 0 else f"rate {rate}"
            enabled = rate == 0 and c in (1, 2)
            yield _register(
                channel,
                c,
                8,
                rate,
                f"{words} energy, {of}",
                AsSensor(
                    name=name,
                    placeholders=placeholders,
                    device_class=device_class,
                    state_class=SensorStateClass.TOTAL_INCREASING,
                    units=units,
                    suggested_unit=suggested,
                    display_shift=shift,
                    cumulative=True,
                    enabled=enabled,
                    enabled_with=ACTIVE_TARIFF if rate and c == 1 and channel == 1 else None,
                ),
            )
        for rate in range(5):
            name, placeholders = _rated(f"{energy}_month", rate)
            of = "total" if rate == 0 else f"rate {rate}"
            # No state class: it resets every billing period, so one glitch read (a zero) would be
            # taken for a new period and count the month twice in long-term statistics. The
            # counters (D 8) are the registers for the Energy dashboard.
            yield _register(
                channel,
                c,
                9,
                rate,
                f"{words} energy this billing period, {of}",
                AsSensor(
                    name=name,
                    placeholders=placeholders,
                    device_class=device_class,
                    units=units,
                    suggested_unit=suggested,
                    display_shift=shift,
                ),
            )


def _demand_objects(channel: int) -> Iterator[KnownObject]:
    """Maximum demand (D 2, total and per tariff) and rising demand (D 16) of every kind."""
    for c, _, _, words, kind in _KINDS:
        device_class, units = _POWER[c]
        for rate in range(5):
            name, placeholders = _rated(f"max_demand_{kind}", rate)
            of = "total" if rate == 0 else f"rate {rate}"
            yield _register(
                channel,
                c,
                2,
                rate,
                f"{words} cumulative maximum demand, {of}",
                AsSensor(
                    name=name, placeholders=placeholders, device_class=device_class, units=units
                ),
            )
        if channel != 1:
            continue  # the guide gives rising demand for channel 1 only
        yield _register(
            channel,
            c,
            16,
            0,
            f"{words} rising demand",
            AsSensor(
                name=f"rising_demand_{kind}",
                device_class=device_class,
                state_class=SensorStateClass.MEASUREMENT,
                units=units,
            ),
        )


def _measurement(
    name: str,
    device_class: SensorDeviceClass | None,
    units: frozenset[int],
    *,
    placeholders: dict[str, str] | None = None,
    enabled: bool = False,
    enabled_with: str | None = None,
) -> AsSensor:
    return AsSensor(
        name=name,
        placeholders=placeholders,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        units=units,
        enabled=enabled,
        enabled_with=enabled_with,
    )


def _instant_objects(channel: int) -> Iterator[KnownObject]:
    """Instantaneous sums (D 7), power factor, frequency and the monthly power factors."""
    main = channel == 1
    for c, _, power, words, _ in _KINDS:
        device_class, units = _POWER[c]
        yield _register(
            channel,
            c,
            7,
            0,
            f"instantaneous {words} power",
            _measurement(power, device_class, units, enabled=main and c in (1, 2)),
        )
    yield _register(
        channel,
        15,
        7,
        0,
        "instantaneous total active power",
        _measurement("power_total", SensorDeviceClass.POWER, _W),
    )
    yield _register(
        channel,
        13,
        7,
        0,
        "instantaneous power factor",
        _measurement("power_factor", SensorDeviceClass.POWER_FACTOR, UNITLESS, enabled=main),
    )
    yield _register(
        channel,
        14,
        7,
        0,
        "instantaneous frequency",
        _measurement("frequency", SensorDeviceClass.FREQUENCY, _HZ, enabled=main),
    )
    for rate in range(5):
        name, placeholders = _rated("power_factor_month", rate)
        yield _register(
            channel,
            13,
            0,
            rate,
            "monthly average power factor" + ("" if rate == 0 else f", rate {rate}"),
            AsSensor(
                name=name,
                placeholders=placeholders,
                device_class=SensorDeviceClass.POWER_FACTOR,
                units=UNITLESS,
            ),
        )


def _phase_objects(channel: int) -> Iterator[KnownObject]:
    """Per-phase powers, current, voltage and power factor; phase angles."""
    main = channel == 1
    for index in range(3):
        phase = str(index + 1)
        base = 21 + 20 * index
        for offset, name in _PHASE_POWER.items():
            device_class, units = _POWER[offset]
            words = next(words for c, _, _, words, _ in _KINDS if c == offset)
            yield _register(
                channel,
                base + offset - 1,
                7,
                0,
                f"L{phase} instantaneous {words} power",
                _measurement(
                    name,
                    device_class,
                    units,
                    placeholders={"phase": phase},
                    enabled=main and offset == 1,
                ),
            )
        phase_values: tuple[tuple[int, str, SensorDeviceClass, frozenset[int], str], ...] = (
            (11, "current_phase", SensorDeviceClass.CURRENT, _A, "current"),
            (12, "voltage_phase", SensorDeviceClass.VOLTAGE, _V, "voltage"),
            (13, "power_factor_phase", SensorDeviceClass.POWER_FACTOR, UNITLESS, "power factor"),
        )
        for offset, name, device_class, units, words in phase_values:
            yield _register(
                channel,
                base + offset - 1,
                7,
                0,
                f"L{phase} {words}",
                _measurement(
                    name,
                    device_class,
                    units,
                    placeholders={"phase": phase},
                    enabled=main and offset in (11, 12),
                ),
            )
    for e, name, phase, label in _ANGLES:
        yield _register(
            channel,
            81,
            7,
            e,
            label,
            _measurement(name, None, _DEGREES, placeholders={"phase": phase}),
        )


def _channel_objects(channel: int) -> Iterator[KnownObject]:
    yield from _energy_objects(channel)
    yield from _instant_objects(channel)
    yield from _phase_objects(channel)
    yield from _demand_objects(channel)


# -- the meter's own objects -------------------------------------------------------------------


def _diagnostic(sensor: AsSensor) -> AsSensor:
    return replace(sensor, category=EntityCategory.DIAGNOSTIC)


def _timestamp(name: str, category: EntityCategory | None = None) -> AsSensor:
    return AsSensor(
        name=name,
        device_class=SensorDeviceClass.TIMESTAMP,
        units=_ANY,
        value=ValueKind.TIMESTAMP,
        category=category,
    )


_SETTING = "a setting of the meter's alarm and event handling, not a reading"

_METER_OBJECTS: Final = (
    KnownObject(
        SERIAL_NUMBER,
        CLASS_DATA,
        "serial number",
        (_diagnostic(AsSensor(name="serial_number", value=ValueKind.SERIAL, enabled=True)),),
    ),
    KnownObject(
        FIRMWARE,
        CLASS_DATA,
        "active firmware identifier",
        (_diagnostic(AsSensor(name="firmware", value=ValueKind.FIRMWARE, enabled=True)),),
    ),
    KnownObject(
        CLOCK,
        CLASS_CLOCK,
        "clock",
        (
            _diagnostic(
                AsSensor(
                    name="clock_drift",
                    device_class=SensorDeviceClass.DURATION,
                    state_class=SensorStateClass.MEASUREMENT,
                    units=_ANY,
                    value=ValueKind.CLOCK_DRIFT,
                    enabled=True,
                )
            ),
        ),
    ),
    KnownObject(
        "1.0.0.1.0.255",
        CLASS_REGISTER,
        "billing period counter",
        (_diagnostic(AsSensor(name="billing_period_counter")),),
    ),
    KnownObject(
        "1.0.0.1.2.255",
        CLASS_REGISTER,
        "time stamp of the most recent billing period end",
        (
            _timestamp("billing_period_end"),
            AsEvent(name="billing_period", event_type="closed"),
        ),
    ),
    KnownObject(
        "0.0.97.97.0.255", CLASS_REGISTER, "error code", (_diagnostic(AsSensor(name="error_code")),)
    ),
    KnownObject(
        "1.0.0.3.3.255",
        CLASS_REGISTER,
        "meter constant, active energy pulse output",
        (
            _diagnostic(
                AsSensor(name="meter_constant_active", units=frozenset({Unit.PER_WATT_HOUR}))
            ),
        ),
    ),
    KnownObject(
        "1.0.0.3.4.255",
        CLASS_REGISTER,
        "meter constant, reactive energy pulse output",
        (
            _diagnostic(
                AsSensor(name="meter_constant_reactive", units=frozenset({Unit.PER_VAR_HOUR}))
            ),
        ),
    ),
    *(
        KnownObject(
            f"1.0.0.4.{e}.255",
            CLASS_REGISTER,
            label,
            (_diagnostic(AsSensor(name=name, device_class=device_class, units=units)),),
        )
        for e, name, label, device_class, units in (
            (2, "ct_primary", "current transformer primary", SensorDeviceClass.CURRENT, _A),
            (3, "vt_primary", "voltage transformer primary", SensorDeviceClass.VOLTAGE, _V),
            (5, "ct_secondary", "current transformer secondary", SensorDeviceClass.CURRENT, _A),
            (6, "vt_secondary", "voltage transformer secondary", SensorDeviceClass.VOLTAGE, _V),
        )
    ),
    KnownObject(
        "0.0.96.2.0.255",
        CLASS_REGISTER,
        "number of configuration changes",
        (
            _diagnostic(
                AsSensor(
                    name="configuration_changes", state_class=SensorStateClass.TOTAL_INCREASING
                )
            ),
        ),
    ),
    KnownObject(
        "0.0.96.2.1.255",
        CLASS_REGISTER,
        "date of the last configuration change",
        (
            _timestamp("configuration_changed_at", EntityCategory.DIAGNOSTIC),
            AsEvent(name="configuration", event_type="changed"),
        ),
    ),
    KnownObject(
        "0.0.96.3.0.255",
        CLASS_REGISTER,
        "dual-source channel selection mode",
        (_diagnostic(AsSensor(name="dual_source_mode")),),
    ),
    KnownObject(
        "0.0.96.3.3.255",
        CLASS_REGISTER,
        "dual-source channel carrying the load",
        (AsSensor(name="dual_source_channel"),),
    ),
    KnownObject(
        ACTIVE_TARIFF,
        CLASS_REGISTER,
        "currently active tariff",
        (
            AsSensor(
                name="active_tariff",
                device_class=SensorDeviceClass.ENUM,
                value=ValueKind.TARIFF,
                enabled=True,
            ),
        ),
    ),
    KnownObject(
        "0.0.96.20.5.255",
        CLASS_REGISTER,
        "terminal cover openings",
        (
            _diagnostic(
                AsSensor(
                    name="terminal_cover_openings", state_class=SensorStateClass.TOTAL_INCREASING
                )
            ),
        ),
    ),
    KnownObject(
        "0.0.96.20.6.255",
        CLASS_REGISTER,
        "time the terminal cover was last opened",
        (
            _timestamp("terminal_cover_opened_at"),
            AsEvent(name="terminal_cover", event_type="opened"),
        ),
    ),
    KnownObject(
        "0.0.96.51.4.255",
        CLASS_REGISTER,
        "time the meter cover was last opened",
        (
            _timestamp("meter_cover_opened_at"),
            AsEvent(name="meter_cover", event_type="opened"),
        ),
    ),
    *(
        KnownObject(
            f"0.0.96.51.4.{f}",
            CLASS_REGISTER,
            f"time the meter cover was opened, {f} before the most recent",
            not_presented="history: the most recent opening (0-0:96.51.4) is presented",
        )
        for f in range(1, 11)
    ),
    KnownObject("0.0.10.138.103.255", CLASS_REGISTER, "LED alarm control", not_presented=_SETTING),
    KnownObject(
        "0.0.240.23.0.255",
        CLASS_REGISTER,
        "timing task start date-time",
        not_presented="a schedule setting of the meter, not a reading",
    ),
    KnownObject("0.0.240.26.0.255", CLASS_REGISTER, "event alarm control", not_presented=_SETTING),
    *(
        KnownObject(
            f"0.0.240.26.{e}.255",
            CLASS_REGISTER,
            f"trigger events of event log {e}",
            not_presented=_SETTING,
        )
        for e in range(1, 5)
    ),
)

# Channel-1 objects outside the vendor's guide that other Microstar meters have.
_OTHER_DEMAND: Final = (
    KnownObject(
        "1.1.1.6.0.255",
        CLASS_EXTENDED_REGISTER,
        "peak demand, active import (with its capture time)",
        (AsSensor(name="peak_demand_import", device_class=SensorDeviceClass.POWER, units=_W),),
    ),
    KnownObject(
        "1.1.1.4.0.255",
        CLASS_DEMAND_REGISTER,
        "average demand of the current period, active import",
        (
            AsSensor(
                name="average_demand_import",
                device_class=SensorDeviceClass.POWER,
                state_class=SensorStateClass.MEASUREMENT,
                units=_W,
            ),
        ),
    ),
)


def _all() -> dict[str, KnownObject]:
    objects: dict[str, KnownObject] = {}
    for known in (
        *_channel_objects(1),
        *_OTHER_DEMAND,
        *_METER_OBJECTS,
        *_channel_objects(2),
        *_channel_objects(3),
    ):
        if known.key in objects:
            raise ValueError(f"{known.key} is catalogued twice")
        objects[known.key] = known
    return objects


CATALOGUE: Final[Mapping[str, KnownObject]] = _all()
"""Every object the integration knows, by dotted OBIS key."""

PRESENTED: Final[Mapping[str, KnownObject]] = {
    key: known for key, known in CATALOGUE.items() if known.presented
}
"""The objects with an entity."""

PROBED: Final[Mapping[str, KnownObject]] = {
    key: known for key, known in PRESENTED.items() if key != SERIAL_NUMBER
}
"""What discovery probes: the presented objects; the serial number is read on every identity
check anyway."""


def presentations(platform: Platform) -> Iterator[tuple[KnownObject, Presentation]]:
    """Every (object, presentation) of one platform, in catalogue order."""
    for known in PRESENTED.values():
        for presentation in known.presented:
            if presentation.platform is platform:
                yield known, presentation
