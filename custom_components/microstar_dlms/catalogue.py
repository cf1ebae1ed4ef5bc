"""The catalogue: every object the integration knows, what it is, and how it is presented.

The objects are data, in ``catalogue.csv`` beside this module: first every row of the vendor's
guide, in its order, its columns ``obis``, ``class``, ``channel`` and ``description`` as the
vendor wrote them (``source`` guide; a test pins them), then the objects outside the guide
(``source`` other). The other columns say how Home Assistant shows an object:

- ``sensor``: the sensor's translation key (``entity.sensor.<key>``) with its ``placeholders``
  (``rate=1``); ``kind``, a key of KINDS (device class, accepted units, display); ``state_class``;
  ``cumulative`` (yes: a register that only grows, published through its glitch guard);
  ``enabled`` by default (yes, or an OBIS code: on a meter that has that object); ``category``.
- ``event``: the event entity's translation key and its ``event_type`` (enabled by default).
- ``freshness``: how often a presented object is read (``freshness.Freshness``: live every 5 s
  where the line has room, standard every 30 s, slow every 15 minutes).
- ``requires``: objects (space-separated) the meter must have before this one is probed.
- ``not_presented``: why an object has no entity.

A row of ``source`` computed is no object of the meter: the integration computes its value from
the objects it ``requires``, read in the same session (the net power, OBIS 16.7.0, is the first
minus the second: import minus export). It is never probed.

A row ending in ``*X`` is a history: objects F = 1 .. HISTORY_DEPTH. The table is read once, at
import (Home Assistant imports an integration in its import executor, off the event loop). The
platforms build their entity descriptions from here; discovery probes the presented objects;
``docs/objects.md`` is generated from it (``scripts/objects-doc``).

Channel 1 (value group B 1) is what the meter measures. A dual-source meter also has channel 2
(the source carrying the load) and channel 3 (the standby source), presented as devices of their
own; their objects are probed only once the channel's energy register answers. A channel's
sensor keys start with its source (CHANNEL_SOURCES: ``load_source_energy_import``), so its
entities are never named as the meter's own (the Energy dashboard lists both).
"""

from collections.abc import Collection, Iterator, Mapping
import csv
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Final

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    EntityCategory,
    Platform,
    UnitOfEnergy,
    UnitOfReactiveEnergy,
    UnitOfTime,
)

from .dlms import DecodeError
from .dlms.obis import UNITLESS, Obis, Unit
from .freshness import Freshness

TABLE: Final = Path(__file__).with_name("catalogue.csv")
THREE_PHASE_MARKER: Final = "1.1.52.7.0.255"  # voltage L2: single-phase meters do not have it
TARIFF_STATES: Final = ("rate_1", "rate_2", "rate_3", "rate_4")
CHANNELS: Final = (1, 2, 3)
CHANNEL_SOURCES: Final[Mapping[int, str]] = {2: "load_source", 3: "standby_source"}
"""What channels 2 and 3 are, in the guide's words: the translation key of the channel's device
and the start of its sensors' keys."""
# The guide writes the cover-open history as 0-0:96.51.4*X without giving its depth.
HISTORY_DEPTH: Final = 10


class ValueKind(StrEnum):
    """Where an entity's value comes from and what it is."""

    NUMBER = "number"  # a scaled register value
    TIMESTAMP = "timestamp"  # a register holding a date-time
    TARIFF = "tariff"  # the active tariff number, as one of TARIFF_STATES
    CLOCK_DRIFT = "clock_drift"  # seconds the meter clock is ahead


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorKind:
    """What a sensor's value is, in Home Assistant's terms."""

    device_class: SensorDeviceClass | None = None
    units: frozenset[int] = UNITLESS
    """COSEM unit codes accepted from the meter's scaler_unit; anything else is not shown."""
    suggested_unit: str | None = None
    display_shift: int = 0
    """Decimal places the suggested unit adds (3 for Wh shown as kWh)."""
    value: ValueKind = ValueKind.NUMBER
    native_unit: str | None = None
    """The unit of a value the integration computes (the meter's scaler_unit gives the others)."""
    precision: int | None = None

    @property
    def numeric(self) -> bool:
        """A number with a unit from the meter (not a date-time, an enum or a text)."""
        return self.value is ValueKind.NUMBER


def _units(*units: Unit) -> frozenset[int]:
    return frozenset(units)


_ANY_UNIT: Final = frozenset(range(256))

KINDS: Final[Mapping[str, SensorKind]] = {
    "energy": SensorKind(
        device_class=SensorDeviceClass.ENERGY,
        units=_units(Unit.WATT_HOUR),
        suggested_unit=UnitOfEnergy.KILO_WATT_HOUR,
        display_shift=3,
    ),
    "reactive_energy": SensorKind(
        device_class=SensorDeviceClass.REACTIVE_ENERGY,
        units=_units(Unit.VAR_HOUR),
        suggested_unit=UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
        display_shift=3,
    ),
    "apparent_energy": SensorKind(units=_units(Unit.VOLT_AMPERE_HOUR)),
    "power": SensorKind(device_class=SensorDeviceClass.POWER, units=_units(Unit.WATT)),
    "reactive_power": SensorKind(
        device_class=SensorDeviceClass.REACTIVE_POWER, units=_units(Unit.VAR)
    ),
    "apparent_power": SensorKind(
        device_class=SensorDeviceClass.APPARENT_POWER, units=_units(Unit.VOLT_AMPERE)
    ),
    "current": SensorKind(device_class=SensorDeviceClass.CURRENT, units=_units(Unit.AMPERE)),
    "voltage": SensorKind(device_class=SensorDeviceClass.VOLTAGE, units=_units(Unit.VOLT)),
    "frequency": SensorKind(device_class=SensorDeviceClass.FREQUENCY, units=_units(Unit.HERTZ)),
    "power_factor": SensorKind(device_class=SensorDeviceClass.POWER_FACTOR),
    "angle": SensorKind(units=_units(Unit.DEGREE)),
    "number": SensorKind(),  # a count, a code or a mode: no unit
    "active_meter_constant": SensorKind(units=_units(Unit.PER_WATT_HOUR)),
    "reactive_meter_constant": SensorKind(units=_units(Unit.PER_VAR_HOUR)),
    "timestamp": SensorKind(
        device_class=SensorDeviceClass.TIMESTAMP, units=_ANY_UNIT, value=ValueKind.TIMESTAMP
    ),
    "tariff": SensorKind(device_class=SensorDeviceClass.ENUM, value=ValueKind.TARIFF),
    "clock_drift": SensorKind(
        device_class=SensorDeviceClass.DURATION,
        units=_ANY_UNIT,
        value=ValueKind.CLOCK_DRIFT,
        native_unit=UnitOfTime.SECONDS,
        precision=0,
    ),
}
"""The ``kind`` column's values: what each is to Home Assistant."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AsSensor:
    """Presented as a sensor."""

    platform: ClassVar[Platform] = Platform.SENSOR
    name: str
    """Translation key (``entity.sensor.<name>``)."""
    placeholders: Mapping[str, str] | None = None
    kind: SensorKind
    state_class: SensorStateClass | None = None
    cumulative: bool = False
    """A register that only grows: a decrease (or a drop to zero) is a glitch, never published."""
    enabled: bool = False
    enabled_with: str | None = None
    """Enabled by default when the meter has this object too (tariff counters: the tariff)."""
    category: EntityCategory | None = None


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


type Presentation = AsSensor | AsEvent


@dataclass(frozen=True, slots=True)
class KnownObject:
    """An object the integration knows."""

    key: str
    class_id: int
    label: str
    """What it is: the guide's description, or a few English words for an object outside it."""
    presented: tuple[Presentation, ...] = ()
    not_presented: str = ""
    """Why it has no entity (when ``presented`` is empty)."""
    requires: tuple[str, ...] = ()
    """Probed only once the meter has these objects (a channel's energy total; the active
    tariff for tariff registers beyond import energy), never where one is absent. A computed
    object's inputs."""
    freshness: Freshness | None = None
    """How often it is read (None: not presented, never read for an entity)."""
    computed: bool = False
    """Not the meter's: computed from ``requires`` (the first minus the second)."""

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


# -- the table ------------------------------------------------------------------------------


def _keys(obis: str) -> list[str]:
    """The dotted keys a row stands for (``*X``: a history, F = 1 .. HISTORY_DEPTH)."""
    if obis.endswith("*X"):
        code = Obis.parse(obis.removesuffix("*X"))
        return [replace(code, f=f).dotted for f in range(1, HISTORY_DEPTH + 1)]
    return [Obis.parse(obis).dotted]


def _yes(cell: str) -> bool:
    if cell not in ("", "yes"):
        raise ValueError(f"{cell!r} is neither yes nor empty")
    return cell == "yes"


def _codes(cell: str) -> tuple[str, ...]:
    """Space-separated OBIS codes as dotted keys."""
    return tuple(Obis.parse(code).dotted for code in cell.split())


def _sensor(row: Mapping[str, str]) -> AsSensor:
    enabled = row["enabled"]
    return AsSensor(
        name=row["sensor"],
        placeholders=dict(p.split("=", 1) for p in row["placeholders"].split()) or None,
        kind=KINDS[row["kind"]],
        state_class=SensorStateClass(row["state_class"]) if row["state_class"] else None,
        cumulative=_yes(row["cumulative"]),
        enabled=enabled == "yes",
        enabled_with=_codes(enabled)[0] if enabled not in ("", "yes") else None,
        category=EntityCategory(row["category"]) if row["category"] else None,
    )


def _presented(row: Mapping[str, str]) -> tuple[Presentation, ...]:
    """The row's sensor and event, in that order."""
    presented: list[Presentation] = []
    if row["sensor"]:
        presented.append(_sensor(row))
    if row["event"]:
        if not row["event_type"]:
            raise ValueError("an event without its event_type")
        presented.append(AsEvent(name=row["event"], event_type=row["event_type"]))
    if not presented and not row["not_presented"]:
        raise ValueError("neither presented nor a reason why not")
    return tuple(presented)


def _freshness(row: Mapping[str, str], presented: tuple[Presentation, ...]) -> Freshness | None:
    """A presented object's class (every one has one); none for the others."""
    if not presented:
        if row["freshness"]:
            raise ValueError("a freshness for an object not presented")
        return None
    return Freshness(row["freshness"])


def _objects(row: Mapping[str, str]) -> Iterator[KnownObject]:
    """The objects of one row of the table."""
    presented = _presented(row)
    computed = row["source"] == "computed"
    requires = _codes(row["requires"])
    if computed and (len(requires) != 2 or not row["sensor"] or row["event"]):
        raise ValueError(
            "a computed object is a sensor of two objects (the first minus the second)"
        )
    for key in _keys(row["obis"]):
        yield KnownObject(
            key,
            int(row["class"]),
            row["description"],
            presented,
            not_presented=row["not_presented"],
            requires=requires,
            freshness=_freshness(row, presented),
            computed=computed,
        )


def _read_row(row: Mapping[str, str], where: str) -> list[KnownObject]:
    """The objects of a row; a malformed row is an error that names its line."""
    try:
        return list(_objects(row))
    except (KeyError, ValueError, DecodeError) as err:
        raise ValueError(f"{where} ({row['obis']}): {err}") from err


def load(path: Path = TABLE) -> dict[str, KnownObject]:
    """Every object of the table, by dotted OBIS key, in the table's order."""
    objects: dict[str, KnownObject] = {}
    with path.open(encoding="utf-8", newline="") as table:
        for line, row in enumerate(csv.DictReader(table), start=2):
            where = f"{path.name} line {line}"
            for known in _read_row(row, where):
                if known.key in objects:
                    raise ValueError(f"{where}: {known.key} is catalogued twice")
                objects[known.key] = known
    return objects


CATALOGUE: Final[Mapping[str, KnownObject]] = load()
"""Every object the integration knows, by dotted OBIS key."""

PRESENTED: Final[Mapping[str, KnownObject]] = {
    key: known for key, known in CATALOGUE.items() if known.presented
}
"""The objects with an entity."""


def _probe_rank(known: KnownObject) -> tuple[int, int, bool, bool]:
    """Enabled by default (0), enabled with another object (1), the rest (2); then channel 1's
    device before the others', its readings before the meter's own objects; counters first."""
    if any(p.enabled for p in known.presented):
        enabled = 0
    else:
        enabled = 1 if any(p.enabled_with for p in known.presented) else 2
    obis = Obis.parse(known.key)
    reading = obis.a == 1 and obis.b in CHANNELS
    counter = any(isinstance(p, AsSensor) and p.cumulative for p in known.presented)
    return enabled, known.channel, not reading, not counter


PROBED: Final[Mapping[str, KnownObject]] = {
    known.key: known for known in sorted(PRESENTED.values(), key=_probe_rank) if not known.computed
}
"""What discovery probes, in the order it asks: the presented objects of the meter (the serial
number and the firmware, read at every identity check, are not presented; computed ones are no
object of the meter). Enabled entities' first, then
those another object enables (the tariff's registers: enabled once the tariff answers, earlier
in the same poll), then the rest.
Within each: channel 1's readings, the meter's own objects, channels 2 and 3 (whose objects wait
for their energy counter); energy counters (the Energy dashboard's) first; else in table order."""


COMPUTED: Final[Mapping[str, KnownObject]] = {
    key: known for key, known in PRESENTED.items() if known.computed
}
"""The objects the integration computes (net power), by key."""

FRESHNESS: Final[Mapping[str, Freshness | None]] = {
    key: known.freshness for key, known in CATALOGUE.items()
}
"""How often each object is read, by key."""


def presentations(platform: Platform) -> Iterator[tuple[KnownObject, Presentation]]:
    """Every (object, presentation) of one platform, in catalogue order."""
    for known in PRESENTED.values():
        for presentation in known.presented:
            if presentation.platform is platform:
                yield known, presentation


def channel_marker(channel: int) -> str | None:
    """The object a channel's others wait for: its import energy total (none for channel 1)."""
    return None if channel == 1 else f"1.{channel}.1.8.0.255"
