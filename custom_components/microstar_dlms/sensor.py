"""Sensors of a Microstar meter: one description per OBIS object, units from the meter."""

import asyncio
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from time import monotonic
from typing import Any, Final, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfEnergy,
    UnitOfReactiveEnergy,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import LOGGER
from .coordinator import (
    CatalogueEntry,
    MeterReading,
    MicrostarConfigEntry,
    MicrostarCoordinator,
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
    ScalerUnit,
)
from .discovery import MeterDiscovery
from .dlms.obis import UNITLESS, Unit
from .energy_guard import REBASE_AFTER_READS, WH_PER_UNIT, EnergyGuard, Verdict
from .entity import MicrostarEntity

PARALLEL_UPDATES = 0

type SensorValue = Decimal | str | float | None

# COSEM units each kind of sensor accepts from the meter's scaler_unit (anything else: no sensor).
_WH = frozenset({Unit.WATT_HOUR})
_VARH = frozenset({Unit.VAR_HOUR})
_VAH = frozenset({Unit.VOLT_AMPERE_HOUR})
_W = frozenset({Unit.WATT})
_VAR = frozenset({Unit.VAR})
_VA = frozenset({Unit.VOLT_AMPERE})
_V = frozenset({Unit.VOLT})
_A = frozenset({Unit.AMPERE})
_HZ = frozenset({Unit.HERTZ})
_UNITLESS = UNITLESS
_DEGREES = frozenset({Unit.DEGREE})


def _register_value(reading: MeterReading, meter: MeterDiscovery, key: str) -> SensorValue:
    """The scaled value of a register read this poll."""
    return reading.values.get(key)


def _discovered(meter: MeterDiscovery, key: str) -> bool:
    """Whether the meter has this object (per its object list and scaler read)."""
    return key in meter.objects


@dataclass(frozen=True, kw_only=True)
class MicrostarSensorEntityDescription(SensorEntityDescription):
    """A sensor for one OBIS object; ``key`` is the dotted OBIS code."""

    class_id: int = CLASS_REGISTER
    units: frozenset[int] = frozenset()
    """COSEM unit codes accepted for this object; anything else is not shown."""
    display_shift: int = 0
    """Decimal places the suggested unit adds (3 for Wh shown as kWh)."""
    cumulative: bool = False
    """A register that only grows: a decrease (or a drop to zero) is a glitch, never published."""
    has_fn: Callable[[MeterDiscovery, str], bool] = _discovered
    value_fn: Callable[[MeterReading, MeterDiscovery, str], SensorValue] = _register_value


def _described(
    key: str,
    name: str,
    *,
    placeholders: dict[str, str] | None = None,
    enabled: bool = False,
    **fields: Any,
) -> MicrostarSensorEntityDescription:
    """A sensor description named by a translation key (and its placeholders)."""
    return MicrostarSensorEntityDescription(
        key=key,
        translation_key=name,
        translation_placeholders=placeholders,
        entity_registry_enabled_default=enabled,
        **fields,
    )


def _energy(key: str, name: str, **fields: Any) -> MicrostarSensorEntityDescription:
    """A cumulative energy register (active by default, as the Energy dashboard wants it)."""
    energy: dict[str, Any] = {
        "device_class": SensorDeviceClass.ENERGY,
        "state_class": SensorStateClass.TOTAL_INCREASING,
        "suggested_unit_of_measurement": UnitOfEnergy.KILO_WATT_HOUR,
        "units": _WH,
        "display_shift": 3,
        "cumulative": True,
    }
    return _described(key, name, **(energy | fields))


def _measurement(
    key: str,
    name: str,
    device_class: SensorDeviceClass | None,
    units: frozenset[int],
    **fields: Any,
) -> MicrostarSensorEntityDescription:
    """An instantaneous value (power, voltage, current, ...)."""
    return _described(
        key,
        name,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        units=units,
        **fields,
    )


def _phase_measurement(
    name: str,
    codes: tuple[int, int, int],
    device_class: SensorDeviceClass,
    units: frozenset[int],
) -> Iterator[MicrostarSensorEntityDescription]:
    """One measurement per phase (C = ``codes`` for L1, L2, L3); L1 enabled where the
    single-phase total has no object of its own (voltage, current)."""
    for phase, code in enumerate(codes, start=1):
        yield _measurement(
            f"1.1.{code}.7.0.255",
            f"{name}_phase",
            device_class,
            units,
            placeholders={"phase": str(phase)},
            enabled=phase == 1 and name in ("voltage", "current"),
        )


SENSORS: tuple[MicrostarSensorEntityDescription, ...] = (
    _energy("1.1.1.8.0.255", "energy_import", enabled=True),
    _energy("1.1.2.8.0.255", "energy_export", enabled=True),
    *(
        _energy(f"1.1.1.8.{rate}.255", "energy_import_rate", placeholders={"rate": str(rate)})
        for rate in range(1, 5)
    ),
    MicrostarSensorEntityDescription(
        key="1.1.1.9.0.255",
        translation_key="energy_import_month",
        device_class=SensorDeviceClass.ENERGY,
        # No state class: it resets every billing period, so one glitch read (a zero) would be
        # taken for a new period and count the month twice in long-term statistics. Energy
        # import total (1.8.0) is the register for the Energy dashboard.
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        units=_WH,
        display_shift=3,
        entity_registry_enabled_default=False,
    ),
    *(
        _energy(
            key,
            name,
            device_class=SensorDeviceClass.REACTIVE_ENERGY,
            suggested_unit_of_measurement=UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
            units=_VARH,
        )
        for key, name in (
            ("1.1.3.8.0.255", "reactive_energy_import"),
            ("1.1.4.8.0.255", "reactive_energy_export"),
        )
    ),
    *(
        MicrostarSensorEntityDescription(
            key=key,
            translation_key=name,
            state_class=SensorStateClass.TOTAL_INCREASING,
            units=_VAH,
            cumulative=True,
            entity_registry_enabled_default=False,
        )
        for key, name in (
            ("1.1.9.8.0.255", "apparent_energy_import"),
            ("1.1.10.8.0.255", "apparent_energy_export"),
        )
    ),
    _measurement("1.1.1.7.0.255", "power_import", SensorDeviceClass.POWER, _W, enabled=True),
    _measurement("1.1.2.7.0.255", "power_export", SensorDeviceClass.POWER, _W, enabled=True),
    _measurement("1.1.15.7.0.255", "power_total", SensorDeviceClass.POWER, _W),
    _measurement("1.1.3.7.0.255", "reactive_power", SensorDeviceClass.REACTIVE_POWER, _VAR),
    _measurement("1.1.9.7.0.255", "apparent_power", SensorDeviceClass.APPARENT_POWER, _VA),
    *_phase_measurement("voltage", (32, 52, 72), SensorDeviceClass.VOLTAGE, _V),
    *_phase_measurement("current", (31, 51, 71), SensorDeviceClass.CURRENT, _A),
    *_phase_measurement("power_import", (21, 41, 61), SensorDeviceClass.POWER, _W),
    _measurement(
        "1.1.13.7.0.255", "power_factor", SensorDeviceClass.POWER_FACTOR, _UNITLESS, enabled=True
    ),
    *_phase_measurement("power_factor", (33, 53, 73), SensorDeviceClass.POWER_FACTOR, _UNITLESS),
    _measurement("1.1.14.7.0.255", "frequency", SensorDeviceClass.FREQUENCY, _HZ, enabled=True),
    MicrostarSensorEntityDescription(
        key="1.1.1.2.0.255",
        translation_key="max_demand_import",
        device_class=SensorDeviceClass.POWER,
        units=_W,
        entity_registry_enabled_default=False,
    ),
    _measurement("1.1.1.16.0.255", "rising_demand_import", SensorDeviceClass.POWER, _W),
    MicrostarSensorEntityDescription(
        key="1.1.1.6.0.255",
        translation_key="peak_demand_import",
        class_id=CLASS_EXTENDED_REGISTER,
        device_class=SensorDeviceClass.POWER,
        units=_W,
        entity_registry_enabled_default=False,
    ),
    MicrostarSensorEntityDescription(
        key="1.1.1.4.0.255",
        translation_key="average_demand_import",
        class_id=CLASS_DEMAND_REGISTER,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        units=_W,
        entity_registry_enabled_default=False,
    ),
    *(
        _measurement(f"1.1.81.7.{code}.255", name, None, _DEGREES, placeholders={"phase": phase})
        for code, name, phase in (
            (1, "voltage_angle", "2"),
            (2, "voltage_angle", "3"),
            (4, "current_angle", "1"),
            (15, "current_angle", "2"),
            (26, "current_angle", "3"),
        )
    ),
    MicrostarSensorEntityDescription(
        key="1.0.0.1.0.255",
        translation_key="billing_period_counter",
        entity_category=EntityCategory.DIAGNOSTIC,
        units=_UNITLESS,
        entity_registry_enabled_default=False,
    ),
    MicrostarSensorEntityDescription(
        key="0.0.97.97.0.255",
        translation_key="error_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        units=_UNITLESS,
        entity_registry_enabled_default=False,
    ),
    MicrostarSensorEntityDescription(
        key=SERIAL_NUMBER,
        translation_key="serial_number",
        class_id=CLASS_DATA,
        entity_category=EntityCategory.DIAGNOSTIC,
        has_fn=lambda meter, key: True,
        value_fn=lambda reading, meter, key: meter.serial,
    ),
    MicrostarSensorEntityDescription(
        key=FIRMWARE,
        translation_key="firmware",
        class_id=CLASS_DATA,
        entity_category=EntityCategory.DIAGNOSTIC,
        has_fn=lambda meter, key: meter.firmware is not None,
        value_fn=lambda reading, meter, key: meter.firmware,
    ),
    MicrostarSensorEntityDescription(
        key=CLOCK,
        translation_key="clock_drift",
        class_id=CLASS_CLOCK,
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda reading, meter, key: reading.clock_drift,
    ),
)

# What discovery looks for; the serial number is read on every discovery anyway.
CATALOGUE: dict[str, CatalogueEntry] = {
    description.key: CatalogueEntry(
        description.class_id, description.entity_registry_enabled_default
    )
    for description in SENSORS
    if description.key != SERIAL_NUMBER
}


# Entities added per event-loop step at setup. Meters set up together resume together (Home
# Assistant start): 50 meters x 44 entity registrations in one loop iteration stalled it for
# 150-590 ms; two per step keep that iteration near 50 ms (scripts/bench: setup_max_loop_stall_ms).
ADD_BATCH: Final = 2


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrostarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every described object the meter has, as discovery confirms them."""
    coordinator = entry.runtime_data.coordinator
    meter = entry.runtime_data.meter
    built: dict[str, ScalerUnit | None] = {}  # key -> the scaler_unit its entity was built with

    def _confirmed() -> Iterator[MicrostarSensorEntity]:
        """Entities of objects confirmed since the last call, built one at a time."""
        for description in SENSORS:
            if description.key in built or not description.has_fn(meter, description.key):
                continue
            built[description.key] = meter.scaler_units.get(description.key)
            sized = fit_to_meter_unit(description, meter)
            if sized is None:
                continue
            entity_type = MicrostarEnergySensorEntity if sized.cumulative else MicrostarSensorEntity
            yield entity_type(coordinator, sized, meter)

    @callback
    def _add_confirmed() -> None:
        """Add what discovery confirmed since; rebuild all when a known unit changed."""
        if any(
            meter.scaler_units.get(key, scaler_unit) != scaler_unit
            for key, scaler_unit in built.items()
        ):
            # Rediscovery (new firmware) changed a unit: entities are built again.
            hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        if entities := list(_confirmed()):
            async_add_entities(entities)

    batch: list[MicrostarSensorEntity] = []
    for entity in _confirmed():
        batch.append(entity)
        if len(batch) == ADD_BATCH:
            async_add_entities(batch)
            batch = []
            await asyncio.sleep(0)  # the rest in a later step: other callbacks run between
    if batch:
        async_add_entities(batch)
    entry.async_on_unload(coordinator.async_add_listener(_add_confirmed))


def fit_to_meter_unit(
    description: MicrostarSensorEntityDescription, meter: MeterDiscovery
) -> MicrostarSensorEntityDescription | None:
    """The description with the unit and precision the meter's scaler_unit gives."""
    scaler_unit = meter.scaler_units.get(description.key)
    if scaler_unit is None:
        return description
    if scaler_unit.unit not in description.units:
        LOGGER.warning(
            "Meter %s reports unit code %s for %s, which does not fit a %s sensor; not shown",
            meter.serial,
            scaler_unit.unit,
            description.key,
            description.translation_key,
        )
        return None
    return replace(
        description,
        native_unit_of_measurement=scaler_unit.symbol,
        suggested_display_precision=max(0, description.display_shift - scaler_unit.scaler),
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
        """The value of this poll, unfiltered."""
        description = self.entity_description
        return description.value_fn(self.coordinator.data, self._meter, description.key)

    @property
    @override
    def available(self) -> bool:
        """Unavailable when the poll failed or this object could not be read."""
        return super().available and self._current() is not None

    @property
    @override
    def native_value(self) -> SensorValue:
        """The value of this poll."""
        return self._current()


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
        """Filter the new value through the guard before writing state."""
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
    def available(self) -> bool:
        """Available while this object reads and a good value has been seen."""
        return super().available and self._guard.published is not None

    @property
    @override
    def native_value(self) -> SensorValue:
        """The last value that passed the guard."""
        return self._guard.published
