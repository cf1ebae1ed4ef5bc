"""Repair issues: raised when the user must act, per entry, and gone at the next good poll."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.const import BACKOFF_MAX, DOMAIN
from microstar_sim import Busy, Silent, Simulator

from .conftest import settled
from .polling import poll

pytestmark = pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True)


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
    assert not issue.is_fixable
    assert issue.translation_key == "gateway_busy"
    assert issue.translation_placeholders == {
        "title": init_integration.title,
        "endpoint": sim.endpoint,
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
    """Silent for longer than the 180 s inactivity window: power-cycle the meter."""
    issue_id = f"meter_silent_{init_integration.entry_id}"
    sim.set_fault(Silent())
    # Polls at 30, 60, 90 s, then backing off (150 s): the streak started at 30 s, so at most
    # 150 s of silence so far.
    for _ in range(6):
        await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await poll(hass, freezer)  # 210 s: the backed-off poll is due as the window ends (211 s)
    await poll(hass, freezer)  # 240 s: past the window whatever the real time
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "meter_silent"

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
