"""The benchmark's code runs end to end with tiny sizes and a fast line (not a timed test)."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from benchmarks import bus, live
from benchmarks.__main__ import run_scale, summarise, targets
from benchmarks.decoder import decode_stream, decoder_throughput, typical_frames
from benchmarks.report import bus_section, live_section, render
from benchmarks.single import (
    multiple_references,
    reference_polls,
    scaler_refs,
    single_meter,
    value_refs,
)
from benchmarks.wire import Exchange, floor_seconds, unavoidable
from custom_components.microstar_dlms.freshness import Freshness

FAST_BAUD = 1_000_000  # about 10 us a byte: the same frames, little waiting
TURNAROUND = 0.001


def test_floor_counts_each_unavoidable_exchange_once() -> None:
    """A re-read scaler, a second AARQ and a repeated value are not in the floor."""
    value, scaler = value_refs()[0], scaler_refs()[0]
    session = [Exchange("SNRM", (), 9, 32), Exchange("AARQ", (), 72, 70)]
    reads = [
        Exchange("GET", (scaler,), 27, 24),
        Exchange("GET", (value,), 27, 23),
        Exchange("GET", (value,), 27, 23),
        Exchange("AARQ", (), 72, 70),
    ]
    close = [Exchange("RLRQ", (), 19, 19), Exchange("DISC", (), 9, 9)]
    kept = unavoidable([*session, *reads, *close], [value])
    assert [e.request for e in kept] == ["SNRM", "AARQ", "GET", "RLRQ", "DISC"]
    wire = sum(e.wire_bytes for e in kept)
    assert floor_seconds(kept, 9600, 0.03) == wire * 10 / 9600 + 5 * 0.03


def test_decoder_reads_the_typical_frames() -> None:
    """The list answer decodes to its eleven values."""
    frames = typical_frames()
    assert decode_stream(frames["get_response"], 3) == 23001
    assert len(decode_stream(frames["get_with_list_response_11"], 1)) == 11


async def test_single_meter_parts_run() -> None:
    """Parts 1 and 2 on a fast line: our poll, gurux-dlms's poll, GET-with-list."""
    ours = await single_meter(TURNAROUND, 1, baudrate=FAST_BAUD)
    assert ours["steady"]["round_trips"] == 15  # SNRM, AARQ, 11 GETs, RLRQ, DISC
    assert ours["floor_exchanges"] == 15
    assert ours["first_poll"]["round_trips"] > ours["steady"]["round_trips"]
    reference = await reference_polls(TURNAROUND, 1, baudrate=FAST_BAUD)
    assert reference["round_trips"] == 25  # SNRM, AARQ, 22 GETs, DISC
    assert len(reference["values"]) == 11
    listed = await multiple_references(TURNAROUND, 1, baudrate=FAST_BAUD)
    assert listed["get_with_list"]["round_trips"] == 5
    assert listed["get_per_value"]["round_trips"] == 15

    report: dict[str, Any] = {
        "single_meter": {
            "ours": {"1ms": ours},
            "reference": {"1ms": reference},
            "multiple_references": {"1ms": listed},
        },
        "scale": {"1_gateways_2_meters": run_scale(1, 2, 1)},
        "decoder": decoder_throughput(20, repeats=1),
        "run": {"quick": True, "seconds": 0, "python": "3", "cpus": 1},
    }
    report |= summarise(report)
    report["targets"] = {
        "steady_within_1_10_of_floor": True,
        "fewer_round_trips_than_reference": True,
        "no_loop_stall_over_20_ms": True,
        "setup_longest_callback_within_20_ms": True,
        "objects_alive_per_meter_halved": True,
    }
    assert report["round_trips_ours"] < report["round_trips_reference"]
    assert report["scale"]["1_gateways_2_meters"]["failed_polls"] == 0
    assert report["objects_alive_per_meter"] > 0
    assert report["entities_registered_per_meter"] >= report["entities_enabled_per_meter"] > 0
    assert report["longest_callback_cpu_ms"] > 0
    text = render(report)
    assert "Summary" in text
    assert "gurux-dlms" in text
    assert "objects_alive_per_meter" in text
    assert "entities per meter (registered / enabled)" in text


INTEGRATION = "custom_components.microstar_dlms"
# Live every 2 s, standard every 4 s: a fast line's cycles in seconds (Home Assistant starts a
# poll up to a second early or late, so not shorter).
SHORT_INTERVALS = {
    Freshness.LIVE: timedelta(seconds=2),
    Freshness.STANDARD: timedelta(seconds=4),
    Freshness.SLOW: timedelta(seconds=60),
}


@contextmanager
def short_clock() -> Iterator[None]:
    """The integration's intervals in seconds, a silent meter's repair after 3 s of silence
    (failed polls 1 s apart, a response timeout of 0.2 s)."""
    with ExitStack() as stack:
        for module in ("freshness", "coordinator"):
            stack.enter_context(patch(f"{INTEGRATION}.{module}.INTERVALS", SHORT_INTERVALS))
        stack.enter_context(
            patch(f"{INTEGRATION}.poll_health.UPDATE_INTERVAL", timedelta(seconds=1))
        )
        stack.enter_context(
            patch(f"{INTEGRATION}.poll_health.METER_INACTIVITY_WINDOW", timedelta(seconds=3))
        )
        stack.enter_context(patch("benchmarks.entries.RESPONSE_TIMEOUT", 0.2))
        yield


async def test_bus_part_runs() -> None:
    """Part 6 on a fast line with short intervals: three meters, two cycles, every one read."""
    with short_clock():
        result = await bus.run(3, TURNAROUND, 2, baudrate=FAST_BAUD)
    assert result["bus_meters"] == 3
    # A line with room: each meter polls on its own timer, so a meter whose start lands right
    # at the edge of the reference meter's cycle can fall into the next one (seen 1 in 10).
    meters_per_cycle = [c["meters"] for c in result["cycles"]]
    assert len(meters_per_cycle) == 2
    assert max(meters_per_cycle) == 3
    assert min(meters_per_cycle) >= 2
    assert result["bus_failed_polls"] == 0
    assert result["bus_unavailable_meters_max"] == 0
    assert result["bus_cycle_s"] >= 3  # the standard interval: a line with room waits for it
    assert result["bus_cycle_to_floor"] > 1
    report: dict[str, Any] = {"bus": result, "bus_meters": 3} | {
        key: result[key] for key in ("bus_cycle_s", "bus_cycle_to_floor", "bus_failed_polls")
    }
    assert "3 meters behind one gateway" in bus_section(report)


async def test_faulty_bus_part_runs() -> None:
    """Part 8 on a fast line: five meters, one silent, one refusing the password: the healthy
    ones are never failed, the silent one's repair is raised, the other stops after a session."""
    with short_clock():
        result = await bus.run(5, TURNAROUND, 2, baudrate=FAST_BAUD, silent=1, wrong_password=1)
    assert len(result["cycles"]) == 2
    assert result["bus_failed_polls"] == 0
    assert result["bus_silent_meters"] == result["bus_silent_repairs_raised"] == 1
    assert result["bus_silent_repair_s"] is not None
    assert result["bus_wrong_password_sessions"] == 1
    assert all(c["meters"] == 3 for c in result["cycles"])  # the healthy ones
    report: dict[str, Any] = {"bus_faulty": result, "run": _RUN}
    report |= summarise(report)
    report["targets"] = targets(report)
    assert "faulty_bus_cycle_within_1_15_of_floor" in report["targets"]
    assert "faulty meters on it" in render(report)


_RUN = {"quick": True, "seconds": 0, "python": "3", "cpus": 1}


async def test_live_parts_run() -> None:
    """Part 7 on a fast line with a 2 s live interval: power read again and again, a few load
    steps shown in Home Assistant."""
    with short_clock():
        interval = await live.live_interval(TURNAROUND, 7, baudrate=FAST_BAUD)
        steps = await live.step_to_state(TURNAROUND, 2, baudrate=FAST_BAUD)
    assert interval["power_reads"] >= 3
    assert interval["live_power_interval_s"] is not None
    assert interval["failed_polls"] == 0
    assert steps["steps"] == 2
    assert steps["step_to_state_p95_s"] >= 0
    report: dict[str, Any] = {
        "live": {"interval_30ms": interval, "interval_250ms": interval, "step_30ms": steps},
        "run": _RUN,
    }
    report |= summarise(report)
    report["targets"] = targets(report)
    assert "live_power_within_5_s_at_30_ms" in report["targets"]
    assert "7. Live power" in live_section(report)
    assert "step_to_state_p95_s" in render(report)
