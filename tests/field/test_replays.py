"""Every meter of tests/field, replayed from its diagnostics file and added through the config
flow as a user adds a meter, shows what its ``expected.json`` says Home Assistant must show.

Adding a user's report is adding a folder with their file: the test runs on it at once, and
asks for the expected file (``scripts/field-capture NAME`` writes what Home Assistant shows
now, to be checked against the report and committed).
"""

from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
import yaml

from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.replay import load_diagnostics, replay_file

from .harness import (
    CAPTURES,
    DIAGNOSTICS,
    EXPECTED,
    FIELD,
    STILL_TIME,
    UPDATE,
    add_meter,
    learn,
    read_json,
    shown,
    start_meter,
    typed_for_replay,
    write_json,
)

pytestmark = pytest.mark.freeze_time(STILL_TIME, tick=True)

REPORTS = sorted(path.parent for path in FIELD.glob(f"*/{DIAGNOSTICS}"))
QUALITY_SCALE = FIELD.parents[1] / "custom_components" / "microstar_dlms" / "quality_scale.yaml"


def test_the_field_meter_and_every_profile_have_a_report() -> None:
    """The field meter of the captures and the simulator's three profiles are replayed."""
    assert {capture.name for capture in CAPTURES} <= {folder.name for folder in REPORTS}
    assert {"field-meter", "microstar-3p", "microstar-1p", "microstar-guide"} <= {
        capture.name for capture in CAPTURES
    }


@pytest.mark.parametrize("folder", REPORTS, ids=lambda folder: folder.name)
async def test_report_replays_as_expected(
    hass: HomeAssistant,
    simulator: SimulatorFactory,
    freezer: FrozenDateTimeFactory,
    folder: Path,
) -> None:
    """The replayed meter, added with the report's client SAP and address form and any
    password, is the report's stand-in serial and shows the expected devices and entities."""
    diagnostics = load_diagnostics(folder / DIAGNOSTICS)
    replay = await start_meter(simulator, replay_file(folder / DIAGNOSTICS))
    entry = await add_meter(hass, replay, **typed_for_replay(diagnostics))
    await learn(hass, entry, freezer)

    assert entry.unique_id == diagnostics["meter"]["serial"]
    expected = folder / EXPECTED
    if UPDATE:
        write_json(expected, shown(hass, entry))
    assert expected.exists(), f"write it: scripts/field-capture {folder.name}, check, commit"
    assert shown(hass, entry) == read_json(expected)


def test_supported_devices_name_each_report() -> None:
    """quality_scale.yaml's docs-supported-devices names every report with the model and
    firmware Home Assistant shows for it."""
    rule = yaml.safe_load(QUALITY_SCALE.read_text("utf-8"))["rules"]["docs-supported-devices"]
    comment = " ".join(rule["comment"].split())
    for folder in REPORTS:
        meter = read_json(folder / EXPECTED)["devices"]["<serial>"]
        assert f"tests/field/{folder.name}" in comment
        assert f"{meter['model']}, firmware {meter['sw_version']}" in comment
