"""Capture times read with the meter's own deviation sign, and only where they belong (issue
24, item 8)."""

from datetime import datetime

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.cosem import MeterObject
from microstar_sim import MeterConfig, Simulator

from .conftest import STILL_TIME

pytestmark = [pytest.mark.freeze_time(STILL_TIME, tick=True), pytest.mark.still_meter_clock]

PEAK_DEMAND = "sensor.microstar_21061234_peak_demand_import"  # class 4, capture_time 5
AVERAGE_DEMAND = "sensor.microstar_21061234_average_demand_import"  # class 5
CLOCK_DRIFT = "sensor.microstar_21061234_clock_drift"


@pytest.fixture(params=[False, True], ids=["standard sign", "opposite sign"])
def meters(request: pytest.FixtureRequest) -> tuple[MeterConfig, ...]:
    """A meter at UTC-5 writing its deviation as the standard says (+300), or as many meters
    do (-300)."""
    return (MeterConfig(utc_offset_minutes=-300, inverted_deviation=request.param),)


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_a_capture_time_is_read_with_the_meters_sign(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """The clock shows which deviation sign the meter writes; the peak demand's capture time is
    read with the same one, so it is the moment the meter captured it, not ten hours off."""
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    drift = hass.states.get(CLOCK_DRIFT)
    assert drift is not None
    assert abs(int(drift.state)) <= 10
    peak = hass.states.get(PEAK_DEMAND)
    assert peak is not None
    captured = sim.meter(0).registers.max_demand_at
    assert captured is not None
    assert datetime.fromisoformat(peak.attributes["capture_time"]) == captured


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_a_demand_registers_capture_time_is_not_the_current_averages(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A demand register's capture_time (attribute 6) is when its last average was computed;
    the sensor shows the current average (attribute 2), so it carries no capture time."""
    assert MeterObject("1.1.1.4.0.255", 5).capture_time_ref() is None
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    average = hass.states.get(AVERAGE_DEMAND)
    assert average is not None
    assert "capture_time" not in average.attributes
