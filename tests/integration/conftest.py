"""Fixtures for the Home Assistant integration tests: a simulated gateway and meter on loopback."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.discovery import DISCOVERY_BUDGET
from microstar_sim import FAST, FunctionClock, MeterConfig, Simulator, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory, simulator
from tests.meter_entries import PASSWORD, SERIAL, tcp_entry_data

__all__ = ["PASSWORD", "SERIAL", "simulator"]

# Short, so a silent meter costs little real time; the form allows 0.5 s at least.
RESPONSE_TIMEOUT = 0.3

TRANSLATIONS = Path(__file__).parents[2] / "custom_components" / DOMAIN / "translations"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ in every integration test."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (registry ids and times left out)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, as HA core's fixture of the same name does."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """The meters on the simulated line (override or parametrize in a test)."""
    return (MeterConfig(),)


# The moment a still meter clock shows (tests marked ``still_meter_clock``, for snapshots).
STILL_TIME = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
async def sim(
    request: pytest.FixtureRequest, simulator: SimulatorFactory, meters: tuple[MeterConfig, ...]
) -> Simulator:
    """A gateway with the meters behind it, on Home Assistant's (possibly frozen) clock; with
    the ``still_meter_clock`` mark the meter's clock stands still, so every value it reports is
    the same each run."""
    still = request.node.get_closest_marker("still_meter_clock") is not None
    clock = FunctionClock((lambda: STILL_TIME) if still else dt_util.utcnow)
    return await simulator(SimulatorConfig(meters=meters, timing=FAST, clock=clock))


def entry_data(sim: Simulator, **changes: Any) -> dict[str, Any]:
    """Config entry data as the flow stores it, with this suite's short response timeout."""
    return tcp_entry_data(sim, response_timeout=RESPONSE_TIMEOUT, **changes)


@pytest.fixture
def whole_discovery_right_after_setup() -> Iterator[None]:
    """These tests count polls: the setup's poll (identity) and the learning poll right after
    it, which learns the whole meter (on a busy machine the default meter's ~100 objects can
    outlast the 10 s that objects of disabled entities get per poll)."""
    module = "custom_components.microstar_dlms.coordinator"
    with patch(f"{module}.DISABLED_DISCOVERY_BUDGET", DISCOVERY_BUDGET):
        yield


@pytest.fixture
def mock_config_entry(sim: Simulator) -> MockConfigEntry:
    """The entry the flow would have created for the default meter."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Microstar {SERIAL}",
        unique_id=SERIAL,
        data=entry_data(sim),
        entry_id="01JMICROSTARMETER000000001",
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """The default meter set up and polled once."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


def _strings(language: str) -> dict[str, Any]:
    return json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))


@pytest.fixture(autouse=True)
def check_translations() -> Iterator[None]:
    """Fail a test whose flow step, form error, abort or repair issue has no string."""
    languages = {language: _strings(language) for language in ("en", "es")}
    missing: list[str] = []
    original_step = data_entry_flow.FlowManager._async_handle_step
    original_issue = ir.async_create_issue

    async def handle_step(self: Any, flow: Any, step_id: str, user_input: Any) -> Any:
        result = await original_step(self, flow, step_id, user_input)
        if getattr(flow, "handler", None) != DOMAIN:
            return result
        if isinstance(flow, RepairsFlow):
            for language, strings in languages.items():
                missing.extend(
                    f"{language}: {key}" for key in _fix_flow_keys(flow, result, strings)
                )
            return result
        for language, strings in languages.items():
            config = strings["config"]
            kind = result["type"]
            if kind in (data_entry_flow.FlowResultType.FORM, data_entry_flow.FlowResultType.MENU):
                if result["step_id"] not in config["step"]:
                    missing.append(f"{language}: step {result['step_id']}")
                missing.extend(
                    f"{language}: error {error}"
                    for error in (result.get("errors") or {}).values()
                    if error not in config["error"]
                )
            if (
                kind is data_entry_flow.FlowResultType.ABORT
                and result["reason"] not in config["abort"]
            ):
                missing.append(f"{language}: abort {result['reason']}")
        return result

    def create_issue(hass: HomeAssistant, domain: str, issue_id: str, **kwargs: Any) -> None:
        if domain == DOMAIN:
            for language, strings in languages.items():
                if kwargs.get("translation_key") not in strings["issues"]:
                    missing.append(f"{language}: issue {kwargs.get('translation_key')}")
        original_issue(hass, domain, issue_id, **kwargs)

    with (
        patch.object(data_entry_flow.FlowManager, "_async_handle_step", handle_step),
        patch.object(ir, "async_create_issue", create_issue),
    ):
        yield
    assert not missing, missing


def _fix_flow_keys(flow: RepairsFlow, result: Any, strings: dict[str, Any]) -> list[str]:
    """The strings a repair's fix flow result needs that ``strings`` lacks."""
    issue = flow.issue_id.rsplit("_", 1)[0]  # "<translation key>_<entry id>"
    fix_flow = strings["issues"].get(issue, {}).get("fix_flow", {})
    kind = result["type"]
    if kind is data_entry_flow.FlowResultType.FORM:
        needed = ("step", result["step_id"])
    elif kind is data_entry_flow.FlowResultType.SHOW_PROGRESS:
        needed = ("progress", result["progress_action"])
    elif kind is data_entry_flow.FlowResultType.CREATE_ENTRY:
        needed = ("create_entry", result.get("description") or "default")
    elif kind is data_entry_flow.FlowResultType.ABORT:
        needed = ("abort", result["reason"])
    else:
        return []
    section, key = needed
    return [] if key in fix_flow.get(section, {}) else [f"issues.{issue}.fix_flow.{section}.{key}"]


async def settled(sim: Simulator) -> Simulator:
    """Let the simulator notice closed sockets and answer pending bytes; return it."""
    for _ in range(200):
        await sim.settle()
        if not sim.record.open_connections:
            break
        await asyncio.sleep(0.01)
    return sim
