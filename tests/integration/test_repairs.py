"""Repair issues: raised when the user must act, per entry, and gone at the next good poll;
their fix flow ("Try now") reads the meter at once."""

from datetime import timedelta
from http import HTTPStatus
from typing import Any

from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.microstar_dlms.const import BACKOFF_MAX, DOMAIN, UPDATE_INTERVAL
from custom_components.microstar_dlms.dlms.transport import endpoint_lock
from custom_components.microstar_dlms.freshness import INTERVALS, Freshness
from custom_components.microstar_dlms.poll_health import clock_time
from microstar_sim import Busy, Silent, Simulator

from .conftest import settled
from .polling import poll

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)

VOLTAGE = "sensor.microstar_21061234_voltage_l1"


async def test_gateway_busy_repair(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Three busy polls in a row raise 'another client holds the gateway'; a good poll clears it."""
    issue_id = f"gateway_busy_{init_integration.entry_id}"
    sim.set_fault(Busy())
    await poll(hass, freezer)
    await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await poll(hass, freezer)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.is_fixable
    assert issue.translation_key == "gateway_busy"
    health = init_integration.runtime_data.coordinator.health
    assert health.next_poll is not None
    assert issue.translation_placeholders == {
        "title": init_integration.title,
        "endpoint": f"127.0.0.1:{sim.port}",  # as typed in the form, not the socket URL
        "next_try": clock_time(health.next_poll),
    }

    sim.clear_faults()
    await poll(hass, freezer)  # a failing meter backs off once its repair is raised: no poll yet
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    await poll(hass, freezer)  # 60 s after the third busy poll
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_meter_silent_repair(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Three silent polls: a notice says the meter does not answer and when the next try is.
    Silent for longer than the 180 s inactivity window: the repair, fixable, says what to do."""
    issue_id = f"meter_silent_{init_integration.entry_id}"
    notice_id = f"meter_not_answering_{init_integration.entry_id}"
    health = init_integration.runtime_data.coordinator.health
    sim.set_fault(Silent())
    for _ in range(3):  # polls at 30, 60, 90 s
        await poll(hass, freezer)
    notice = issue_registry.async_get_issue(DOMAIN, notice_id)
    assert notice is not None
    assert notice.severity is ir.IssueSeverity.WARNING
    assert not notice.is_fixable  # nothing to do but wait out the window
    assert health.next_poll is not None
    assert health.last_failure is not None
    assert health.next_poll - health.last_failure == timedelta(seconds=60)  # backing off
    assert notice.translation_placeholders["next_try"] == clock_time(health.next_poll)
    assert clock_time(health.next_poll) == "02:02"  # 10:02:30 UTC on the tests' US/Pacific clock
    # Then backing off (150 s): the streak started at 30 s, so at most 150 s of silence so far.
    for _ in range(3):
        await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await poll(hass, freezer)  # 210 s: the backed-off poll is due as the window ends (211 s)
    await poll(hass, freezer)  # 240 s: past the window whatever the real time
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "meter_silent"
    assert issue.is_fixable
    assert issue_registry.async_get_issue(DOMAIN, notice_id) is None  # the repair replaced it
    assert issue.translation_placeholders == {
        "title": init_integration.title,
        "endpoint": f"127.0.0.1:{sim.port}",
        "next_try": clock_time(health.next_poll),
    }

    # The field procedure: power cycle, then the next (backed-off) poll answers and the issue goes.
    sim.power_cycle()
    await poll(hass, freezer, BACKOFF_MAX.total_seconds())
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await settled(sim)
    assert not sim.record.open_associations


async def test_silence_at_start_still_raises(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A meter silent since Home Assistant started gets its repair through setup retries."""
    sim.set_fault(Silent())
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"meter_silent_{mock_config_entry.entry_id}"
    for _ in range(12):
        await poll(hass, freezer, 80)  # longer than any setup retry back-off
        if issue_registry.async_get_issue(DOMAIN, issue_id):
            break
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    # Removing the entry removes its issues and its poll health.
    await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_issues_are_per_entry_and_go_with_unload(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An unloaded entry leaves no repair behind."""
    sim.set_fault(Busy())
    for _ in range(3):
        await poll(hass, freezer)
    issues = [i for i in issue_registry.issues.values() if i.domain == DOMAIN]
    assert [i.issue_id for i in issues] == [f"gateway_busy_{init_integration.entry_id}"]
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]


async def test_a_rejected_password_takes_the_repairs_down(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Polling stops for a rejected password: the reauth flow is what the user acts on, and a
    meter that answered is not silent (no repair left up that no poll would clear)."""
    issue_id = f"meter_silent_{init_integration.entry_id}"
    sim.set_fault(Silent())
    for _ in range(8):
        await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    sim.power_cycle()
    sim.set_password(1, "a new password")
    await poll(hass, freezer, BACKOFF_MAX.total_seconds())
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]


async def test_poll_health_is_the_entry_runtime_data(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The streaks that decide the repairs live on the entry's runtime data, carried from one
    failed setup attempt to the next; nothing of the entry is kept in hass.data."""
    entry_id = mock_config_entry.entry_id
    sim.set_fault(Silent())
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    health = mock_config_entry.runtime_data.coordinator.health
    assert health.silent_streak == 1

    await poll(hass, freezer, 80)  # the setup's retry, still silent
    assert mock_config_entry.runtime_data.coordinator.health is health
    assert health.silent_streak == 2

    sim.power_cycle()
    await poll(hass, freezer, 160)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.coordinator.health is health
    assert health.failures == {"no_answer": 2}
    assert health.successes >= 1
    ours = [value for key, value in hass.data.items() if DOMAIN in str(key)]
    assert not [value for value in ours if isinstance(value, dict) and entry_id in value]


@pytest.fixture
async def repairs_client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> TestClient[Any, Any]:
    """Home Assistant's repairs API, as the frontend's Settings -> Repairs uses it."""
    assert await async_setup_component(hass, "repairs", {})
    return await hass_client()


async def start_fix_flow(client: TestClient[Any, Any], issue_id: str) -> dict[str, Any]:
    """Select the repair: its fix flow's first step."""
    answer = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert answer.status == HTTPStatus.OK, await answer.text()
    result: dict[str, Any] = await answer.json()
    return result


async def submit(client: TestClient[Any, Any], flow_id: str) -> dict[str, Any]:
    """Press the step's button (the forms have no fields)."""
    answer = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    assert answer.status == HTTPStatus.OK, await answer.text()
    result: dict[str, Any] = await answer.json()
    return result


async def after_progress(
    hass: HomeAssistant, client: TestClient[Any, Any], flow_id: str
) -> dict[str, Any]:
    """Let the poll the flow waits for end; the step the dialog then shows."""
    await hass.async_block_till_done(wait_background_tasks=True)
    answer = await client.get(f"/api/repairs/issues/fix/{flow_id}")
    assert answer.status == HTTPStatus.OK, await answer.text()
    result: dict[str, Any] = await answer.json()
    return result


async def silent_until_repaired(
    hass: HomeAssistant, sim: Simulator, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> str:
    """Make the meter silent until its repair is up; the repair's issue id."""
    issue_id = f"meter_silent_{entry.entry_id}"
    sim.set_fault(Silent())
    for _ in range(8):
        await poll(hass, freezer)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    return issue_id


async def test_try_now_polls_at_once_and_the_values_return(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    repairs_client: TestClient[Any, Any],
) -> None:
    """The meter was reset: "Try now" reads it at once, without waiting out the back-off, says
    it answered, and the values are back and the repair gone."""
    issue_id = await silent_until_repaired(hass, sim, freezer, init_integration)
    coordinator = init_integration.runtime_data.coordinator
    assert coordinator.update_interval is not None
    assert coordinator.update_interval > UPDATE_INTERVAL  # backing off
    assert _state(hass, VOLTAGE) == STATE_UNAVAILABLE
    sim.power_cycle()

    form = await start_fix_flow(repairs_client, issue_id)
    assert form["type"] == "form", form
    assert form["step_id"] == "confirm"
    assert form["description_placeholders"] == {
        "title": init_integration.title,
        "endpoint": f"127.0.0.1:{sim.port}",
        "next_try": clock_time(coordinator.health.next_poll or dt_util.utcnow()),
    }
    progress = await submit(repairs_client, form["flow_id"])
    assert progress["type"] == "progress", progress
    assert progress["progress_action"] == "polling"
    done = await after_progress(hass, repairs_client, form["flow_id"])

    assert done["type"] == "create_entry", done
    assert done["description_placeholders"] == {"title": init_integration.title}
    assert float(_state(hass, VOLTAGE)) > 0  # no clock moved: the flow's own poll
    assert coordinator.update_interval is not None
    assert coordinator.update_interval <= INTERVALS[Freshness.LIVE]  # the back-off is over
    assert not [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]
    await settled(sim)
    assert not sim.record.open_associations


async def test_try_now_says_the_meter_still_does_not_answer(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    repairs_client: TestClient[Any, Any],
) -> None:
    """Still silent: the flow says so, what else to try and when Home Assistant tries by itself;
    the repair stays. "Try again" once the meter is reset: it answers."""
    issue_id = await silent_until_repaired(hass, sim, freezer, init_integration)
    health = init_integration.runtime_data.coordinator.health
    failures = health.failures["no_answer"]
    form = await start_fix_flow(repairs_client, issue_id)
    await submit(repairs_client, form["flow_id"])

    no_answer = await after_progress(hass, repairs_client, form["flow_id"])

    assert no_answer["type"] == "form", no_answer
    assert no_answer["step_id"] == "no_answer"
    assert health.failures["no_answer"] == failures + 1  # it did ask the meter
    assert health.next_poll is not None
    assert no_answer["description_placeholders"]["next_try"] == clock_time(health.next_poll)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert _state(hass, VOLTAGE) == STATE_UNAVAILABLE

    sim.power_cycle()
    progress = await submit(repairs_client, form["flow_id"])
    assert progress["type"] == "progress", progress
    done = await after_progress(hass, repairs_client, form["flow_id"])
    assert done["type"] == "create_entry", done
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert float(_state(hass, VOLTAGE)) > 0


async def test_closing_the_dialog_does_not_cut_the_poll_short(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    repairs_client: TestClient[Any, Any],
) -> None:
    """The person closes the dialog while the poll waits for the line: the poll still reads the
    meter (a poll cut short would leave its entities unavailable until the next one)."""
    issue_id = await silent_until_repaired(hass, sim, freezer, init_integration)
    sim.power_cycle()
    form = await start_fix_flow(repairs_client, issue_id)
    async with endpoint_lock(sim.endpoint, 5.0):  # another session holds the line
        await submit(repairs_client, form["flow_id"])
        closed = await repairs_client.delete(f"/api/repairs/issues/fix/{form['flow_id']}")
        assert closed.status == HTTPStatus.OK
    await hass.async_block_till_done(wait_background_tasks=True)

    assert init_integration.runtime_data.coordinator.last_update_success
    assert float(_state(hass, VOLTAGE)) > 0
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_try_now_sets_up_a_meter_silent_since_start(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    repairs_client: TestClient[Any, Any],
) -> None:
    """A meter silent since Home Assistant started has no loaded entry: "Try now" sets it up at
    once instead of at the next setup retry."""
    sim.set_fault(Silent())
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"meter_silent_{mock_config_entry.entry_id}"
    for _ in range(12):
        await poll(hass, freezer, 80)  # longer than any setup retry back-off
        if ir.async_get(hass).async_get_issue(DOMAIN, issue_id):
            break
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    sim.power_cycle()

    form = await start_fix_flow(repairs_client, issue_id)
    await submit(repairs_client, form["flow_id"])
    done = await after_progress(hass, repairs_client, form["flow_id"])

    assert done["type"] == "create_entry", done
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_try_now_after_closing_the_other_client(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    repairs_client: TestClient[Any, Any],
) -> None:
    """Another client held the gateway; once it is closed, "Try now" reads the meter at once."""
    issue_id = f"gateway_busy_{init_integration.entry_id}"
    sim.set_fault(Busy())
    for _ in range(3):
        await poll(hass, freezer)
    sim.clear_faults()

    form = await start_fix_flow(repairs_client, issue_id)
    await submit(repairs_client, form["flow_id"])
    done = await after_progress(hass, repairs_client, form["flow_id"])

    assert done["type"] == "create_entry", done
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_diagnostics_show_when_a_backing_off_meter_is_asked_next(
    hass: HomeAssistant,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The diagnostics give the next poll's time, the back-off included."""
    await silent_until_repaired(hass, sim, freezer, init_integration)
    health = init_integration.runtime_data.coordinator.health
    assert health.next_poll is not None
    assert health.last_failure is not None
    assert health.next_poll - health.last_failure > UPDATE_INTERVAL  # backing off

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    assert diagnostics["polls"]["next_poll"] == health.next_poll.isoformat()


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state
