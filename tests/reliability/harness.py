"""Driving the coordinator in the HA test harness: timed polls, entity states, repairs, clocks.

Polls run on the real event-loop clock (the client's timeouts must really expire), so these
tests do not freeze time; Home Assistant's wall clock is moved with ``WallClock`` where a repair
needs minutes to pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import time
from typing import Any
from unittest.mock import patch

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from microstar_sim import Simulator

ENERGY = "1.1.1.8.0.255"
VOLTAGE = "1.1.32.7.0.255"
POWER = "1.1.1.7.0.255"


@dataclass
class WallClock:
    """Home Assistant's ``utcnow`` running ``offset`` ahead of the real clock."""

    offset: timedelta = timedelta()

    def advance(self, seconds: float) -> None:
        """Move Home Assistant's wall clock forward."""
        self.offset += timedelta(seconds=seconds)


@contextmanager
def wall_clock() -> Iterator[WallClock]:
    """Patch ``dt_util.utcnow`` (and so the coordinator's notion of elapsed time) and the
    energy guard's monotonic clock: a compressed poll interval is a real one to both."""
    clock = WallClock()
    real = dt_util.utcnow

    def utcnow() -> datetime:
        return real() + clock.offset

    def monotonic() -> float:
        return time.monotonic() + clock.offset.total_seconds()

    with (
        patch.object(dt_util, "utcnow", utcnow),
        patch("custom_components.microstar_dlms.sensor.monotonic", monotonic),
    ):
        yield clock


async def timed_refresh(hass: HomeAssistant, coordinator: MicrostarCoordinator) -> float:
    """One poll as HA's scheduler runs it; the seconds it took on the real clock."""
    started = time.perf_counter()
    await coordinator.async_refresh()
    elapsed = time.perf_counter() - started
    await hass.async_block_till_done()
    return elapsed


def every_class_due(coordinator: MicrostarCoordinator) -> None:
    """The next poll reads every class (as 30 s after the last standard one): the meter's clock
    moves in these tests, Home Assistant's does not."""
    coordinator.schedule.last_read.clear()


def entity_id(hass: HomeAssistant, serial: str, key: str) -> str:
    """The entity of one OBIS object of one meter."""
    found = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{serial}_{key}")
    assert found is not None, f"no entity for {serial}_{key}"
    return found


def state(hass: HomeAssistant, serial: str, key: str) -> str:
    """The state string of one object's entity."""
    current = hass.states.get(entity_id(hass, serial, key))
    assert current is not None
    return current.state


def issues(hass: HomeAssistant) -> set[str]:
    """This integration's open repair issues."""
    registry = ir.async_get(hass)
    return {issue_id for (domain, issue_id) in registry.issues if domain == DOMAIN}


def meter_value(sim: Simulator, key: str, meter: int = 0) -> int:
    """The raw value the simulated meter holds now (no faults applied)."""
    obis = ".".join(key.split(".")[:6])
    a, b, c, d, e, _ = (int(part) for part in obis.split("."))
    value = sim.meter(meter).value(f"{a}-{b}:{c}.{d}.{e}").value
    assert isinstance(value, int)
    return value


@dataclass
class PublishedEnergy:
    """Every numeric state an energy entity published (to prove it never went down)."""

    values: dict[str, list[float]] = field(default_factory=dict)
    decreases: list[tuple[str, float, float]] = field(default_factory=list)

    @callback
    def on_state(self, event: Event[EventStateChangedData]) -> None:
        """Record a new numeric state; a decrease is remembered as a failure."""
        new = event.data["new_state"]
        if new is None:
            return
        try:
            value = float(new.state)
        except ValueError:
            return
        history = self.values.setdefault(event.data["entity_id"], [])
        if history and value < history[-1]:
            self.decreases.append((event.data["entity_id"], history[-1], value))
        history.append(value)


def track_energy(hass: HomeAssistant, entity_ids: list[str]) -> tuple[PublishedEnergy, Any]:
    """Start recording the published states of energy entities; returns (record, unsubscribe)."""
    from homeassistant.helpers.event import async_track_state_change_event  # noqa: PLC0415

    published = PublishedEnergy()
    unsubscribe = async_track_state_change_event(hass, entity_ids, published.on_state)
    return published, unsubscribe
