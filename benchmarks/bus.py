"""Many meters on one gateway's line, read by Home Assistant at the field's timing (issue 18).

``python -m benchmarks.bus METERS TURNAROUND_MS CYCLES`` prints one JSON line. The meters are
learned on a fast line first (discovery is not what this measures), then the line runs at 9600
baud with a fixed turnaround while the coordinators poll on their own schedule (every 30 s, each
waiting for its turn) for CYCLES full cycles. The figures come from the simulator's record of the
line, not from the scheduler under test:

- ``bus_cycle_s``: median time between two sessions of the same meter (the first meter);
- ``bus_cycle_to_floor``: the worst cycle against the protocol floor of the sessions in it
  (line time and turnaround of SNRM, AARQ, the GETs, RLRQ and DISC: ``wire.unavoidable``);
- ``bus_failed_polls``: polls that failed, any meter, from the switch to real timing to the end;
- ``bus_handover_ms``: line idle from one meter's last answer to the next meter's first frame
  (TCP close and connect, the stale-input drain, the SNRM's own line time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import itertools
import json
import logging
import statistics
import sys
import time
from typing import Any

from homeassistant import loader
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from microstar_sim import FAST, MeterConfig, Simulator, SimulatorConfig, TimingConfig
from microstar_sim.record import ConnectionRecord, FrameRecord, SimulatorRecord

from .entries import meter_entry, set_up_every_meter
from .single import BAUDRATE
from .wire import exchanges, floor_seconds, unavoidable

SAMPLE = 0.5  # seconds between looks at the coordinators and entities


def meters(count: int) -> tuple[MeterConfig, ...]:
    """``count`` field meters on one line, 4-byte addresses from their serial numbers."""
    return tuple(
        MeterConfig(serial_number=f"2106{1001 + n:04d}", address_size=4) for n in range(count)
    )


async def _learn(hass: HomeAssistant, entries: list[MockConfigEntry]) -> None:
    """Set every meter up and finish its discovery (on the fast line)."""
    await set_up_every_meter(hass, entries)
    for entry in entries:
        coordinator: MicrostarCoordinator = entry.runtime_data.coordinator
        for _ in range(10):
            if not coordinator.pending_objects():
                break
            await coordinator.async_refresh()
        if not coordinator.last_update_success or coordinator.pending_objects():
            raise RuntimeError(f"{entry.title} was not learned: {coordinator.last_exception}")


def _failures(entries: Sequence[MockConfigEntry]) -> int:
    return sum(sum(e.runtime_data.coordinator.health.failures.values()) for e in entries)


def _unavailable(hass: HomeAssistant, entries: Sequence[MockConfigEntry]) -> int:
    """Meters whose energy sensor is unavailable now."""
    return sum(
        1
        for e in entries
        if (state := hass.states.get(f"sensor.microstar_{e.unique_id}_energy_import")) is None
        or state.state == STATE_UNAVAILABLE
    )


def _sessions(record: SimulatorRecord) -> list[tuple[ConnectionRecord, str, list[FrameRecord]]]:
    """Each TCP connection that reached a meter: the connection, the meter, its frames."""
    meter_of = {s.connection: s.meter for s in record.sessions if s.connection is not None}
    frames: dict[int, list[FrameRecord]] = {}
    for frame in record.frames:
        if frame.connection is not None:
            frames.setdefault(frame.connection, []).append(frame)
    return [
        (c, meter_of[c.id], frames[c.id])
        for c in record.connections
        if not c.refused and c.id in meter_of and c.id in frames
    ]


def _floor(frames: list[FrameRecord], baudrate: int, turnaround: float) -> float:
    found = exchanges(frames)
    wanted = {ref for e in found if e.request in ("GET", "GET-list") for ref in e.refs}
    return floor_seconds(unavoidable(found, wanted), baudrate, turnaround)


def figures(
    record: SimulatorRecord, after: float, cycles: int, baudrate: int, turnaround: float
) -> dict[str, Any]:
    """Cycles, floors and handovers from the line's record, sessions opened after ``after``."""
    sessions = sorted(
        (s for s in _sessions(record) if s[0].opened_at >= after), key=lambda s: s[0].opened_at
    )
    reference = sessions[0][1]
    starts = [c.opened_at for c, meter, _ in sessions if meter == reference]
    # The first start after the switch only opens the first measured cycle.
    windows = list(itertools.pairwise(starts))[:cycles]
    measured = []
    for begin, end in windows:
        inside = [s for s in sessions if begin <= s[0].opened_at < end]
        floor = sum(_floor(frames, baudrate, turnaround) for _, _, frames in inside)
        measured.append(
            {
                "cycle_s": round(end - begin, 2),
                "sessions": len(inside),
                "meters": len({meter for _, meter, _ in inside}),
                "floor_s": round(floor, 2),
                "to_floor": round((end - begin) / floor, 3),
            }
        )
    handovers = [
        (nxt[2][0].at - prev[2][-1].at) * 1000 for prev, nxt in itertools.pairwise(sessions)
    ]
    reconnects = [
        (nxt[0].opened_at - prev[0].closed_at) * 1000
        for prev, nxt in itertools.pairwise(sessions)
        if prev[0].closed_at is not None
    ]
    durations = [c.closed_at - c.opened_at for c, _, _ in sessions if c.closed_at is not None]
    floors = [_floor(frames, baudrate, turnaround) for _, _, frames in sessions]
    return {
        "cycles": measured,
        "bus_session_s_median": round(statistics.median(durations), 3) if durations else None,
        "bus_session_floor_s_median": round(statistics.median(floors), 3) if floors else None,
        "bus_cycle_s": statistics.median(m["cycle_s"] for m in measured) if measured else None,
        "bus_cycle_to_floor": max(m["to_floor"] for m in measured) if measured else None,
        "bus_handover_ms_median": round(statistics.median(handovers), 1) if handovers else None,
        "bus_handover_ms_max": round(max(handovers), 1) if handovers else None,
        "bus_reconnect_ms_median": round(statistics.median(reconnects), 1) if reconnects else None,
    }


async def _watch(
    hass: HomeAssistant,
    sim: Simulator,
    entries: list[MockConfigEntry],
    *,
    after: float,
    cycles: int,
    within: float,
) -> int:
    """Wait until the first meter opened ``cycles + 1`` sessions since ``after``; return the
    most meters seen unavailable at once meanwhile."""
    first = str(entries[0].runtime_data.coordinator.seat.name)
    address = next(str(m.address) for m in sim.config.meters if m.serial_number == first)
    deadline = time.monotonic() + within
    worst = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(SAMPLE)
        worst = max(worst, _unavailable(hass, entries))
        opened = [s for s in sim.record.sessions if s.meter == address and s.opened_at >= after]
        if len(opened) > cycles + 1:  # the last cycle's closing session has begun
            return worst
    raise RuntimeError(f"{cycles} cycles did not complete within {within:.0f} s")


async def run(
    count: int, turnaround: float, cycles: int, *, baudrate: int = BAUDRATE
) -> dict[str, Any]:
    """Learn ``count`` meters fast, then ``cycles`` cycles at ``baudrate`` and ``turnaround``."""
    config = SimulatorConfig(meters=meters(count), timing=FAST)
    async with Simulator(config) as sim, async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/
        entries = [
            meter_entry(sim, meter.serial_number, "4", meter.address.physical)
            for meter in config.meters
        ]
        for entry in entries:
            entry.add_to_hass(hass)
        await _learn(hass, entries)
        sim.set_timing(
            TimingConfig(baudrate=baudrate, turnaround_min=turnaround, turnaround_max=turnaround)
        )
        failed_before = _failures(entries)
        after = time.monotonic()
        started = time.monotonic()
        worst_unavailable = await _watch(
            hass, sim, entries, after=after, cycles=cycles, within=60 + (cycles + 2) * count * 15
        )
        wall = time.monotonic() - started
        failed = _failures(entries) - failed_before
        bus = entries[0].runtime_data.coordinator.seat.bus
        scheduler = {"cycle_s": round(bus.cycle or 0, 2), "round_s": bus.round_time}
        result = figures(sim.record, after, cycles, baudrate, turnaround)
        await hass.async_stop(force=True)
    return {
        "bus_meters": count,
        "turnaround_ms": round(turnaround * 1000),
        "baudrate": baudrate,
        **result,
        "bus_failed_polls": failed,
        "bus_unavailable_meters_max": worst_unavailable,
        "scheduler_says": scheduler,
        "measured_s": round(wall, 1),
    }


def main() -> None:
    """Entry point: print the result as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    count, turnaround_ms, cycles = (int(a) for a in sys.argv[1:4])
    print(json.dumps(asyncio.run(run(count, turnaround_ms / 1000, cycles))), flush=True)


if __name__ == "__main__":
    main()
