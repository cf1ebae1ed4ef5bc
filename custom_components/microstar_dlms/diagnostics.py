"""Diagnostics: what the meter negotiated and has, how polls went, the line it shares, the last
session's frames."""

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_DEVICE, CONF_HOST, CONF_PASSWORD
from .coordinator import MicrostarConfigEntry
from .redact import plain, redact_frames

TO_REDACT = {CONF_PASSWORD, CONF_HOST, CONF_DEVICE}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MicrostarConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry, password and location redacted."""
    coordinator = entry.runtime_data.coordinator
    meter = entry.runtime_data.meter
    health = coordinator.health
    seat = coordinator.seat
    bus = seat.bus
    interval = coordinator.update_interval
    enabled = coordinator.enabled_entities()
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "negotiated": plain(health.negotiated),
        "meter": {
            "firmware": meter.firmware,
            "discovery_pending": len(coordinator.pending_objects()),
            "absent": sorted(meter.absent),
            "objects": [
                {
                    "obis": key,
                    "class_id": obj.class_id,
                    "scaler_unit": plain(meter.scaler_units.get(key)),
                    "polled": key in enabled,
                }
                for key, obj in sorted(meter.objects.items())
            ],
        },
        "polls": {
            "successes": health.successes,
            "failures": dict(sorted(health.failures.items())),
            "last_duration": health.last_duration,
            "last_success": health.last_success,
            "last_failure": health.last_failure,
            "last_failure_kind": health.last_failure_kind,
            "failure_streak": health.failure_streak,
            "next_poll_after": None if interval is None else interval.total_seconds(),
            # When, a failing meter's back-off included (also in its repair's text).
            "next_poll": health.next_poll,
            "busy_streak": health.busy_streak,
            "silent_streak": health.silent_streak,
            "glitches_dropped": health.glitches_dropped,
        },
        # The gateway's line, shared by the meters behind it (dlms/bus.py): on a full line a
        # meter is read once per cycle, later than its interval.
        "line": {
            "meters": len(bus.seats),
            "cycle_s": _seconds(bus.cycle),
            "round_s": bus.round_time,
            "waiting": bus.waiting,
            "this_meter": {
                "turns": seat.turns,
                "interval_s": _seconds(seat.interval),
                "last_wait_s": _seconds(seat.last_wait),
                "last_turn_s": _seconds(seat.last_hold),
            },
        },
        "last_session_frames": redact_frames(health.last_frames, coordinator.meter_config.password),
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
