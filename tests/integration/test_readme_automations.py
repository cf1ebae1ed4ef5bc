"""The README's automations on the active tariff and on a cover-opened event, run as written."""

from pathlib import Path
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_mock_service
import yaml

README = Path(__file__).parents[2] / "README.md"
SECTION = "### Automations"
TARIFF = "sensor.microstar_21061234_active_tariff"
COVER = "event.microstar_21061234_meter_cover_opened"


def readme_automations() -> dict[str, Any]:
    """The section's YAML blocks, as one automation configuration."""
    text = README.read_text("utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n### ", len(SECTION))]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]
    assert len(blocks) == 2
    return {"automation": [item for block in blocks for item in block["automation"]]}


async def test_readme_automations(hass: HomeAssistant) -> None:
    """The water heater follows the tariff and ignores a tariff that is unavailable or unknown;
    opening the meter cover sends a notification with the meter's time stamp, and the event
    entity coming back from unavailable does not."""
    turn_on = async_mock_service(hass, "switch", "turn_on")
    turn_off = async_mock_service(hass, "switch", "turn_off")
    notify = async_mock_service(hass, "notify", "notify")
    hass.states.async_set(TARIFF, "rate_2")
    hass.states.async_set(COVER, "unknown")
    assert await async_setup_component(hass, "automation", readme_automations())
    await hass.async_block_till_done()

    hass.states.async_set(TARIFF, "rate_1")
    await hass.async_block_till_done()
    assert [call.data["entity_id"] for call in turn_on] == [["switch.water_heater"]]
    hass.states.async_set(TARIFF, "rate_3")
    await hass.async_block_till_done()
    assert [call.data["entity_id"] for call in turn_off] == [["switch.water_heater"]]
    for not_a_tariff in ("unavailable", "unknown"):  # out of reach; a refused read
        hass.states.async_set(TARIFF, not_a_tariff)
        await hass.async_block_till_done()
    assert len(turn_on) + len(turn_off) == 2

    stamp = "2025-02-03T14:05:00+00:00"
    hass.states.async_set(
        COVER, "2025-02-03T14:05:31.000+00:00", {"event_type": "opened", "meter_time": stamp}
    )
    await hass.async_block_till_done()
    assert len(notify) == 1
    assert stamp in notify[0].data["message"]
    hass.states.async_set(COVER, "unavailable")
    await hass.async_block_till_done()
    hass.states.async_set(COVER, "2025-02-03T14:05:31.000+00:00", {"meter_time": stamp})
    await hass.async_block_till_done()
    assert len(notify) == 1
