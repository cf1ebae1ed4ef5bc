"""Soak in accelerated time: two meters behind one gateway, polled together, with random faults.

Each cycle moves the meters' clock and HA's wall clock 30 s (the poll interval) and polls both
entries at once, so they contend for the one-client gateway as in the field. At 5 % of the
cycles a random fault is switched on for that cycle only (a fault window). Asserted: every
poll within its bound; every healthy cycle succeeds with the meters' exact values, so every
fault window is followed by recovery; zero overlapping connections and zero "Port already in
use" outside busy windows; zero energy decreases published; no growth in open sockets, tasks or
memory. Memory is counted in what the integration keeps (objects reachable from its roots:
kept_objects.py), apart from the simulator's bounded buffers and the test harness's records of
storage writes, which are dropped every cycle. The figures are printed.

CI: 250 cycles (500 polls). ``--slow`` / ``MICROSTAR_SLOW=1``: 5 000 cycles (10 000 polls).
``MICROSTAR_SOAK_SEED`` changes the fault schedule, ``MICROSTAR_SOAK_CYCLES`` the length.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
import gc
import os
from pathlib import Path
import random
import time

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import storage
import pytest

from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from microstar_sim import (
    FAST,
    Busy,
    CorruptFcs,
    DataAccessFailure,
    DelayResponse,
    DropMidResponse,
    EnergyGlitch,
    FakeClock,
    MeterConfig,
    NoiseBytes,
    RejectAssociation,
    ResponseKind,
    Silent,
    Simulator,
    SimulatorConfig,
    StuckAssociation,
    TruncateFrame,
)
from microstar_sim.pytest_plugin import SimulatorFactory

from .conftest import config_entry, is_slow
from .harness import ENERGY, entity_id, issues, meter_value, track_energy, wall_clock
from .kept_objects import SIMULATOR, KeptObjects, kept_by_integration, kept_from

pytestmark = pytest.mark.usefixtures("enable_custom_integrations")

METERS = (
    MeterConfig(serial_number="21061234", address_size=4, seed=1),  # physical 1234
    MeterConfig(serial_number="21065678", address_size=4, seed=2),  # physical 5678
)
FAULT_RATE = 0.05
CYCLES_CI = 250
CYCLES_SLOW = 5_000
CYCLE_BOUND = 6.0  # two polls, each within the matrix's 3 s bound
WARM_UP = 20  # cycles before the resource baseline (caches, first allocations)
# Growth allowed in what the integration keeps (kept_objects.py), soak of any length: the last
# poll's values, error and trace differ from the baseline's (measured: +4 to +9 objects,
# +0.5 KiB); a leak of one object a poll is +500 at CI length.
KEPT_GROWTH = 100
KEPT_GROWTH_BYTES = 16 * 1024
# Growth allowed in the process's objects but the simulator's: Home Assistant's registries and
# the integration's discovery stores written again after the baseline, as the harness keeps them
# (measured: +57 at 10 000 polls, +137 at 500); a leak of one object a poll fails the nightly.
PROCESS_GROWTH = 2_000
# Meter time runs 4x faster than the 30 s poll interval (more energy per poll to publish), but
# stays under the meter's 180 s inactivity timeout.
METER_SECONDS_PER_CYCLE = 120


def _silent(sim: Simulator) -> None:
    sim.set_fault(Silent(), meter=0)


FAULTS: dict[str, Callable[[Simulator], None]] = {
    "gateway busy": lambda sim: sim.set_fault(Busy()),
    "corrupt FCS once": lambda sim: sim.set_fault(CorruptFcs(on=ResponseKind.GET)),
    "corrupt FCS always": lambda sim: sim.set_fault(CorruptFcs(on=ResponseKind.GET, count=None)),
    "noise": lambda sim: sim.set_fault(NoiseBytes()),
    "truncated frame": lambda sim: sim.set_fault(TruncateFrame(on=ResponseKind.GET)),
    "drop mid-response": lambda sim: sim.set_fault(DropMidResponse(on=ResponseKind.GET)),
    "slow meter": lambda sim: sim.set_fault(DelayResponse(seconds=0.4, on=ResponseKind.GET)),
    "association rejected": lambda sim: sim.set_fault(RejectAssociation(count=1), meter=1),
    "stuck association": lambda sim: sim.set_fault(StuckAssociation(32), meter=0),
    "silent meter": _silent,
    "data-access error": lambda sim: sim.set_fault(
        DataAccessFailure("1-1:32.7.0", attribute=2, count=1), meter=1
    ),
    "energy glitch zero": lambda sim: sim.set_fault(EnergyGlitch(mode="zero"), meter=0),
    "energy glitch smaller": lambda sim: sim.set_fault(EnergyGlitch(mode="smaller"), meter=1),
}


def open_sockets() -> int:
    """Sockets this process holds open (the simulator's listening socket included)."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def rss_kib() -> int:
    """Resident memory of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def forget_captured_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> None:
    """pytest keeps every log record of a test, with its arguments (trace records) and, through
    exc_info, the tracebacks of failed polls, in two handlers; Home Assistant writes records
    to a file and keeps nothing. Drop them so pytest's memory is not counted as ours."""
    caplog.clear()
    plugin = request.config.pluginmanager.get_plugin("logging-plugin")
    report_handler = getattr(plugin, "report_handler", None)
    if report_handler is not None:
        report_handler.clear()


def forget_recorded_writes() -> None:
    """The harness's storage (pytest-homeassistant's ``hass_storage``) replaces Store's
    methods with mocks that record every call with its arguments, so every write of the
    discovery store was kept with its data (the soak's dict and list growth, and ``_Call``);
    a real Store keeps nothing. Drop the records, keep the mocks."""
    for name in ("_async_load", "_async_write_data", "async_remove"):
        method = getattr(storage.Store, name)
        if hasattr(method, "reset_mock"):
            method.reset_mock()


@dataclass
class Resources:
    """Sockets, tasks and memory at one moment."""

    sockets: int
    tasks: int
    rss_kib: int
    objects: int
    types: Counter[str]
    kept: KeptObjects
    simulator: KeptObjects

    @classmethod
    def now(cls, hass: HomeAssistant, sim: Simulator) -> Resources:
        """Measure (after a full collection, so only live objects count)."""
        gc.collect()
        objects = gc.get_objects()
        types = Counter(type(o).__qualname__ for o in objects)
        return cls(
            open_sockets(),
            len(asyncio.all_tasks()),
            rss_kib(),
            len(objects),
            types,
            kept_by_integration(hass),
            kept_from([sim], SIMULATOR),
        )

    def growth(self, later: Resources, top: int = 8) -> dict[str, int]:
        """The object types that grew most."""
        diff = later.types.copy()
        diff.subtract(self.types)
        return {name: count for name, count in diff.most_common(top) if count > 0}


@dataclass
class Figures:
    """What the soak saw."""

    cycles: int = 0
    polls: int = 0
    failed_polls: int = 0
    windows: Counter[str] = field(default_factory=Counter)
    recovered_windows: int = 0
    slowest_cycle: float = 0.0
    busy_outside_windows: int = 0
    max_concurrent_connections: int = 0
    sessions: int = 0
    peak_sockets: int = 0
    peak_tasks: int = 0


@pytest.fixture
async def two_meters(
    hass: HomeAssistant, simulator: SimulatorFactory
) -> tuple[Simulator, FakeClock, list[MicrostarCoordinator]]:
    """Two meters behind one gateway, both entries loaded; only the test starts polls."""
    clock = FakeClock()
    sim = await simulator(SimulatorConfig(meters=METERS, timing=FAST, clock=clock))
    coordinators = []
    for meter in METERS:
        entry = config_entry(
            sim,
            meter.serial_number,
            polling=False,
            address_size="4",
            physical=int(meter.serial_number[-4:]),
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        coordinators.append(entry.runtime_data.coordinator)
    yield sim, clock, coordinators
    for coordinator in coordinators:
        assert await hass.config_entries.async_unload(coordinator.config_entry.entry_id)
    await hass.async_block_till_done()


def _values_right(sim: Simulator, coordinators: list[MicrostarCoordinator]) -> None:
    for index, coordinator in enumerate(coordinators):
        assert coordinator.last_update_success, (index, coordinator.last_exception)
        got = coordinator.data.values[ENERGY].value
        assert got == Decimal(meter_value(sim, ENERGY, index)), (index, got)


async def test_soak_two_meters_one_gateway(
    hass: HomeAssistant,
    two_meters: tuple[Simulator, FakeClock, list[MicrostarCoordinator]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    """10 000 polls (CI: 500) of two meters, 5 % of the cycles with a fault window."""
    sim, clock, coordinators = two_meters
    cycles = int(os.environ.get("MICROSTAR_SOAK_CYCLES", CYCLES_SLOW if is_slow() else CYCLES_CI))
    seed = int(os.environ.get("MICROSTAR_SOAK_SEED", "8"))
    rng = random.Random(seed)
    serials = [m.serial_number for m in METERS]
    published, unsubscribe = track_energy(
        hass, [entity_id(hass, serial, ENERGY) for serial in serials]
    )
    figures = Figures()
    started = time.perf_counter()
    baseline: Resources | None = None
    unrecovered = 0  # fault windows not yet followed by a healthy cycle
    with wall_clock() as wall:
        for cycle in range(cycles):
            if cycle == WARM_UP:
                # Measuring fills the abc module's caches (a weak reference per class it
                # looks at): the second measurement is the baseline.
                Resources.now(hass, sim)
                baseline = Resources.now(hass, sim)
            clock.advance(METER_SECONDS_PER_CYCLE)
            wall.advance(30)
            forget_captured_logs(request, caplog)
            forget_recorded_writes()
            sim.record.clear()
            fault = rng.choice(sorted(FAULTS)) if rng.random() < FAULT_RATE else None
            if fault is not None:
                FAULTS[fault](sim)
            cycle_started = time.perf_counter()
            await asyncio.gather(*(c.async_refresh() for c in coordinators))
            elapsed = time.perf_counter() - cycle_started
            await hass.async_block_till_done()
            await sim.settle()
            figures.cycles += 1
            figures.polls += len(coordinators)
            figures.failed_polls += sum(not c.last_update_success for c in coordinators)
            figures.slowest_cycle = max(figures.slowest_cycle, elapsed)
            assert elapsed < CYCLE_BOUND, f"cycle {cycle} ({fault}) took {elapsed:.2f} s"
            record = sim.record
            figures.max_concurrent_connections = max(
                figures.max_concurrent_connections, record.max_concurrent_connections
            )
            figures.sessions += len(record.sessions)
            if fault != "gateway busy":
                figures.busy_outside_windows += record.busy_replies
            if cycle % 25 == 0:
                figures.peak_sockets = max(figures.peak_sockets, open_sockets())
                figures.peak_tasks = max(figures.peak_tasks, len(asyncio.all_tasks()))
            if fault is not None:
                figures.windows[fault] += 1
                sim.clear_faults()
                if fault == "silent meter":
                    sim.power_cycle(0)
                unrecovered += 1
                continue
            # A healthy cycle: both meters read, exact values, no repair left.
            _values_right(sim, coordinators)
            assert not issues(hass), issues(hass)
            figures.recovered_windows += unrecovered
            unrecovered = 0
    unsubscribe()
    forget_recorded_writes()
    end = Resources.now(hass, sim)
    assert baseline is not None
    duration = time.perf_counter() - started
    report = {
        "seed": seed,
        "cycles": figures.cycles,
        "polls": figures.polls,
        "failed polls": figures.failed_polls,
        "fault windows": sum(figures.windows.values()),
        "recovered windows": figures.recovered_windows,
        "faults": dict(sorted(figures.windows.items())),
        "HDLC sessions seen by the meters": figures.sessions,
        "max concurrent connections": figures.max_concurrent_connections,
        "busy replies outside busy windows": figures.busy_outside_windows,
        "energy states published": sum(len(v) for v in published.values.values()),
        "energy decreases": len(published.decreases),
        "slowest cycle s": round(figures.slowest_cycle, 3),
        "sockets start/peak/end": (baseline.sockets, figures.peak_sockets, end.sockets),
        "tasks start/peak/end": (baseline.tasks, figures.peak_tasks, end.tasks),
        "RSS KiB start/end": (baseline.rss_kib, end.rss_kib),
        "gc objects start/end": (baseline.objects, end.objects),
        "object types grown most": baseline.growth(end),
        "kept by the integration start/end": (baseline.kept.count, end.kept.count),
        "its bytes start/end": (baseline.kept.size, end.kept.size),
        "its types grown most": baseline.kept.growth(end.kept),
        "simulator's objects start/end": (baseline.simulator.count, end.simulator.count),
        "its types grown most (sim)": baseline.simulator.growth(end.simulator),
        "wall time s": round(duration, 1),
    }
    for key, value in report.items():
        record_property(key, value)
    with capsys.disabled():
        print("\n[soak] " + "\n[soak] ".join(f"{k}: {v}" for k, v in report.items()))

    assert not published.decreases, published.decreases
    assert all(v > 0 for values in published.values.values() for v in values), "a zero published"
    assert figures.max_concurrent_connections == 1
    assert figures.busy_outside_windows == 0
    # Every window was followed by a healthy cycle that recovered (the last may end the run).
    assert figures.recovered_windows == sum(figures.windows.values()) - unrecovered
    assert end.sockets <= baseline.sockets
    assert end.tasks <= baseline.tasks
    assert end.rss_kib - baseline.rss_kib < 20 * 1024, "resident memory grew by 20 MiB"
    # What the integration keeps: whatever the length of the soak, the same but for the last
    # poll's values, error and trace.
    kept_more = f"the integration keeps more: {baseline.kept.growth(end.kept)}"
    assert end.kept.count - baseline.kept.count <= KEPT_GROWTH, kept_more
    assert end.kept.size - baseline.kept.size <= KEPT_GROWTH_BYTES, kept_more
    # Anything it leaves in Home Assistant's tables (listeners, timers, states): the process's
    # objects but the simulator's (its load profile fills up to 960 entries a meter).
    grown = end.objects - baseline.objects - (end.simulator.tracked - baseline.simulator.tracked)
    assert grown < PROCESS_GROWTH, f"objects grew: {baseline.growth(end)}"
