"""``python -m benchmarks [--out FILE.json] [--quick]``: run every part, print, write JSON."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
from pathlib import Path
import platform
import subprocess
import sys
import time
from typing import Any

from .decoder import decoder_throughput
from .report import OBJECTS_PER_METER_BEFORE, render
from .single import multiple_references, reference_polls, single_meter

TURNAROUNDS = (0.030, 0.250)  # the meter's minimum, and the slow end of a healthy gateway
SCALES = ((5, 20), (50, 50))  # (gateways, meters)
GUIDE_TURNAROUND = 0.250  # issue 13: the guide meter at 9600 baud, 250 ms turnaround
BUS_TURNAROUND = 0.250  # issue 18: one gateway's full line at the field's slow turnaround
BUS_CYCLES = 3


class Sizes:
    """How many polls and frames each part measures."""

    def __init__(self, *, quick: bool) -> None:
        """``quick``: fewer repetitions, same scenarios."""
        self.steady = {0.030: 2, 0.250: 1} if quick else {0.030: 5, 0.250: 3}
        self.reference = {0.030: 1, 0.250: 1} if quick else {0.030: 3, 0.250: 2}
        self.with_list = 1 if quick else 3
        self.rounds = 2 if quick else 4
        self.frames = 5_000 if quick else 50_000
        # Meters on one line: the RS-485 limit of 32 (about 10 minutes at real timing); the
        # quick run fills a line with 8 (a cycle still longer than the 30 s interval).
        self.bus_meters = 8 if quick else 32


def run_scale(gateways: int, meters: int, rounds: int) -> dict[str, Any]:
    """Part 3 in a fresh process (its CPU time and peak RSS are Home Assistant's only)."""
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "benchmarks.scale", str(gateways), str(meters), str(rounds)],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale run {gateways}x{meters} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_guide(turnaround: float) -> dict[str, Any]:
    """The guide meter's first discovery and restart, in a fresh process (a Home Assistant)."""
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "benchmarks.guide", str(round(turnaround * 1000))],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,  # learns the whole guide meter first (13 polls at 250 ms turnaround)
    )
    if done.returncode != 0:
        raise RuntimeError(f"guide run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_bus(meters: int, turnaround: float, cycles: int) -> dict[str, Any]:
    """Part 6 in a fresh process: many meters on one line, Home Assistant at real timing."""
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "benchmarks.bus",
            str(meters),
            str(round(turnaround * 1000)),
            str(cycles),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120 + (cycles + 2) * meters * 15,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bus run with {meters} meters failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def run_single(sizes: Sizes) -> dict[str, Any]:
    """Parts 1 and 2."""
    ours = {}
    reference = {}
    with_list = {}
    for turnaround in TURNAROUNDS:
        key = f"{round(turnaround * 1000)}ms"
        ours[key] = await single_meter(turnaround, sizes.steady[turnaround])
        reference[key] = await reference_polls(turnaround, sizes.reference[turnaround])
        with_list[key] = await multiple_references(turnaround, sizes.with_list)
    return {"ours": ours, "reference": reference, "multiple_references": with_list}


def summarise(
    single: dict[str, Any],
    scale: dict[str, Any],
    guide: dict[str, Any] | None = None,
    bus: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The top-level numbers issues 7, 13 and 18 ask for."""
    ours = single["ours"]
    reference = single["reference"]
    keys = list(ours)
    largest = max(scale.values(), key=lambda run: run["meters"])["setup_with_first_poll"]
    return {
        "ratio_to_floor": max(ours[k]["steady"]["ratio_to_floor"] for k in keys),
        "ratio_to_reference": max(
            round(ours[k]["steady"]["wall_ms_median"] / reference[k]["wall_ms_median"], 3)
            for k in keys
        ),
        "round_trips_ours": max(ours[k]["steady"]["round_trips"] for k in keys),
        "round_trips_reference": max(reference[k]["round_trips"] for k in keys),
        "max_loop_stall_ms": max(run["max_loop_stall_ms"] for run in scale.values()),
        "setup_max_loop_stall_ms": max(
            run["setup_with_first_poll"]["max_loop_stall_ms"] for run in scale.values()
        ),
        # Issue 25: the setup of the most meters (50), its longest callback and what it left.
        "longest_callback_ms": largest["longest_callback_ms"],
        "longest_callback_cpu_ms": largest["longest_callback_cpu_ms"],
        "objects_alive_per_meter": largest["objects_alive_per_meter"],
        # What those objects mostly are: Home Assistant's, for each entity (registered, enabled).
        "entities_registered_per_meter": largest["entities_registered_per_meter"],
        "entities_enabled_per_meter": largest["entities_enabled_per_meter"],
        **(
            {
                "first_discovery_guide_s": guide["first_discovery_guide_s"],
                "restart_extra_round_trips": guide["restart_extra_round_trips"],
            }
            if guide is not None
            else {}
        ),
        **(
            {
                key: bus[key]
                for key in ("bus_meters", "bus_cycle_s", "bus_cycle_to_floor", "bus_failed_polls")
            }
            if bus is not None
            else {}
        ),
    }


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = Sizes(quick=args.quick)
    started = time.monotonic()

    print("part 1-2: one meter at 9600 baud (about 1-2 minutes) ...", file=sys.stderr)
    single = asyncio.run(run_single(sizes))
    print("part 3: Home Assistant with many meters ...", file=sys.stderr)
    scale = {f"{g}_gateways_{m}_meters": run_scale(g, m, sizes.rounds) for g, m in SCALES}
    print("part 4: decoder throughput ...", file=sys.stderr)
    decoder = decoder_throughput(sizes.frames)
    print(
        "part 5: the guide meter, first discovery and restart (about 2 minutes) ...",
        file=sys.stderr,
    )
    guide = run_guide(GUIDE_TURNAROUND)
    print(
        f"part 6: {sizes.bus_meters} meters on one line at real timing (minutes) ...",
        file=sys.stderr,
    )
    bus = run_bus(sizes.bus_meters, BUS_TURNAROUND, BUS_CYCLES)

    report: dict[str, Any] = {
        **summarise(single, scale, guide, bus),
        "targets": {},
        "single_meter": single,
        "scale": scale,
        "guide": guide,
        "bus": bus,
        "decoder": decoder,
        "run": {
            "quick": args.quick,
            "seconds": round(time.monotonic() - started, 1),
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
    }
    report["targets"] = {
        "steady_within_1_10_of_floor": report["ratio_to_floor"] <= 1.10,
        "fewer_round_trips_than_reference": report["round_trips_ours"]
        < report["round_trips_reference"],
        "no_loop_stall_over_20_ms": report["max_loop_stall_ms"] <= 20.0,
        "steady_within_1_06_of_floor": report["ratio_to_floor"] <= 1.06,
        "first_discovery_guide_within_30_s": report["first_discovery_guide_s"] <= 30.0,
        "no_extra_round_trips_after_restart": report["restart_extra_round_trips"] == 0,
        "setup_loop_stall_within_50_ms": report["setup_max_loop_stall_ms"] <= 50.0,
        "setup_longest_callback_within_20_ms": report["longest_callback_ms"] <= 20.0,
        "objects_alive_per_meter_halved": report["objects_alive_per_meter"]
        <= OBJECTS_PER_METER_BEFORE // 2,
        "bus_cycle_within_1_10_of_floor": report["bus_cycle_to_floor"] <= 1.10,
        "no_failed_bus_polls_over_3_cycles": report["bus_failed_polls"] == 0
        and len(bus["cycles"]) >= BUS_CYCLES,
    }
    print(render(report))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"JSON written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
