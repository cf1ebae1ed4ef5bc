"""Poll health of a meter, and the repair issues it raises when the user must act.

Another client holding the gateway gets its repair after three busy polls in a row. A silent
meter first gets a notice after three silent polls (it does not answer; within its 180 s
inactivity window a session another client left open may still hold it), then, silent past that
window, its repair (field notes 6). Both repairs have a fix flow (``repairs.py``: "I have done
this, try now"). Each failed poll brings the texts' next try up to date; every issue clears
itself at the next good poll.
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
    ISSUE_METER_NOT_ANSWERING,
    ISSUE_METER_SILENT,
    METER_INACTIVITY_WINDOW,
    REPAIR_AFTER_POLLS,
    UPDATE_INTERVAL,
)
from .dlms.trace import SessionTrace
from .meter_config import MeterConfig

SEVERITY = {
    ISSUE_GATEWAY_BUSY: ir.IssueSeverity.WARNING,
    ISSUE_METER_NOT_ANSWERING: ir.IssueSeverity.WARNING,
    ISSUE_METER_SILENT: ir.IssueSeverity.ERROR,
}
# The repairs a person can act on, then ask for a poll at once (repairs.py); the notice only
# says what Home Assistant waits for.
FIXABLE = frozenset({ISSUE_GATEWAY_BUSY, ISSUE_METER_SILENT})


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
    next_poll: datetime | None = None
    """When the coordinator polls next (a failing meter's back-off included)."""
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
        self.next_poll = now + UPDATE_INTERVAL

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
        if self.silent_streak >= REPAIR_AFTER_POLLS:
            past_window = self.silent_since is not None and (
                now - self.silent_since > METER_INACTIVITY_WINDOW
            )
            due.append(ISSUE_METER_SILENT if past_window else ISSUE_METER_NOT_ANSWERING)
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


def issue_placeholders(title: str, config: MeterConfig, health: PollHealth) -> dict[str, str]:
    """What the issues' texts name: the meter, its gateway as the user wrote it, the next try."""
    return {
        "title": title,
        "endpoint": config.display_endpoint,
        "next_try": clock_time(health.next_poll or dt_util.utcnow()),
    }


def clock_time(moment: datetime) -> str:
    """A moment as the home's clock shows it (Home Assistant's time zone), to the minute."""
    return dt_util.as_local(moment).strftime("%H:%M")


@callback
def async_raise_issue(
    hass: HomeAssistant, entry_id: str, issue: str, placeholders: dict[str, str]
) -> None:
    """Create one of an entry's issues, or bring its text up to date."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"{issue}_{entry_id}",
        data={"entry_id": entry_id},
        is_fixable=issue in FIXABLE,
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
    due = health.record_failure(kind, now)
    delay = health.next_poll_in(now)
    health.next_poll = now + delay
    placeholders = issue_placeholders(entry.title, config, health)
    for issue in due:
        async_raise_issue(hass, entry.entry_id, issue, placeholders)
    if ISSUE_METER_SILENT in due:  # the repair takes the notice's place
        ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_METER_NOT_ANSWERING}_{entry.entry_id}")
    if answered:
        async_delete_issues(hass, entry.entry_id)
    return delay
