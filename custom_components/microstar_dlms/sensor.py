"""Sensors of a Microstar meter: one description per OBIS object, units from the meter.

A sensor is unavailable while the meter cannot be read (the poll failed) and unknown when the
meter answered but refused or left out its value.
"""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from time import monotonic
from typing import Any, Final, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .catalogue import (
    CATALOGUE,
    COMPUTED,
    TARIFF_STATES,
    AsSensor,
    ValueKind,
    presentation_enabled,
    presentations,
)
from .const import LOGGER
from .coordinator import MicrostarConfigEntry, MicrostarCoordinator
from .cosem import ScalerUnit
from .devices import async_on_channel_removed
from .discovery import MeterDiscovery
from .energy_guard import REBASE_AFTER_READS, WH_PER_UNIT, EnergyGuard, Verdict
from .entity import MicrostarEntity
from .entity_pacing import async_add_as_confirmed
from .reading import MeterReading, computed_unit

PARALLEL_UPDATES = 0

ATTR_CAPTURE_TIME: Final = "capture_time"

type SensorValue = Decimal | datetime | str | float | None


def _value(reading: MeterReading, key: str) -> Decimal | datetime | None:
    """The value of an object read this poll (None: refused, or not read)."""
    measured = reading.values.get(key)
    return None if measured is None else measured.value


def _number(reading: MeterReading, meter: MeterDiscovery, key: str) -> SensorValue:
    """The scaled value of a register read this poll."""
    value = _value(reading, key)
    return value if isinstance(value, Decimal) else None


def _timestamp(reading: MeterReading, meter: MeterDiscovery, key: str) -> SensorValue:
    """The date-time a register held this poll."""
    value = _value(reading, key)
    return value if isinstance(value, datetime) else None


def _tariff(reading: MeterReading, meter: MeterDiscovery, key: str) -> SensorValue:
    """The active tariff as one of the enum's states (None for a number outside them)."""
    value = _value(reading, key)
    if not isinstance(value, Decimal) or value != value.to_integral_value():
        return None
    state = f"rate_{int(value)}"
    return state if state in TARIFF_STATES else None


def _discovered(meter: MeterDiscovery, key: str) -> bool:
    """Whether the meter has this object (per its object list and scaler read)."""
    return key in meter.objects


def _computable(meter: MeterDiscovery, key: str) -> bool:
    """Whether the meter has the objects a computed one is made of, in one unit (net power)."""
    return computed_unit(meter, COMPUTED[key]) is not None


def scaler_unit_of(meter: MeterDiscovery, key: str) -> ScalerUnit | None:
    """The scaler_unit an object's values come in (a computed one's: its inputs')."""
    known = COMPUTED.get(key)
    return meter.scaler_units.get(key) if known is None else computed_unit(meter, known)


_VALUES: Final[dict[ValueKind, Callable[[MeterReading, MeterDiscovery, str], SensorValue]]] = {
    ValueKind.NUMBER: _number,
    ValueKind.TIMESTAMP: _timestamp,
    ValueKind.TARIFF: _tariff,
    ValueKind.CLOCK_DRIFT: lambda reading, meter, key: reading.clock_drift,
}


@dataclass(frozen=True, kw_only=True)
class MicrostarSensorEntityDescription(SensorEntityDescription):
    """A sensor for one OBIS object; ``key`` is the dotted OBIS code."""

    presentation: AsSensor
    """The catalogue's row: its kind gives the units accepted and the display shift."""
    unit: ScalerUnit | None = None
    """The meter's scaler_unit the entity shows its values in (None: the object has none)."""
    has_fn: Callable[[MeterDiscovery, str], bool] = _discovered
    value_fn: Callable[[MeterReading, MeterDiscovery, str], SensorValue] = _number


def _description(key: str, sensor: AsSensor) -> MicrostarSensorEntityDescription:
    """The sensor description of one catalogued object."""
    kind = sensor.kind
    return MicrostarSensorEntityDescription(
        key=key,
        translation_key=sensor.name,
        translation_placeholders=sensor.placeholders,
        device_class=kind.device_class,
        state_class=sensor.state_class,
        native_unit_of_measurement=kind.native_unit,
        suggested_display_precision=kind.precision,
        suggested_unit_of_measurement=kind.suggested_unit,
        options=list(TARIFF_STATES) if kind.value is ValueKind.TARIFF else None,
        entity_category=sensor.category,
        entity_registry_enabled_default=sensor.enabled,
        presentation=sensor,
        has_fn=_computable if key in COMPUTED else _discovered,
        value_fn=_VALUES[kind.value],
    )


SENSORS: tuple[MicrostarSensorEntityDescription, ...] = tuple(
    _description(known.key, sensor)
    for known, sensor in presentations(Platform.SENSOR)
    if isinstance(sensor, AsSensor)
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrostarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every described object the meter has, as discovery confirms them."""
    coordinator = entry.runtime_data.coordinator
    meter = entry.runtime_data.meter
    built: dict[str, ScalerUnit | None] = {}  # key -> the scaler_unit its entity was built with

    def _is_new(description: MicrostarSensorEntityDescription) -> bool:
        """Whether the meter has the object and its entity is not built yet."""
        return description.key not in built and description.has_fn(meter, description.key)

    def _build(description: MicrostarSensorEntityDescription) -> MicrostarSensorEntity | None:
        """The entity in the meter's unit (None when that unit does not fit its kind)."""
        unit = built[description.key] = scaler_unit_of(meter, description.key)
        sized = _fitted(description, meter, unit)
        if sized is None:
            return None
        cumulative = sized.presentation.cumulative
        entity_type = MicrostarEnergySensorEntity if cumulative else MicrostarSensorEntity
        return entity_type(coordinator, sized, meter)

    def _unit_changed() -> bool:
        """Rediscovery (new firmware) changed a known unit: entities are built again."""
        return any(
            (now := scaler_unit_of(meter, key)) is not None and now != scaler_unit
            for key, scaler_unit in built.items()
        )

    @callback
    def _forget_channel(channel: int) -> None:
        """A channel's device was removed with its entities: build them again if it comes back."""
        for key in [key for key in built if CATALOGUE[key].channel == channel]:
            del built[key]

    await async_add_as_confirmed(
        hass,
        entry,
        async_add_entities,
        SENSORS,
        is_new=_is_new,
        build=_build,
        reload_when=_unit_changed,
    )
    entry.async_on_unload(async_on_channel_removed(hass, meter.serial, _forget_channel))


# The descriptions the meters' entities are built with, one per object, default and scaler_unit
# in the process: not two copies per entity (scripts/bench: objects_alive_per_meter).
_FITTED: dict[tuple[str, bool, ScalerUnit | None], MicrostarSensorEntityDescription] = {}


def _fitted(
    description: MicrostarSensorEntityDescription,
    meter: MeterDiscovery,
    unit: ScalerUnit | None,
) -> MicrostarSensorEntityDescription | None:
    """The description enabled by default as the meter's objects say, in the meter's unit."""
    enabled = presentation_enabled(description.presentation, meter.objects)
    shared = (description.key, enabled, unit)
    if (fitted := _FITTED.get(shared)) is None:
        fitted = fit_to_meter_unit(
            replace(description, entity_registry_enabled_default=enabled), unit, meter.serial
        )
        if fitted is None:
            return None  # said in the log, for each meter
        _FITTED[shared] = fitted
    return fitted


def fit_to_meter_unit(
    description: MicrostarSensorEntityDescription, scaler_unit: ScalerUnit | None, serial: str
) -> MicrostarSensorEntityDescription | None:
    """The description with the unit and precision of the meter's ``scaler_unit`` (None when
    the unit does not fit the row's kind: no sensor)."""
    if scaler_unit is None:
        return description
    kind = description.presentation.kind
    if scaler_unit.unit not in kind.units:
        LOGGER.warning(
            "Meter %s reports unit code %s for %s, which does not fit a %s sensor; not shown",
            serial,
            scaler_unit.unit,
            description.key,
            description.translation_key,
        )
        return None
    if not kind.numeric:
        return replace(description, unit=scaler_unit)  # a date-time, an enum, a text: no unit
    return replace(
        description,
        unit=scaler_unit,
        native_unit_of_measurement=scaler_unit.symbol,
        suggested_display_precision=max(0, kind.display_shift - scaler_unit.scaler),
    )


class MicrostarSensorEntity(MicrostarEntity, SensorEntity):
    """A value of the meter."""

    entity_description: MicrostarSensorEntityDescription

    def __init__(
        self,
        coordinator: MicrostarCoordinator,
        description: MicrostarSensorEntityDescription,
        meter: MeterDiscovery,
    ) -> None:
        """Initialize the sensor."""
        super().__init__(coordinator, description, meter)
        self._meter = meter

    def _current(self) -> SensorValue:
        """The value of this poll, unfiltered; None for a value scaled to another unit than
        the entity's (the meter was learned again: the entity is built again)."""
        description = self.entity_description
        reading = self.coordinator.data
        measured = reading.values.get(description.key)
        if measured is not None and measured.unit != description.unit:
            return None
        return description.value_fn(reading, self._meter, description.key)

    @property
    @override
    def native_value(self) -> SensorValue:
        """The value of this poll (None, unknown, when the meter refused or left it out)."""
        return self._current()

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """A demand register's capture time (when its value was reached)."""
        captured = self.coordinator.data.capture_times.get(self.entity_description.key)
        return None if captured is None else {ATTR_CAPTURE_TIME: captured.isoformat()}


class MicrostarEnergySensorEntity(MicrostarSensorEntity, RestoreSensor):
    """A cumulative register, published through its glitch guard (energy_guard.py).

    The last published value, restored across restarts, is the floor; dropped reads are
    logged and counted in the coordinator's poll health.
    """

    _guard: EnergyGuard

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the last published value as the floor, then take this poll's value."""
        await super().async_added_to_hass()
        self._guard = EnergyGuard(WH_PER_UNIT.get(self.native_unit_of_measurement or ""))
        last = await self.async_get_last_sensor_data()
        if (
            last is not None
            and last.native_unit_of_measurement == self.native_unit_of_measurement
            and last.native_value is not None
        ):
            with suppress(InvalidOperation):
                self._guard.restore(Decimal(str(last.native_value)))
        self._accept(self._current())

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Filter a new read through the guard before writing state."""
        if self.read_now:
            self._accept(self._current())
        super()._handle_coordinator_update()

    def _accept(self, value: SensorValue) -> None:
        """Hand a read to the guard; log what it did not simply publish."""
        if not isinstance(value, Decimal):
            return
        floor = self._guard.published
        verdict = self._guard.accept(value, monotonic())
        key = self.entity_description.key
        if verdict is Verdict.REBASED:
            LOGGER.warning(
                "Meter %s: %s read under %s for %d polls in a row (now %s); taking that as the "
                "meter's total",
                self._meter.serial,
                key,
                floor,
                REBASE_AFTER_READS,
                value,
            )
        elif verdict is not Verdict.PUBLISHED:
            self.coordinator.record_glitch()
            LOGGER.warning(
                "Meter %s: %s read %s after %s; dropped as a glitch (%s, not a meter reset)",
                self._meter.serial,
                key,
                value,
                floor,
                verdict,
            )

    @property
    @override
    def native_value(self) -> SensorValue:
        """The last value that passed the guard; unknown when the meter refused this poll's
        read, or before any value passed."""
        if self._current() is None:
            return None
        return self._guard.published
