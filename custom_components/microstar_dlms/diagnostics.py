"""Diagnostics: what the meter negotiated and has, how polls went, the line it shares, the last
session's frames; enough to replay the meter (``scripts/simulator --replay``), with the password
redacted and the serial number replaced by a stand-in (``redact.py``) everywhere, frames included.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_DEVICE, CONF_HOST, CONF_PASSWORD
from .coordinator import MicrostarConfigEntry
from .reading import Measured
from .redact import Redaction, plain

TO_REDACT = {CONF_PASSWORD, CONF_HOST, CONF_DEVICE}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MicrostarConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry: password and location redacted, the serial
    number a stand-in (the entry's title, which the user may have written, is left out)."""
    coordinator = entry.runtime_data.coordinator
    meter = entry.runtime_data.meter
    health = coordinator.health
    seat = coordinator.seat
    bus = seat.bus
    interval = coordinator.update_interval
    schedule = coordinator.schedule
    enabled = coordinator.enabled_entities()
    reading = coordinator.data
    values = reading.values if reading is not None else {}
    redaction = Redaction(coordinator.meter_config.password, meter.serial)
    diagnostics = {
        "entry": {
            "unique_id": redaction.serial_shown(entry.unique_id),
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "negotiated": plain(health.negotiated),
        "meter": {
            "serial": redaction.serial_shown(meter.serial),
            "firmware": meter.firmware,
            "clock_drift_s": None if reading is None else reading.clock_drift,
            "discovery_pending": len(coordinator.pending_objects()),
            "absent": sorted(meter.absent),
            "objects": [
                {
                    "obis": key,
                    "class_id": obj.class_id,
                    "scaler_unit": plain(meter.scaler_units.get(key)),
                    "polled": key in enabled,
                    # The last good poll's value, scaled, in the meter's unit: a replay
                    # answers it where the last session did not read the object.
                    "value": _shown(values.get(key)),
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
                # How often each class is read: asked for, and measured between its last two
                # reads (a full line stretches the live reads first).
                "freshness": {
                    str(freshness): {
                        "asked_s": interval.total_seconds(),
                        "measured_s": _seconds(
                            measured.total_seconds()
                            if (measured := schedule.measured.get(freshness))
                            else None
                        ),
                        "last_read": schedule.last_read.get(freshness),
                    }
                    for freshness, interval in schedule.intervals.items()
                },
            },
        },
    }
    return {
        **redaction.value(diagnostics),
        "last_session_frames": redaction.frames(health.last_frames),
    }


def _shown(measured: Measured | None) -> str | None:
    """A value as text: a number exactly, a date-time in ISO 8601."""
    value = None if measured is None else measured.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
