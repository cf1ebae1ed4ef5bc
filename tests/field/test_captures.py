"""The suite's own field files: each capture's meter read by Home Assistant, its diagnostics
downloaded and replayed, and the replay set up again shows what the meter showed.

The files in tests/field are what these captures write (``scripts/field-capture NAME``); a
capture that no longer writes the same file fails here, so they cannot go stale.
"""

import json
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.microstar_dlms.redact import stand_in_serial
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.replay import replay_file

from .harness import (
    CAPTURES,
    DIAGNOSTICS,
    EXPECTED,
    FIELD,
    STILL_TIME,
    UPDATE,
    Capture,
    add_meter,
    download,
    learn,
    read_json,
    shown,
    start_meter,
    steady,
    typed_for_replay,
    write_json,
)

pytestmark = pytest.mark.freeze_time(STILL_TIME, tick=True)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda capture: capture.name)
async def test_downloaded_diagnostics_replay_as_the_meter(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    simulator: SimulatorFactory,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    capture: Capture,
) -> None:
    """Set up against the meter, download its diagnostics (neither its serial nor its password
    in them), replay the file, set up again: the same devices, entities, units and values,
    under the serial's stand-in."""
    original = await start_meter(simulator, capture.meter)
    entry = await add_meter(
        hass,
        original,
        client_sap=capture.client_sap,
        password=capture.password,
        advanced=capture.advanced,
    )
    await learn(hass, entry, freezer)
    downloaded = await download(hass, hass_client, entry)
    expected = shown(hass, entry)
    folder = FIELD / capture.name
    if UPDATE:
        write_json(folder / DIAGNOSTICS, steady(downloaded))
        write_json(folder / EXPECTED, expected)

    file = tmp_path / "config_entry-microstar_dlms.json"
    write_json(file, downloaded)
    replay = await start_meter(simulator, replay_file(file))
    replayed = await add_meter(hass, replay, **typed_for_replay(downloaded["data"]))
    await learn(hass, replayed, freezer)

    text = json.dumps(downloaded)
    for secret in filter(None, (capture.meter.serial_number, capture.password)):
        assert secret not in text
        assert secret.encode().hex() not in text.replace(" ", "").lower()
    assert replayed.unique_id == stand_in_serial(capture.meter.serial_number)
    assert replayed.unique_id == downloaded["data"]["meter"]["serial"]
    assert shown(hass, replayed) == expected
    # The files kept are the ones this capture writes now.
    assert read_json(folder / DIAGNOSTICS) == steady(downloaded), (
        f"scripts/field-capture {capture.name}"
    )
    assert read_json(folder / EXPECTED) == expected, f"scripts/field-capture {capture.name}"
