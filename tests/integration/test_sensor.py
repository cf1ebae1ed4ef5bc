"""Sensors: what the meter's objects look like in Home Assistant, and the energy glitch guard."""

from dataclasses import replace
from decimal import Decimal
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.cosem import ScalerUnit, parse_scaler_unit
from custom_components.microstar_dlms.energy_guard import REBASE_AFTER_READS
from custom_components.microstar_dlms.reading import Measured
from custom_components.microstar_dlms.sensor import (
    SENSORS,
    fit_to_meter_unit,
)
from microstar_sim import (
    EnergyGlitch,
    Simulator,
)

from .conftest import SERIAL, STILL_TIME
from .polling import poll

START = STILL_TIME
pytestmark = [pytest.mark.freeze_time(START, tick=True), pytest.mark.still_meter_clock]

ENERGY = "sensor.microstar_21061234_energy_import"
CLOCK_DRIFT = "sensor.microstar_21061234_clock_drift"
VOLTAGE = "sensor.microstar_21061234_voltage_l1"


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Every object of the three-phase meter, with units and classes from its scaler_unit."""
    # Objects are read once their entity is enabled: the poll after setup reads them all.
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    entries = er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id)
    meter = mock_config_entry.runtime_data.meter
    assert len(entries) == len([d for d in SENSORS if d.has_fn(meter, d.key)])
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), mock_config_entry.entry_id
    )
    assert device is not None
    for entry in entries:
        assert entry == snapshot(name=f"{entry.entity_id}-entry")
        assert entry.device_id == device.id
        assert entry.unique_id.startswith(f"{SERIAL}_")
        state = hass.states.get(entry.entity_id)
        assert state is not None
        assert state.state != STATE_UNAVAILABLE
        if entry.entity_id == CLOCK_DRIFT:
            # The meter clock stood still while the test ran: a few seconds at most.
            assert abs(int(state.state)) <= 10
            continue
        assert state == snapshot(name=f"{entry.entity_id}-state")


@pytest.mark.usefixtures("init_integration")
async def test_energy_dashboard_ready(hass: HomeAssistant) -> None:
    """Imported energy is ENERGY, TOTAL_INCREASING, in kWh: the Energy dashboard takes it."""
    state = hass.states.get(ENERGY)
    assert state is not None
    assert state.attributes["device_class"] == "energy"
    assert state.attributes["state_class"] == "total_increasing"
    assert state.attributes["unit_of_measurement"] == "kWh"


async def test_energy_glitch_is_dropped(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A zero, a decrease or an impossible rise of a cumulative register is never published."""
    before = hass.states.get(ENERGY).state
    for mode in ("zero", "smaller", "larger"):
        sim.set_fault(EnergyGlitch(obis="1-1:1.8.0", mode=mode))
        await poll(hass, freezer)
        assert hass.states.get(ENERGY).state == before
    glitches = [r for r in caplog.records if "dropped as a glitch" in r.message]
    assert len(glitches) == 3
    assert all(r.levelno == logging.WARNING for r in glitches)
    assert init_integration.runtime_data.coordinator.health.glitches_dropped == 3

    # The next good read is published again.
    await poll(hass, freezer)
    assert hass.states.get(ENERGY).state == before


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # A value above the meter's (a glitch just before a restart): the meter's read is dropped.
        ({"native_value": 99_999_999, "native_unit_of_measurement": "Wh"}, "99999.999"),
        # Another unit or garbage is not a floor: the meter's value is shown.
        ({"native_value": 99_999_999, "native_unit_of_measurement": "kWh"}, "12387.422"),
        ({"native_value": "garbage", "native_unit_of_measurement": "Wh"}, "12387.422"),
        ({"native_value": None, "native_unit_of_measurement": "Wh"}, "12387.422"),
    ],
)
async def test_restored_energy_is_the_floor(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    extra: dict[str, Any],
    expected: str,
) -> None:
    """After a restart the last published value is the floor a new read must not go under."""
    mock_config_entry.add_to_hass(hass)
    mock_restore_cache_with_extra_data(hass, [(State(ENERGY, "99999.999"), extra)])
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(ENERGY).state == expected


async def test_a_bad_high_floor_gives_way_to_a_steady_run_of_reads(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A glitch that got in as the floor does not freeze the sensor: steady reads replace it."""
    mock_config_entry.add_to_hass(hass)
    extra = {"native_value": 99_999_999, "native_unit_of_measurement": "Wh"}
    mock_restore_cache_with_extra_data(hass, [(State(ENERGY, "99999.999"), extra)])
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(REBASE_AFTER_READS - 2):  # the setup poll was the first read under the floor
        await poll(hass, freezer)
    assert hass.states.get(ENERGY).state == "99999.999"
    await poll(hass, freezer)
    assert Decimal(hass.states.get(ENERGY).state) < Decimal("99999.999")
    assert "taking that as the meter's total" in caplog.text


def test_unit_the_description_does_not_accept(caplog: pytest.LogCaptureFixture) -> None:
    """A meter reporting, say, Hz for a voltage register gets no sensor for it."""
    voltage = next(d for d in SENSORS if d.key == "1.1.32.7.0.255")
    assert fit_to_meter_unit(voltage, ScalerUnit(-2, 44), SERIAL) is None
    assert "does not fit" in caplog.text
    fitted = fit_to_meter_unit(voltage, ScalerUnit(-2, 35), SERIAL)
    assert fitted is not None
    assert fitted.native_unit_of_measurement == "V"
    assert fitted.suggested_display_precision == 2
    assert ScalerUnit(-2, 35).scale(23093) == Decimal("230.93")


def test_power_factor_with_unit_code_zero_gets_its_sensor() -> None:
    """A meter sending unit 0 for its power factor (not a COSEM unit) still gets the sensor,
    unitless (issue 12)."""
    power_factor = next(d for d in SENSORS if d.key == "1.1.13.7.0.255")
    scaler_unit = parse_scaler_unit([-3, 0])
    assert scaler_unit is not None
    fitted = fit_to_meter_unit(power_factor, scaler_unit, SERIAL)
    assert fitted is not None
    assert fitted.native_unit_of_measurement is None


@pytest.mark.usefixtures("init_integration")
async def test_a_value_in_another_unit_than_the_entity_shows_is_not_shown(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A poll that scaled the voltage by another scaler_unit than its entity was built with
    (the meter learned again: the entity is rebuilt) leaves it unknown, never 10x off."""
    coordinator = mock_config_entry.runtime_data.coordinator
    key = "1.1.32.7.0.255"
    built = coordinator.data.values[key].unit
    assert built == ScalerUnit(-2, 35)
    for unit, shown in ((ScalerUnit(-1, 35), STATE_UNKNOWN), (built, "230.1")):
        values = {**coordinator.data.values, key: Measured(Decimal("230.1"), unit)}
        coordinator.async_set_updated_data(replace(coordinator.data, values=values))
        await hass.async_block_till_done()
        assert hass.states.get(VOLTAGE).state == shown
