"""Live power in Home Assistant: how often it is read, and how soon a step shows (issue 27).

``python -m benchmarks.live interval TURNAROUND_MS SECONDS`` and
``python -m benchmarks.live step TURNAROUND_MS STEPS`` print one JSON line each. One meter alone
on its gateway, learned on a fast line first, then read at 9600 baud with a fixed turnaround by
the integration in a Home Assistant test instance, polling on its own schedule:

- ``live_power_interval_s``: the median time between two reads of the meter's import power
  (GET 1-1:1.7.0 on the line, from the simulator's record), over SECONDS;
  ``standard_interval_s`` the same for the energy import total;
- ``step_to_state_p95_s``: the meter's power is stepped (the control port's ``load W``) at a
  moment that falls anywhere in the poll cycle, STEPS times; each step's time is until Home
  Assistant's power import state shows the new value; the 95th percentile (nearest rank).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import random
import statistics
import sys
import time
from typing import Any

from homeassistant import loader
from homeassistant.core import HomeAssistant

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.dlms import AttributeRef, Obis
from microstar_sim import FAST, MeterConfig, Simulator, SimulatorConfig, TimingConfig
from microstar_sim.control import ControlServer
from microstar_sim.record import Direction, SimulatorRecord

from .entries import learn_every_meter, meter_entry
from .single import BAUDRATE
from .wire import exchanges

SERIAL = "21061234"
POWER_ENTITY = f"sensor.microstar_{SERIAL}_power_import"
POWER = AttributeRef(3, Obis.parse("1-1:1.7.0"), 2)
ENERGY = AttributeRef(3, Obis.parse("1-1:1.8.0"), 2)
STEP_SPREAD = 5.0  # seconds: a step lands anywhere in one live interval
STEP_TIMEOUT = 60.0
SAMPLE = 0.02  # seconds between looks at the power state


def read_times(record: SimulatorRecord, ref: AttributeRef, after: float) -> list[float]:
    """When the client asked for ``ref`` (its request's last byte on the line), after ``after``."""
    times = []
    for frame in record.frames:
        if frame.direction is not Direction.TO_METER or frame.at < after:
            continue
        found = exchanges([frame])
        if found and ref in found[0].refs:
            times.append(frame.at)
    return times


def median_interval(times: list[float]) -> float | None:
    """The median gap between successive times."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return round(statistics.median(gaps), 2) if gaps else None


def nearest_rank(values: list[float], percentile: float) -> float:
    """The ``percentile`` of ``values`` by nearest rank (p95 of 20: the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


async def _learned_meter(
    sim: Simulator, hass: HomeAssistant, turnaround: float, baudrate: int
) -> MockConfigEntry:
    """The simulator's meter set up and learned on the fast line, then the line slowed down."""
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/
    entry = meter_entry(sim, SERIAL, "1")
    entry.add_to_hass(hass)
    await learn_every_meter(hass, [entry])
    sim.set_timing(
        TimingConfig(baudrate=baudrate, turnaround_min=turnaround, turnaround_max=turnaround)
    )
    return entry


def _config() -> SimulatorConfig:
    return SimulatorConfig(meters=(MeterConfig(serial_number=SERIAL),), timing=FAST)


async def live_interval(
    turnaround: float, seconds: float, *, baudrate: int = BAUDRATE
) -> dict[str, Any]:
    """The meter alone on its line for ``seconds``: intervals between its power reads."""
    async with Simulator(_config()) as sim, async_test_home_assistant() as hass:
        entry = await _learned_meter(sim, hass, turnaround, baudrate)
        after = time.monotonic() + 1.0  # the first poll at the new timing opens the count
        await asyncio.sleep(seconds + 1.0)
        coordinator: MicrostarCoordinator = entry.runtime_data.coordinator
        failures = sum(coordinator.health.failures.values())
        power = read_times(sim.record, POWER, after)
        energy = read_times(sim.record, ENERGY, after)
        line = line_use(sim.record, after, time.monotonic())
        await hass.async_stop(force=True)
    return {
        "turnaround_ms": round(turnaround * 1000),
        "baudrate": baudrate,
        "measured_s": seconds,
        "live_power_interval_s": median_interval(power),
        "live_power_interval_max_s": round(max(b - a for a, b in itertools.pairwise(power)), 2)
        if len(power) > 1
        else None,
        "power_reads": len(power),
        "standard_interval_s": median_interval(energy),
        "energy_reads": len(energy),
        "failed_polls": failures,
        **line,
    }


def line_use(record: SimulatorRecord, begin: float, end: float) -> dict[str, Any]:
    """How much of the line the meter's sessions took from ``begin`` to ``end``, and how long a
    live-only session and one with the standard readings took (medians, TCP open to close)."""
    sessions: dict[bool, list[float]] = {True: [], False: []}
    busy = 0.0
    for connection in record.connections:
        if connection.opened_at < begin or connection.closed_at is None:
            continue
        frames = [f for f in record.frames if f.connection == connection.id]
        standard = any(ENERGY in e.refs for e in exchanges(frames))
        held = min(connection.closed_at, end) - connection.opened_at
        sessions[standard].append(held)
        busy += held
    return {
        "line_busy_share": round(busy / (end - begin), 3),
        "live_session_s": round(statistics.median(sessions[False]), 2) if sessions[False] else None,
        "standard_session_s": round(statistics.median(sessions[True]), 2)
        if sessions[True]
        else None,
    }


async def _state_shows(hass: HomeAssistant, watts: int) -> float:
    """Wait until the power state shows ``watts``; when it did (monotonic)."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        state = hass.states.get(POWER_ENTITY)
        shown = state.state if state is not None else "unknown"
        if shown not in ("unknown", "unavailable") and float(shown) == watts:
            return time.monotonic()
        await asyncio.sleep(SAMPLE)
    raise RuntimeError(f"{POWER_ENTITY} did not show {watts} W within {STEP_TIMEOUT:g} s")


async def step_to_state(
    turnaround: float, steps: int, *, baudrate: int = BAUDRATE, seed: int = 27
) -> dict[str, Any]:
    """``steps`` power steps through the control port, each at a random moment of the poll
    cycle; seconds from each step to Home Assistant's state."""
    chance = random.Random(seed)  # noqa: S311 - when to step, not a secret
    async with Simulator(_config()) as sim, async_test_home_assistant() as hass:
        await _learned_meter(sim, hass, turnaround, baudrate)
        control = ControlServer(sim, "127.0.0.1")
        delays = []
        for step in range(steps):
            await asyncio.sleep(chance.uniform(0, STEP_SPREAD))
            watts = 1000 + 100 * step
            answer = control.execute(f"load {watts} meter=0")
            if not answer.startswith("ok"):
                raise RuntimeError(answer)
            stepped = time.monotonic()
            delays.append(await _state_shows(hass, watts) - stepped)
        await hass.async_stop(force=True)
    return {
        "turnaround_ms": round(turnaround * 1000),
        "baudrate": baudrate,
        "steps": steps,
        "step_to_state_p95_s": round(nearest_rank(delays, 95), 2),
        "step_to_state_median_s": round(statistics.median(delays), 2),
        "step_to_state_max_s": round(max(delays), 2),
    }


def main() -> None:
    """Entry point: print the result as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    part, turnaround_ms, amount = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    turnaround = turnaround_ms / 1000
    if part == "interval":
        result = asyncio.run(live_interval(turnaround, amount))
    elif part == "step":
        result = asyncio.run(step_to_state(turnaround, amount))
    else:
        raise SystemExit(f"unknown part {part!r}: interval or step")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
