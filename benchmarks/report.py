"""The printed table: every figure of the JSON report, side by side per scenario."""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
import sys
from typing import Any

# Issue 25: objects alive per meter after setting 50 up, when it was filed (1 540-1 592).
OBJECTS_PER_METER_BEFORE = 1_540

type Row = tuple[str, ...]
type Column = dict[str, Any]


def _table(title: str, header: Row, rows: list[Row]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Row) -> str:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  " + "  ".join(cells)

    return "\n".join(
        [title, line(header), "  " + "  ".join("-" * w for w in widths)]
        + [line(row) for row in rows]
    )


def _row(label: str, columns: list[Column], cell: Callable[[Column], str]) -> Row:
    return (label, *(cell(column) for column in columns))


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _poll(summary: Column) -> str:
    """Median wall time, round trips, bytes to + from the meter."""
    return (
        f"{_ms(summary['wall_ms_median'])}  {summary['round_trips']} RT  "
        f"{summary['bytes_sent']}+{summary['bytes_received']} B"
    )


def _single(report: dict[str, Any]) -> str:
    ours = report["single_meter"]["ours"]
    reference = report["single_meter"]["reference"]
    keys = list(ours)
    cols = [{**ours[k], "reference": reference[k]} for k in keys]
    split = "time_split"
    rows = [
        _row(
            "protocol floor (RT, bytes)",
            cols,
            lambda c: f"{_ms(c['floor_ms'])}  {c['floor_exchanges']} RT  {c['floor_bytes']} B",
        ),
        _row("ours, first poll (discovery + values)", cols, lambda c: _poll(c["first_poll"])),
        _row(
            "  its exchanges' line + turnaround",
            cols,
            lambda c: _ms(c["first_poll"]["line_and_turnaround_ms"]),
        ),
        _row("ours, steady poll (median)", cols, lambda c: _poll(c["steady"])),
        _row(
            "  min .. max",
            cols,
            lambda c: f"{_ms(c['steady']['wall_ms_min'])} .. {_ms(c['steady']['wall_ms_max'])}",
        ),
        _row("  ours / floor", cols, lambda c: f"{c['steady']['ratio_to_floor']:.3f}"),
        _row(
            "  setup: lock, TCP connect, drain",
            cols,
            lambda c: _ms(c["steady"][split]["setup_ms"]),
        ),
        _row(
            "  waiting on line (floor+sim+loopback)",
            cols,
            lambda c: _ms(c["steady"][split]["waiting_on_line_ms"]),
        ),
        _row(
            "  client work between frames",
            cols,
            lambda c: _ms(c["steady"][split]["client_between_frames_ms"]),
        ),
        _row("  teardown: closing TCP", cols, lambda c: _ms(c["steady"][split]["teardown_ms"])),
        _row(
            "  max loop lag: first / steady polls",
            cols,
            lambda c: (
                f"{_ms(c['max_loop_stall_ms']['first_poll'])} / "
                f"{_ms(c['max_loop_stall_ms']['steady'])}"
            ),
        ),
        _row("gurux-dlms, steady (scaler+value each)", cols, lambda c: _poll(c["reference"])),
        _row(
            "  its exchanges' line + turnaround",
            cols,
            lambda c: _ms(c["reference"]["line_and_turnaround_ms"]),
        ),
        _row(
            "  ours / gurux-dlms",
            cols,
            lambda c: f"{c['steady']['wall_ms_median'] / c['reference']['wall_ms_median']:.3f}",
        ),
    ]
    header = ("one meter, 11 registers, 9600 baud", *(f"turnaround {k}" for k in keys))
    return _table("1. Single meter, default entity set (scalers read once)", header, rows)


def _multiple(report: dict[str, Any]) -> str:
    runs = report["single_meter"]["multiple_references"]
    keys = list(runs)
    cols = [runs[k] for k in keys]
    rows = [
        _row("floor: one GET-with-list", cols, lambda c: _ms(c["floor_ms"])),
        _row("ours, default settings", cols, lambda c: _poll(c["default_settings"])),
        _row("ours, proposing multiple-refs", cols, lambda c: _poll(c["get_with_list"])),
        _row("  / floor", cols, lambda c: f"{c['get_with_list']['ratio_to_floor']:.3f}"),
        _row("ours, same, one GET per value", cols, lambda c: _poll(c["get_per_value"])),
        _row("  / floor", cols, lambda c: f"{c['get_per_value']['ratio_to_floor']:.3f}"),
        _row("GET-with-list speed-up", cols, lambda c: f"{c['speedup']:.2f}x"),
    ]
    header = ("meter grants multiple-references", *(f"turnaround {k}" for k in keys))
    return _table("2. GET-with-list against one GET per value", header, rows)


def _scale(report: dict[str, Any]) -> str:
    runs = report["scale"]
    cols = list(runs.values())
    setup = "setup_with_first_poll"
    rows = [
        _row("values read per poll (HA defaults)", cols, lambda c: str(c["reads_per_poll"])),
        _row(
            "frames sent: first poll / steady",
            cols,
            lambda c: f"{c['frames_sent_first_poll']} / {c['frames_sent_steady_poll']}",
        ),
        _row("setup incl. first poll, wall", cols, lambda c: _ms(c[setup]["wall_ms"])),
        _row("  CPU per meter", cols, lambda c: _ms(c[setup]["cpu_ms_per_meter"])),
        _row(
            "  max loop lag / longest callback",
            cols,
            lambda c: (
                f"{_ms(c[setup]['max_loop_stall_ms'])} / {_ms(c[setup]['longest_callback_ms'])}"
            ),
        ),
        _row(
            "  the longest callback's own CPU",
            cols,
            lambda c: _ms(c[setup].get("longest_callback_cpu_ms", 0.0)),
        ),
        _row("  longest garbage collection", cols, lambda c: _ms(c[setup]["longest_gc_pause_ms"])),
        _row(
            "  full collections / one after setup",
            cols,
            lambda c: (
                f"{c[setup].get('full_collections', '?')} / "
                f"{_ms(c[setup].get('full_collection_after_ms', 0.0))}"
            ),
        ),
        _row(
            "  objects alive per meter",
            cols,
            lambda c: str(c[setup].get("objects_alive_per_meter")),
        ),
        _row(
            "  entities per meter (registered / enabled)",
            cols,
            lambda c: (
                f"{c[setup].get('entities_registered_per_meter', '?')} / "
                f"{c[setup].get('entities_enabled_per_meter', '?')}"
            ),
        ),
        _row("polling round, wall (median)", cols, lambda c: _ms(c["round_wall_ms_median"])),
        _row("CPU per poll (median, HA process)", cols, lambda c: _ms(c["cpu_ms_per_poll_median"])),
        _row("max loop lag in rounds (probe)", cols, lambda c: _ms(c["max_loop_stall_ms"])),
        _row("longest callback in rounds", cols, lambda c: _ms(c["longest_callback_ms"])),
        _row("longest garbage collection in rounds", cols, lambda c: _ms(c["longest_gc_pause_ms"])),
        _row("failed polls", cols, lambda c: str(c["failed_polls"])),
        _row(
            "peak RSS (growth with the meters)",
            cols,
            lambda c: f"{c['peak_rss_mib']} MiB (+{c['rss_growth_mib']})",
        ),
    ]
    header = (
        "HA test instance, --fast simulator",
        *(f"{c['meters']} m / {c['gateways']} gw" for c in cols),
    )
    return _table("3. Scale: all coordinators refreshed at once, per round", header, rows)


def bus_section(report: dict[str, Any], key: str = "bus") -> str:
    """Parts 6 and 8: meters taking turns on one gateway's line (some faulty), cycle by cycle."""
    bus = report[key]
    rows: list[Row] = [
        (
            f"cycle {n + 1}",
            f"{c['cycle_s']:.1f} s",
            f"{c['floor_s']:.1f} s",
            f"{c['to_floor']:.3f}",
            f"{c['sessions']} sessions ({c.get('live_only_sessions', 0)} live only), "
            f"{c['meters']} meters, {c.get('faulty_sessions', 0)} faulty sessions",
        )
        for n, c in enumerate(bus["cycles"])
    ]
    rows.append(
        (
            "between meters (median / max)",
            "",
            "",
            "",
            f"{_ms(bus['bus_handover_ms_median'])} / {_ms(bus['bus_handover_ms_max'])} line idle",
        )
    )
    rows.append(
        (
            "failed polls / meters unavailable",
            "",
            "",
            "",
            f"{bus['bus_failed_polls']} / {bus['bus_unavailable_meters_max']}",
        )
    )
    if "bus_silent_meters" in bus:
        rows.append(
            (
                "silent: first failed poll -> repair",
                "",
                "",
                "",
                f"{bus['bus_silent_repair_s']} s (longest; "
                f"{bus['bus_silent_repairs_raised']} of {bus['bus_silent_meters']} raised)",
            )
        )
        rows.append(
            (
                "wrong password: sessions after it",
                "",
                "",
                "",
                f"{bus['bus_wrong_password_sessions']} ({bus['bus_wrong_password_meters']} meters)",
            )
        )
    number, faulty = ("8", ", faulty meters on it") if key != "bus" else ("6", "")
    title = (
        f"{number}. One line: {bus['bus_meters']} meters behind one gateway{faulty}, "
        f"{bus['baudrate']} baud, {bus['turnaround_ms']} ms turnaround, HA polling on its own"
    )
    return _table(title, ("", "cycle", "floor", "ratio", ""), rows)


def live_section(report: dict[str, Any]) -> str:
    """Part 7: one meter's live power in Home Assistant."""
    live = report["live"]
    rows: list[Row] = [
        (
            f"power reads, {run['turnaround_ms']} ms turnaround",
            f"{run['live_power_interval_s']} s median",
            f"{run['live_power_interval_max_s']} s max",
            f"{run['power_reads']} reads, energy every {run['standard_interval_s']} s; "
            f"line busy {run.get('line_busy_share')}, session {run.get('live_session_s')} s "
            f"live only, {run.get('standard_session_s')} s with the standard reads",
        )
        for name, run in live.items()
        if name.startswith("interval_")
    ]
    rows += [
        (
            f"load step -> state, {run['turnaround_ms']} ms",
            f"{run['step_to_state_p95_s']} s p95",
            f"{run['step_to_state_max_s']} s max",
            f"{run['steps']} steps, median {run['step_to_state_median_s']} s",
        )
        for name, run in live.items()
        if name.startswith("step_")
    ]
    title = "7. Live power: one meter alone on its gateway, 9600 baud, HA polling on its own"
    return _table(title, ("", "", "", ""), rows)


def _decoder(report: dict[str, Any]) -> str:
    decoder = report["decoder"]
    rows: list[Row] = [
        (name, f"{d['frame_bytes']} B", f"{d['frames_per_s']:,}/s", f"{d['us_per_frame']} us")
        for name, d in decoder.items()
        if isinstance(d, dict)
    ]
    trace = f"{decoder['trace_record_us_per_frame']} us"
    rows.append(("showing a traced GET frame (mask+describe)", "", "", trace))
    header = ("frame", "size", "rate", "per frame")
    return _table("4. Decoder: deframe + HDLC checks + APDU + value", header, rows)


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _summary(report: dict[str, Any]) -> str:
    return _table("Summary", ("figure", "value", "target"), summary_rows(report))


def markdown_summary(report: dict[str, Any]) -> str:
    """The summary as the README shows it: the run, then a Markdown table."""
    run = report["run"]
    head = (
        f"{'Quick' if run['quick'] else 'Full'} run of {run['when'][:10]}, {run['seconds']:.0f} s "
        f"on {run['cpus']} CPUs, Python {run['python']}:"
    )
    lines = ["| figure | value | target |", "|---|---|---|"]
    lines += [f"| {label} | {value} | {target} |" for label, value, target in summary_rows(report)]
    return "\n".join([head, "", *lines])


def summary_rows(report: dict[str, Any]) -> list[Row]:
    """Each headline figure: its name, value, target and whether it was met."""
    targets = report["targets"]
    mark = _mark
    rows: list[Row] = []
    if "ratio_to_floor" in report:
        trips = f"{report['round_trips_ours']} / {report['round_trips_reference']}"
        rows += [
            (
                "ratio_to_floor (worst steady / floor)",
                f"{report['ratio_to_floor']:.3f}",
                f"<= 1.10  {mark(targets['steady_within_1_10_of_floor'])}",
            ),
            (
                "ratio_to_reference (worst, ours / gurux)",
                f"{report['ratio_to_reference']:.3f}",
                "",
            ),
            (
                "round_trips_ours / _reference",
                trips,
                f"fewer  {mark(targets['fewer_round_trips_than_reference'])}",
            ),
        ]
    if "max_loop_stall_ms" in report and "no_loop_stall_over_20_ms" in targets:
        rows.append(
            (
                "max_loop_stall_ms (scale rounds, probe)",
                f"{report['max_loop_stall_ms']:.1f}",
                f"<= 20  {mark(targets['no_loop_stall_over_20_ms'])}",
            )
        )
    if "setup_max_loop_stall_ms" in report and "setup_loop_stall_within_50_ms" in targets:
        rows.append(
            (
                "setup_max_loop_stall_ms (meters set up)",
                f"{report['setup_max_loop_stall_ms']:.1f}",
                f"<= 50  {mark(targets['setup_loop_stall_within_50_ms'])}",
            )
        )
    if "objects_alive_per_meter" in report and "objects_alive_per_meter_halved" in targets:
        rows += [
            (
                "longest_callback_ms (50 meters set up; CPU)",
                f"{report['longest_callback_ms']:.1f} ({report['longest_callback_cpu_ms']:.1f})",
                f"<= 20  {mark(targets['setup_longest_callback_within_20_ms'])}",
            ),
            (
                "objects_alive_per_meter (50 set up)",
                str(report["objects_alive_per_meter"]),
                f"<= {OBJECTS_PER_METER_BEFORE // 2}  "
                f"{mark(targets['objects_alive_per_meter_halved'])}",
            ),
        ]
    if "first_discovery_guide_s" in report:
        rows += [
            (
                "first_discovery_guide_s (9600 baud, 250 ms)",
                f"{report['first_discovery_guide_s']:.1f}",
                f"<= 30  {mark(targets['first_discovery_guide_within_30_s'])}",
            ),
            (
                "restart_extra_round_trips",
                str(report["restart_extra_round_trips"]),
                f"0  {mark(targets['no_extra_round_trips_after_restart'])}",
            ),
        ]
    if "bus_cycle_to_floor" in report and "bus_cycle_within_1_10_of_floor" in targets:
        rows += [
            (
                f"bus_cycle_to_floor ({report['bus_meters']} meters, {report['bus_cycle_s']} s)",
                f"{report['bus_cycle_to_floor']:.3f}",
                f"<= 1.10  {mark(targets['bus_cycle_within_1_10_of_floor'])}",
            ),
            (
                "bus_failed_polls",
                str(report["bus_failed_polls"]),
                f"0  {mark(targets['no_failed_bus_polls_over_3_cycles'])}",
            ),
        ]
    rows += _issue_27_rows(report)
    return rows


def _issue_27_rows(report: dict[str, Any]) -> list[Row]:
    """Live power and the faulty line (issue 27), when they ran."""
    targets = report["targets"]
    rows: list[Row] = []
    if "live_power_interval_s" in report:
        rows += [
            (
                "live_power_interval_s (30 ms)",
                f"{report['live_power_interval_s']}",
                f"<= 5  {_mark(targets['live_power_within_5_s_at_30_ms'])}",
            ),
            (
                "live_power_interval_250_s",
                f"{report['live_power_interval_250_s']}",
                f"<= 10  {_mark(targets['live_power_within_10_s_at_250_ms'])}",
            ),
            (
                "step_to_state_p95_s (30 ms)",
                f"{report['step_to_state_p95_s']}",
                f"<= 7  {_mark(targets['step_to_state_p95_within_7_s_over_20_steps'])}",
            ),
        ]
    if "bus_faulty_cycle_to_floor" in report:
        rows += [
            (
                f"bus_faulty_cycle_to_floor ({report['bus_faulty_cycle_s']} s)",
                f"{report['bus_faulty_cycle_to_floor']:.3f}",
                f"<= 1.15  {_mark(targets['faulty_bus_cycle_within_1_15_of_floor'])}",
            ),
            (
                "bus_faulty_failed_polls_healthy",
                str(report["bus_faulty_failed_polls_healthy"]),
                f"0  {_mark(targets['no_failed_healthy_polls_over_3_cycles'])}",
            ),
            (
                "bus_faulty_silent_repair_s",
                str(report["bus_faulty_silent_repair_s"]),
                f"<= 180 + cycle  {_mark(targets['silent_repairs_on_time'])}",
            ),
            (
                "bus_faulty_wrong_password_sessions",
                str(report["bus_faulty_wrong_password_sessions"]),
                f"<= 1 each  {_mark(targets['wrong_password_stops_after_one_session'])}",
            ),
        ]
    return rows


def render(report: dict[str, Any]) -> str:
    """The whole table."""
    run = report["run"]
    kind = "quick" if run["quick"] else "full"
    head = (
        f"Microstar DLMS benchmark ({kind} run, {run['seconds']} s, "
        f"Python {run['python']}, {run['cpus']} CPUs)"
    )
    sections = []
    if "single_meter" in report:
        sections += [_single(report), _multiple(report)]
    if "scale" in report:
        sections.append(_scale(report))
    if "decoder" in report:
        sections.append(_decoder(report))
    if "bus" in report:
        sections.append(bus_section(report))
    if "live" in report:
        sections.append(live_section(report))
    if "bus_faulty" in report:
        sections.append(bus_section(report, "bus_faulty"))
    return "\n\n".join([head, *sections, _summary(report)])


def main() -> None:
    """``python -m benchmarks.report FILE``: the README's summary of a ``scripts/bench --out``
    report (paste it between the README's bench markers; ``tests/repo`` checks they agree)."""
    (path,) = sys.argv[1:]
    print(markdown_summary(json.loads(Path(path).read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
