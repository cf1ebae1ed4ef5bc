"""Many meters on one gateway's line, read by Home Assistant at the field's timing (issues 18, 27).

``python -m benchmarks.bus METERS TURNAROUND_MS CYCLES [SILENT WRONG_PASSWORD]`` prints one JSON
line. The meters are learned on a fast line first (discovery is not what this measures), then the
line runs at 9600 baud with a fixed turnaround while the coordinators poll on their own schedule
(live power every 5 s, the standard readings every 30 s, each poll waiting for its turn) for
CYCLES full cycles. With SILENT and WRONG_PASSWORD, that many meters go silent and have their
password changed at the switch (issue 27's faulty line). The figures come from the simulator's
record of the line, not from the scheduler under test:

- ``bus_cycle_s``: median time between two standard reads (the energy import) of the same
  healthy meter (the first one read after the switch);
- ``bus_cycle_to_floor``: the worst cycle against the protocol floor of the healthy meters'
  sessions in it (line time and turnaround of SNRM, AARQ, the GETs, RLRQ and DISC:
  ``wire.unavoidable``); the faulty meters' sessions are line time the healthy ones lose;
- ``bus_failed_polls``: polls of the healthy meters that failed, from the switch to the end;
- ``bus_handover_ms``: line idle from one meter's last answer to the next meter's first frame
  (TCP close and connect, the stale-input drain, the SNRM's own line time);
- faulty line: ``bus_silent_repair_s``, the longest time from a silent meter's first failed poll
  to its repair (due after the meter's 180 s window; "on time" when at most one cycle later), and
  ``bus_wrong_password_sessions``, the sessions the meter with a wrong password had after the
  switch (it stops polling and asks for re-authentication after the first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.microstar_dlms.const import DOMAIN, ISSUE_METER_SILENT
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.dlms import AttributeRef, Obis
from custom_components.microstar_dlms.freshness import Freshness
from microstar_sim import FAST, MeterConfig, Silent, Simulator, SimulatorConfig, TimingConfig
from microstar_sim.record import ConnectionRecord, FrameRecord, SimulatorRecord

from .entries import learn_every_meter, meter_entry
from .single import BAUDRATE
from .wire import exchanges, floor_seconds, unavoidable

SAMPLE = 0.5  # seconds between looks at the coordinators and entities
# A standard read: the energy import total (a live-only session reads the power alone).
STANDARD_READ = AttributeRef(3, Obis.parse("1-1:1.8.0"), 2)


def meters(count: int) -> tuple[MeterConfig, ...]:
    """``count`` field meters on one line, 4-byte addresses from their serial numbers."""
    return tuple(
        MeterConfig(serial_number=f"2106{1001 + n:04d}", address_size=4) for n in range(count)
    )


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


def _standard(frames: list[FrameRecord]) -> bool:
    """Whether a session read the standard readings (its energy import total)."""
    return any(STANDARD_READ in e.refs for e in exchanges(frames))


def figures(
    record: SimulatorRecord,
    after: float,
    cycles: int,
    baudrate: int,
    turnaround: float,
    *,
    faulty: Collection[str] = (),
) -> dict[str, Any]:
    """Cycles, floors and handovers from the line's record, sessions opened after ``after``;
    the meters (addresses) in ``faulty`` take line time and add nothing to the floor."""
    sessions = sorted(
        (s for s in _sessions(record) if s[0].opened_at >= after), key=lambda s: s[0].opened_at
    )
    healthy = [s for s in sessions if s[1] not in faulty]
    reference = next(meter for _, meter, frames in healthy if _standard(frames))
    starts = [
        c.opened_at for c, meter, frames in healthy if meter == reference and _standard(frames)
    ]
    # The first start after the switch only opens the first measured cycle.
    windows = list(itertools.pairwise(starts))[:cycles]
    measured = []
    for begin, end in windows:
        inside = [s for s in healthy if begin <= s[0].opened_at < end]
        floor = sum(_floor(frames, baudrate, turnaround) for _, _, frames in inside)
        measured.append(
            {
                "cycle_s": round(end - begin, 2),
                "sessions": len(inside),
                "live_only_sessions": sum(1 for _, _, frames in inside if not _standard(frames)),
                "faulty_sessions": sum(
                    1 for c, meter, _ in sessions if meter in faulty and begin <= c.opened_at < end
                ),
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
    durations = [c.closed_at - c.opened_at for c, _, _ in healthy if c.closed_at is not None]
    floors = [_floor(frames, baudrate, turnaround) for _, _, frames in healthy]
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


def _standard_reads(entry: MockConfigEntry) -> datetime | None:
    """When a meter's coordinator last read its standard readings."""
    coordinator: MicrostarCoordinator = entry.runtime_data.coordinator
    return coordinator.schedule.last_read.get(Freshness.STANDARD)


@dataclass(slots=True)
class Watched:
    """What the watch saw: the most healthy meters unavailable at once, repairs as raised."""

    worst_unavailable: int = 0
    repairs: dict[str, datetime] = field(default_factory=dict)  # entry id -> first seen


async def _watch(
    hass: HomeAssistant,
    entries: list[MockConfigEntry],
    *,
    cycles: int,
    within: float,
    silent: Sequence[MockConfigEntry] = (),
    healthy: Sequence[MockConfigEntry] = (),
) -> Watched:
    """Wait until the first meter read its standard readings ``cycles + 1`` times since now and
    every silent meter's repair is raised."""
    deadline = time.monotonic() + within
    watched = Watched()
    reads = 0
    last = _standard_reads(entries[0])
    issues = ir.async_get(hass)
    while time.monotonic() < deadline:
        await asyncio.sleep(SAMPLE)
        watched.worst_unavailable = max(
            watched.worst_unavailable, _unavailable(hass, healthy or entries)
        )
        for entry in silent:
            issue = issues.async_get_issue(DOMAIN, f"{ISSUE_METER_SILENT}_{entry.entry_id}")
            if issue is not None and entry.entry_id not in watched.repairs:
                watched.repairs[entry.entry_id] = dt_util.utcnow()
        if (now := _standard_reads(entries[0])) != last:
            last, reads = now, reads + 1
        # The last cycle's closing standard read has begun.
        if reads > cycles + 1 and len(watched.repairs) == len(silent):
            return watched
    raise RuntimeError(f"{cycles} cycles did not complete within {within:.0f} s")


def faulty_meters(count: int, silent: int, wrong_password: int) -> tuple[list[int], list[int]]:
    """Indices of the silent and the wrong-password meters, spread over the line (never the
    first meter: it is the reference of the cycles)."""
    spread = [
        round((k + 1) * count / (silent + wrong_password + 1))
        for k in range(silent + wrong_password)
    ]
    return spread[:silent], spread[silent:]


async def run(
    count: int,
    turnaround: float,
    cycles: int,
    *,
    baudrate: int = BAUDRATE,
    silent: int = 0,
    wrong_password: int = 0,
) -> dict[str, Any]:
    """Learn ``count`` meters fast, then ``cycles`` cycles at ``baudrate`` and ``turnaround``,
    with ``silent`` meters silent and ``wrong_password`` meters refusing the password."""
    config = SimulatorConfig(meters=meters(count), timing=FAST)
    async with Simulator(config) as sim, async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/
        entries = [
            meter_entry(sim, meter.serial_number, "4", meter.address.physical)
            for meter in config.meters
        ]
        for entry in entries:
            entry.add_to_hass(hass)
        await learn_every_meter(hass, entries)
        silenced, refusing = faulty_meters(count, silent, wrong_password)
        for index in silenced:
            sim.set_fault(Silent(), meter=index)
        for index in refusing:
            sim.set_password(1, "not-the-password", meter=index)
        faulty = {*silenced, *refusing}
        healthy = [e for n, e in enumerate(entries) if n not in faulty]
        sim.set_timing(
            TimingConfig(baudrate=baudrate, turnaround_min=turnaround, turnaround_max=turnaround)
        )
        failed_before = _failures(healthy)
        after = time.monotonic()
        started = time.monotonic()
        watched = await _watch(
            hass,
            entries,
            cycles=cycles,
            within=60 + (cycles + 2) * count * 15,
            silent=[entries[n] for n in silenced],
            healthy=healthy,
        )
        wall = time.monotonic() - started
        failed = _failures(healthy) - failed_before
        bus = entries[0].runtime_data.coordinator.seat.bus
        scheduler = {"cycle_s": round(bus.cycle or 0, 2), "round_s": bus.round_time}
        addresses = [str(m.address) for m in sim.config.meters]
        result = figures(
            sim.record, after, cycles, baudrate, turnaround, faulty={addresses[n] for n in faulty}
        )
        faults = _faulty_figures(
            sim,
            entries=entries,
            silenced=silenced,
            refusing=refusing,
            watched=watched,
            after=after,
        )
        await hass.async_stop(force=True)
    return {
        "bus_meters": count,
        "turnaround_ms": round(turnaround * 1000),
        "baudrate": baudrate,
        **result,
        "bus_failed_polls": failed,
        "bus_unavailable_meters_max": watched.worst_unavailable,
        **faults,
        "scheduler_says": scheduler,
        "measured_s": round(wall, 1),
    }


def _faulty_figures(
    sim: Simulator,
    *,
    entries: Sequence[MockConfigEntry],
    silenced: Sequence[int],
    refusing: Sequence[int],
    watched: Watched,
    after: float,
) -> dict[str, Any]:
    """The silent meters' repairs (from the first failed poll) and the wrong password's cost."""
    if not silenced and not refusing:
        return {}
    delays = []
    for index in silenced:
        entry = entries[index]
        first_failure = entry.runtime_data.coordinator.health.silent_since
        raised = watched.repairs.get(entry.entry_id)
        if first_failure is not None and raised is not None:
            delays.append((raised - first_failure).total_seconds())
    addresses = [str(m.address) for m in sim.config.meters]
    refused = {addresses[n] for n in refusing}
    return {
        "bus_silent_meters": len(silenced),
        "bus_silent_repair_s": round(max(delays), 1) if delays else None,
        "bus_silent_repairs_raised": len(delays),
        "bus_wrong_password_meters": len(refusing),
        "bus_wrong_password_sessions": sum(
            1
            for session in sim.record.sessions
            if session.opened_at >= after and session.meter in refused
        ),
    }


def main() -> None:
    """Entry point: print the result as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    count, turnaround_ms, cycles, *faults = (int(a) for a in sys.argv[1:])
    silent, wrong_password = (*faults, 0, 0)[:2]
    result = run(count, turnaround_ms / 1000, cycles, silent=silent, wrong_password=wrong_password)
    print(json.dumps(asyncio.run(result)), flush=True)


if __name__ == "__main__":
    main()
