"""Diagnostics: enough to debug a meter from a user's download, without their password or host."""

import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.microstar_dlms.dlms.hdlc import decode_frame
from custom_components.microstar_dlms.redact import stand_in_serial
from microstar_sim import RejectAssociation, Simulator

from .conftest import PASSWORD, SERIAL, STILL_TIME
from .polling import poll

START = STILL_TIME
pytestmark = [pytest.mark.freeze_time(START, tick=True), pytest.mark.still_meter_clock]


def _steady(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Replace what changes per run (frame times, durations, the ephemeral port) with markers."""
    diagnostics["entry"]["data"]["port"] = "<port>"
    for frame in diagnostics["last_session_frames"]:
        frame["monotonic"] = "<time>"
    meter = diagnostics["meter"]
    meter["clock_drift_s"] = "<drift>" if meter["clock_drift_s"] is not None else None
    polls = diagnostics["polls"]
    polls["last_duration"] = "<duration>" if polls["last_duration"] is not None else None
    polls["last_success"] = "<time>" if polls["last_success"] is not None else None
    polls["next_poll_after"] = "<seconds>"  # when the next class falls due
    polls["next_poll"] = "<time>" if polls["next_poll"] is not None else None
    line = diagnostics["line"]
    for freshness in line["this_meter"]["freshness"].values():
        freshness["last_read"] = "<time>" if freshness["last_read"] is not None else None
    for timings in (line, line["this_meter"], *line["this_meter"]["freshness"].values()):
        for key in timings:
            if key.endswith("_s") and key != "asked_s" and timings[key] is not None:
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


def _hidden(secret: str, text: str) -> bool:
    """Whether ``secret`` is nowhere in ``text``: as text, nor as its bytes in hex."""
    compact = text.replace(" ", "").lower()
    return secret not in text and secret.encode().hex() not in compact


async def test_serial_and_password_nowhere_the_stand_in_everywhere(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: Simulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A session that read the serial (the identity check after a failed poll): the file holds
    neither the serial nor the password, frames included; the stand-in is the entry's, the
    meter's and the one the frames carry, and every frame still decodes (its FCS made right)."""
    sim.set_fault(RejectAssociation(count=1))
    await poll(hass, freezer)  # refused: the next poll makes sure it is still this meter
    await poll(hass, freezer)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    text = json.dumps(diagnostics)
    assert _hidden(SERIAL, text)
    assert _hidden(PASSWORD, text)
    stand_in = stand_in_serial(SERIAL)
    assert diagnostics["entry"]["unique_id"] == diagnostics["meter"]["serial"] == stand_in
    assert "title" not in diagnostics["entry"]  # the user's words may name the home
    frames = diagnostics["last_session_frames"]
    carried = [f for f in frames if stand_in.encode().hex(" ").upper() in f["hex"]]
    assert len(carried) == 1  # the meter's answer to the serial number's read
    for frame in frames:
        if "**" not in frame["hex"]:  # the AARQ, its password masked
            decode_frame(bytes.fromhex(frame["hex"]))
