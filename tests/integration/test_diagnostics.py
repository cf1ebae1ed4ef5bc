"""Diagnostics: enough to debug a meter from a user's download, without their password or host."""

import json
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from .conftest import PASSWORD, STILL_TIME

START = STILL_TIME
pytestmark = [pytest.mark.freeze_time(START, tick=True), pytest.mark.still_meter_clock]


def _steady(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Replace what changes per run (frame times, durations, the ephemeral port) with markers."""
    diagnostics["entry"]["data"]["port"] = "<port>"
    for frame in diagnostics["last_session_frames"]:
        frame["monotonic"] = "<time>"
    polls = diagnostics["polls"]
    polls["last_duration"] = "<duration>" if polls["last_duration"] is not None else None
    polls["last_success"] = "<time>" if polls["last_success"] is not None else None
    polls["next_poll"] = "<time>" if polls["next_poll"] is not None else None
    line = diagnostics["line"]
    for timings in (line, line["this_meter"]):
        for key in timings:
            if key.endswith("_s") and timings[key] is not None:
                timings[key] = "<seconds>"
    return diagnostics


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Config with password and host redacted, what was negotiated and discovered, the frames."""
    await init_integration.runtime_data.coordinator.async_refresh()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    text = json.dumps(diagnostics)
    assert PASSWORD not in text
    assert PASSWORD.encode().hex() not in text.replace(" ", "").lower()
    assert "127.0.0.1" not in text
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    # The AARQ is there, with the password masked in place.
    aarq = diagnostics["last_session_frames"][2]
    assert aarq["direction"] == "TX"
    assert "** ** ** ** ** ** ** ** ** **" in aarq["hex"]
    assert _steady(diagnostics) == snapshot
