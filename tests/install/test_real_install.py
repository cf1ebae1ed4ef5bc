"""A user's install, on every tested release: Home Assistant alone, our folder copied in.

For each release in ha-releases.txt (the oldest is hacs.json's minimum, the last the newest):
Home Assistant installs the manifest's requirements itself under its own constraints, the meter
is added through the config-flow API with the README's values, live energy and voltage sensors
appear, and the log has nothing to say about microstar_dlms or serialx beyond Home Assistant's
standard note on custom integrations. This is what a green suite missed before: Home Assistant
2026.10 refused ``serialx==1.15.1`` (its constraints pin 1.11.0) and setup failed for every user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path
import re
from typing import Any

import aiohttp
from packaging.requirements import Requirement
import pytest

from tests.e2e.hass_api import (
    HassRest,
    HassWebSocket,
    Tokens,
    add_meter,
    eventually,
    meter_entities,
    number,
    onboard,
)
from tests.e2e.processes import HassProcess, SimulatorProcess, log_records

from .conftest import REPO, Release

pytestmark = pytest.mark.install

MANIFEST = REPO / "custom_components" / "microstar_dlms" / "manifest.json"
README_INPUT = {"host": "127.0.0.1", "client_sap": "1", "password": "2222222222"}  # + the port
SERIAL = "21061234"
ENERGY_IMPORT = "1.1.1.8.0.255"
VOLTAGE_L1 = "1.1.32.7.0.255"
# The one line Home Assistant writes for every custom integration.
STANDARD_NOTE = re.compile(
    r"We found a custom integration microstar_dlms which has not been tested by Home Assistant"
)


def pins(constraints: Path) -> dict[str, str]:
    """Package name -> pinned version of a package_constraints.txt."""
    found: dict[str, str] = {}
    for line in constraints.read_text("utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        requirement = Requirement(text)
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact:
            found[requirement.name.lower()] = exact[0]
    return found


def test_the_manifest_is_satisfiable_under_the_release_constraints(release: Release) -> None:
    """Every requirement admits the version the release pins (else it cannot be installed)."""
    pinned = pins(release.constraints)
    requirements = [Requirement(r) for r in json.loads(MANIFEST.read_text("utf-8"))["requirements"]]
    assert requirements, "the manifest declares no requirements"
    for requirement in requirements:
        version = pinned.get(requirement.name.lower())
        if version is not None:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement} excludes {requirement.name}=={version}, which Home Assistant "
                f"{release.version} pins: its users could not install the integration"
            )
    assert "serialx" in pinned, "the release no longer pins serialx: review the manifest's range"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client; no call may hang the run."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as client:
        yield client


async def test_a_user_adds_the_meter_and_sees_live_readings(
    session: aiohttp.ClientSession,
    release: Release,
    installed_hass: HassProcess,
    meter: SimulatorProcess,
) -> None:
    """Onboard, add the meter with the README's values, see energy and voltage; a clean log."""
    tokens: Tokens = await onboard(session, installed_hass.base_url)
    rest = HassRest(session, installed_hass.base_url, tokens.access_token)
    ws = await HassWebSocket.connect(session, installed_hass.base_url, tokens.access_token)
    try:
        result = await add_meter(rest, {**README_INPUT, "port": meter.port})
        assert result["type"] == "create_entry", result
        entry_id = result["result"]["entry_id"]

        async def readings() -> dict[str, float] | None:
            entities = await meter_entities(ws, entry_id, SERIAL)
            if ENERGY_IMPORT not in entities or VOLTAGE_L1 not in entities:
                return None
            states = {key: await _state(rest, entities[key]) for key in (ENERGY_IMPORT, VOLTAGE_L1)}
            if any(s["state"] in ("unknown", "unavailable") for s in states.values()):
                return None
            assert states[ENERGY_IMPORT]["attributes"]["unit_of_measurement"] == "kWh"
            assert states[VOLTAGE_L1]["attributes"]["unit_of_measurement"] == "V"
            return {key: number(state) for key, state in states.items()}

        values = await eventually(readings, 120, "live energy and voltage readings", 1)
        assert values[ENERGY_IMPORT] > 0
        assert 200 <= values[VOLTAGE_L1] <= 260
    finally:
        await ws.close()

    records = log_records(installed_hass.process.log, ("WARNING", "ERROR", "CRITICAL"))
    assert any(STANDARD_NOTE.search(text) for _, text in records), (
        f"no record parsed from {installed_hass.process.log}: has the log format changed?"
    )
    problems = [
        text
        for logger, text in records
        if _concerns_us(logger, text) and not STANDARD_NOTE.search(text)
    ]
    assert not problems, f"Home Assistant {release.version} logged:\n" + "\n".join(problems)


def _concerns_us(logger: str, text: str) -> bool:
    return any(name in logger or name in text for name in ("microstar_dlms", "serialx"))


async def _state(rest: HassRest, entity_id: str) -> dict[str, Any]:
    state: dict[str, Any] = await rest.get(f"/api/states/{entity_id}")
    return state
