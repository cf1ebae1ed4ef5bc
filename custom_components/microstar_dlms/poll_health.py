"""Poll health of a meter, and the repair issues it raises when the user must act.

Two repairs, neither fixable from Home Assistant: another client holds the gateway (three busy
polls in a row), and the meter is silent past its 180 s inactivity window (field notes 6: a
power cycle). Both clear themselves at the next good poll. (Not named ``repairs.py``: Home
Assistant takes that module for a repairs platform with fix flows, and there are none.)
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import (
    BACKOFF_MAX,
    DOMAIN,
    ISSUE_GATEWAY_BUSY,
    ISSUE_METER_SILENT,
    METER_INACTIVITY_WINDOW,
    REPAIR_AFTER_POLLS,
    UPDATE_INTERVAL,
)
from .dlms.trace import SessionTrace
from .meter_config import MeterConfig

SEVERITY = {
    ISSUE_GATEWAY_BUSY: ir.IssueSeverity.WARNING,
    ISSUE_METER_SILENT: ir.IssueSeverity.ERROR,
}


@dataclass(slots=True)
class PollHealth:
    """Poll statistics and repair streaks of one entry."""

    successes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    last_duration: float | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_failure_kind: str | None = None
    failure_streak: int = 0
    busy_streak: int = 0
    silent_streak: int = 0
    silent_since: datetime | None = None
    glitches_dropped: int = 0
    negotiated: Any = None
    """What the last session negotiated (the core's dataclass), shown by diagnostics."""
    last_frames: SessionTrace = field(default_factory=SessionTrace)
    """The last session's trace records (password masked when shown, redacted again)."""

    def record_success(self, now: datetime) -> None:
        """Count a good poll; every streak ends."""
        self.successes += 1
        self.last_success = now
        self.failure_streak = self.busy_streak = self.silent_streak = 0
        self.silent_since = None

    def record_failure(self, kind: str, now: datetime) -> list[str]:
        """Count a failed poll; return the repairs a streak now calls for."""
        self.failures[kind] += 1
        self.last_failure = now
        self.last_failure_kind = kind
        self.failure_streak += 1
        self.busy_streak = self.busy_streak + 1 if kind == "gateway_busy" else 0
        if kind == "no_answer":
            self.silent_streak += 1
            self.silent_since = self.silent_since or now
        else:
            self.silent_streak = 0
            self.silent_since = None
        due: list[str] = []
        if self.busy_streak >= REPAIR_AFTER_POLLS:
            due.append(ISSUE_GATEWAY_BUSY)
        if (
            self.silent_streak >= REPAIR_AFTER_POLLS
            and self.silent_since is not None
            and now - self.silent_since > METER_INACTIVITY_WINDOW
        ):
            due.append(ISSUE_METER_SILENT)
        return due

    def decides_repair(self, now: datetime) -> bool:
        """Whether a poll now decides the silent repair (raised if it fails too): on a shared
        line it goes before the other polls (dlms/bus.py), so the repair is not a cycle late."""
        since = self.silent_since
        if since is None or self.silent_streak + 1 < REPAIR_AFTER_POLLS:
            return False
        raised = (
            self.silent_streak >= REPAIR_AFTER_POLLS
            and self.last_failure is not None
            and self.last_failure - since > METER_INACTIVITY_WINDOW
        )
        return not raised and now - since > METER_INACTIVITY_WINDOW

    def next_poll_in(self, now: datetime) -> timedelta:
        """When to poll again: every interval until a failing meter's repairs are decided,
        then doubling up to BACKOFF_MAX, but never past the moment its silent repair is due."""
        extra = self.failure_streak - REPAIR_AFTER_POLLS
        if extra < 0:
            return UPDATE_INTERVAL
        delay = min(UPDATE_INTERVAL * (1 << min(extra + 1, 16)), BACKOFF_MAX)
        if self.silent_since is not None:
            due = self.silent_since + METER_INACTIVITY_WINDOW - now
            if due >= timedelta(0):
                delay = min(delay, due + REPAIR_MARGIN)
        return delay


# The silent repair needs the silence to outlast the window: ask just after it has.
REPAIR_MARGIN = timedelta(seconds=1)


@callback
def async_raise_issue(
    hass: HomeAssistant, entry_id: str, issue: str, placeholders: dict[str, str]
) -> None:
    """Create (or refresh) one of an entry's repair issues."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"{issue}_{entry_id}",
        is_fixable=False,
        is_persistent=False,
        severity=SEVERITY[issue],
        translation_key=issue,
        translation_placeholders=placeholders,
    )


@callback
def async_delete_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the repair issues of an entry."""
    for issue in SEVERITY:
        ir.async_delete_issue(hass, DOMAIN, f"{issue}_{entry_id}")


@callback
def async_record_success(hass: HomeAssistant, entry: ConfigEntry, health: PollHealth) -> None:
    """Count a good poll and clear the entry's repairs."""
    health.record_success(dt_util.utcnow())
    async_delete_issues(hass, entry.entry_id)


@callback
def async_record_failure(
    hass: HomeAssistant,
    entry: ConfigEntry,
    health: PollHealth,
    kind: str,
    config: MeterConfig,
    *,
    answered: bool = False,
) -> timedelta:
    """Count a failed poll, raise the repairs its streak calls for; when to poll again (a
    failing meter backs off, so its timeouts do not take the line from the others).

    A meter that ``answered`` but refused (password, another meter) holds no repair: it is not
    silent and the gateway not busy; the user acts on the reauth flow or the entry's error.
    """
    now = dt_util.utcnow()
    placeholders = {"title": entry.title, "endpoint": config.display_endpoint}
    for issue in health.record_failure(kind, now):
        async_raise_issue(hass, entry.entry_id, issue, placeholders)
    if answered:
        async_delete_issues(hass, entry.entry_id)
    return health.next_poll_in(now)
