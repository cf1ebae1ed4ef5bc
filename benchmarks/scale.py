"""Many meters in a real Home Assistant test instance, polled by the integration's coordinator.

The setup window starts from a collected heap, as in a Home Assistant that has been running
for a while when the meters are added: the test instance's own start-up leaves some hundred
thousand objects waiting for their first full collection, and a full collection of that heap
(~250 ms here) would land in whichever window comes next. The report says how many full
collections ran during the setup, how long one takes right after it (the pause it adds when the
collector's schedule puts one in the window) and how many objects each meter's setup left alive.

Runs in its own process (``python -m benchmarks.scale GATEWAYS METERS ROUNDS``, one JSON line
on stdout) so that CPU time and peak RSS are Home Assistant's and the integration's only; the
simulated gateways run in a child process (``benchmarks.simhost``) with ``--fast`` timing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import resource
import sys
import time
from typing import Any

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator

from .entries import gateway_entry, set_up_every_meter
from .probe import LoopLagProbe, ms


def _values_read(entry: MockConfigEntry) -> int:
    """Values a poll of the entry's meter reads (its enabled entities' objects)."""
    enabled = entry.runtime_data.coordinator.enabled_entities()
    return sum(1 for key in entry.runtime_data.meter.objects if key in enabled)


def _entities_per_meter(hass: HomeAssistant, meters: int) -> tuple[float, float]:
    """The integration's entities in the entity registry, then those enabled, per meter: most of
    the objects a meter's setup leaves alive are Home Assistant's for each of them."""
    ours = [e for e in er.async_get(hass).entities.values() if e.platform == DOMAIN]
    enabled = sum(1 for e in ours if e.disabled_by is None)
    return round(len(ours) / meters, 1), round(enabled / meters, 1)


def _rss_kib() -> int:
    """Current resident set size."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (the simulator host)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _frames_sent(entries: list[MockConfigEntry]) -> int:
    """Frames the client sent in its last poll (the coordinator's trace), worst entry."""
    return max(
        sum(
            1
            for f in e.runtime_data.coordinator.health.last_frames
            if str(getattr(f, "direction", "")).upper() == "TX"
        )
        for e in entries
    )


def _entries(announced: dict[str, Any]) -> list[MockConfigEntry]:
    return [
        gateway_entry(gateway["host"], gateway["port"], serial, "4", physical)
        for gateway in announced["gateways"]
        for serial, physical in gateway["meters"]
    ]


async def _polling_rounds(
    hass: HomeAssistant,
    entries: list[MockConfigEntry],
    rounds: int,
    probe: LoopLagProbe,
    simulator_pid: int,
) -> list[dict[str, Any]]:
    coordinators: list[MicrostarCoordinator] = [e.runtime_data.coordinator for e in entries]
    measured = []
    for _ in range(rounds):
        await asyncio.sleep(0.2)  # let the gateways see the previous round's TCP closes
        probe.reset()
        cpu = _cpu()
        simulator_cpu = _process_cpu(simulator_pid)
        started = time.monotonic()
        await asyncio.gather(*(c.async_refresh() for c in coordinators))
        await hass.async_block_till_done()
        wall = time.monotonic() - started
        cpu = _cpu() - cpu
        simulator_cpu = _process_cpu(simulator_pid) - simulator_cpu
        failed = sum(1 for c in coordinators if not c.last_update_success)
        measured.append(
            {
                "wall_ms": ms(wall),
                "cpu_ms_per_poll": ms(cpu / len(coordinators)),
                "simulator_cpu_ms": ms(simulator_cpu),
                "max_loop_stall_ms": ms(probe.max_stall),
                "loop_thread_cpu_in_that_sample_ms": ms(probe.thread_cpu_during_max),
                "longest_callback_ms": ms(probe.longest_callback),
                "longest_callback_cpu_ms": ms(probe.longest_callback_cpu),
                "longest_callback": probe.longest_callback_name,
                "longest_gc_pause_ms": ms(probe.longest_gc_pause),
                "failed_polls": failed,
            }
        )
    return measured


async def run(gateways: int, meters_per_gateway: int, rounds: int) -> dict[str, Any]:
    """Set the meters up (first poll: discovery), then ``rounds`` polling rounds of all."""
    host = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.simhost",
        str(gateways),
        str(meters_per_gateway),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert host.stdin is not None
    assert host.stdout is not None
    try:
        announced = json.loads(await host.stdout.readline())
        rss_before = _rss_kib()
        async with async_test_home_assistant() as hass, LoopLagProbe() as probe:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/
            entries = _entries(announced)
            for entry in entries:
                entry.add_to_hass(hass)
            gc.collect()
            tracked = len(gc.get_objects())
            probe.reset()
            cpu = _cpu()
            started = time.monotonic()
            await set_up_every_meter(hass, entries)
            setup_wall = time.monotonic() - started
            setup_cpu = _cpu() - cpu
            setup_stall = probe.max_stall
            setup_stall_cpu = probe.thread_cpu_during_max
            setup_callback = probe.longest_callback
            setup_callback_cpu = probe.longest_callback_cpu
            setup_callback_name = probe.longest_callback_name
            setup_gc = probe.longest_gc_pause
            setup_full_collections = probe.full_collections
            collect_started = time.perf_counter()
            gc.collect()
            full_collection = time.perf_counter() - collect_started
            alive_per_meter = (len(gc.get_objects()) - tracked) / len(entries)
            registered, enabled = _entities_per_meter(hass, len(entries))
            loaded = sum(1 for e in entries if e.state is ConfigEntryState.LOADED)
            if loaded != len(entries):
                states = sorted({str(e.state) for e in entries})
                raise RuntimeError(f"{loaded}/{len(entries)} entries loaded: {states}")
            first_poll_frames = _frames_sent(entries)
            reads = [_values_read(e) for e in entries]
            measured = await _polling_rounds(hass, entries, rounds, probe, host.pid)
            steady_frames = _frames_sent(entries)
            rss_loaded = _rss_kib()
            await hass.async_stop(force=True)
    finally:
        host.stdin.close()
        await host.wait()
    return {
        "gateways": gateways,
        "meters": gateways * meters_per_gateway,
        "reads_per_poll": max(reads),
        "frames_sent_first_poll": first_poll_frames,
        "frames_sent_steady_poll": steady_frames,
        "setup_with_first_poll": {
            "wall_ms": ms(setup_wall),
            "cpu_ms_per_meter": ms(setup_cpu / len(entries)),
            "max_loop_stall_ms": ms(setup_stall),
            "loop_thread_cpu_in_that_sample_ms": ms(setup_stall_cpu),
            "longest_callback_ms": ms(setup_callback),
            "longest_callback_cpu_ms": ms(setup_callback_cpu),
            "longest_callback": setup_callback_name,
            "longest_gc_pause_ms": ms(setup_gc),
            "full_collections": setup_full_collections,
            "objects_alive_per_meter": round(alive_per_meter),
            "entities_registered_per_meter": registered,
            "entities_enabled_per_meter": enabled,
            "full_collection_after_ms": ms(full_collection),
        },
        "rounds": measured,
        "round_wall_ms_median": sorted(r["wall_ms"] for r in measured)[len(measured) // 2],
        "cpu_ms_per_poll_median": sorted(r["cpu_ms_per_poll"] for r in measured)[
            len(measured) // 2
        ],
        "max_loop_stall_ms": max(r["max_loop_stall_ms"] for r in measured),
        "longest_callback_ms": max(r["longest_callback_ms"] for r in measured),
        "longest_gc_pause_ms": max(r["longest_gc_pause_ms"] for r in measured),
        "failed_polls": sum(int(r["failed_polls"]) for r in measured),
        "peak_rss_mib": round(_peak_rss_kib() / 1024, 1),
        "rss_growth_mib": round((rss_loaded - rss_before) / 1024, 1),
    }


def main() -> None:
    """Entry point: print the result as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:  # leave the last CPU to the simulated gateways
        os.sched_setaffinity(0, cpus[:-1])
    gateways, meters, rounds = (int(a) for a in sys.argv[1:4])
    result = asyncio.run(run(gateways, meters // gateways, rounds))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
