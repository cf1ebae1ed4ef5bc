"""One meter at 9600 baud: our client's polls against the protocol floor (parts 1 and 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
import statistics
import time
from typing import Any

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    Conformance,
    ConnectionSettings,
    MeterClient,
    MeterSession,
    Obis,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.apdu import DEFAULT_CONFORMANCE
from custom_components.microstar_dlms.dlms.trace import TraceRecord
from microstar_sim import MeterConfig, Simulator, SimulatorConfig, TimingConfig

from .probe import LoopLagProbe, Timeline, ms
from .wire import Exchange, exchanges, floor_seconds, unavoidable

BAUDRATE = 9600
CLIENT_SAP = 1
# Client SAP 1 with LLS, as in the field; the simulator's default meter accepts it.
PASSWORD = "2222222222"  # noqa: S105 - a simulated meter's well-known test password
PAUSE_BETWEEN_POLLS = 0.2  # polls are 30 s apart in use; let the gateway see the TCP close

# The default entity set of issue 7: energy import/export, total power, voltages, currents,
# frequency, power factor (all class 3 registers, field notes 2).
DEFAULT_REGISTERS: tuple[str, ...] = (
    "1-1:1.8.0",
    "1-1:2.8.0",
    "1-1:15.7.0",
    "1-1:32.7.0",
    "1-1:52.7.0",
    "1-1:72.7.0",
    "1-1:31.7.0",
    "1-1:51.7.0",
    "1-1:71.7.0",
    "1-1:14.7.0",
    "1-1:13.7.0",
)
REGISTER_CLASS = 3
SERIAL_NUMBER = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
FIRMWARE = AttributeRef(1, Obis.parse("1-0:0.2.0"), 2)


def value_refs(registers: Sequence[str] = DEFAULT_REGISTERS) -> list[AttributeRef]:
    """Attribute 2 (value) of each register."""
    return [AttributeRef(REGISTER_CLASS, Obis.parse(r), 2) for r in registers]


def scaler_refs(registers: Sequence[str] = DEFAULT_REGISTERS) -> list[AttributeRef]:
    """Attribute 3 (scaler_unit) of each register."""
    return [AttributeRef(REGISTER_CLASS, Obis.parse(r), 3) for r in registers]


def simulator_config(
    turnaround: float, *, baudrate: int = BAUDRATE, grant_list: bool = False
) -> SimulatorConfig:
    """One field meter behind a gateway, with a fixed turnaround (no jitter)."""
    return SimulatorConfig(
        meters=(MeterConfig(grant_multiple_references=grant_list),),
        timing=TimingConfig(
            baudrate=baudrate, turnaround_min=turnaround, turnaround_max=turnaround
        ),
    )


@dataclass(frozen=True, slots=True)
class Poll:
    """One measured poll."""

    timeline: Timeline
    exchanges: list[Exchange]

    @property
    def round_trips(self) -> int:
        """Client frames that the meter answered."""
        return sum(1 for e in self.exchanges if e.received)

    @property
    def bytes_sent(self) -> int:
        """Towards the meter."""
        return sum(e.sent for e in self.exchanges)

    @property
    def bytes_received(self) -> int:
        """From the meter."""
        return sum(e.received for e in self.exchanges)

    def requests(self) -> dict[str, int]:
        """Exchanges by kind of request."""
        counts: dict[str, int] = {}
        for e in self.exchanges:
            counts[e.request] = counts.get(e.request, 0) + 1
        return counts


type Reader = Any  # an async callable reading what one poll reads, given the open session


async def measure_poll(
    sim: Simulator, client: MeterClient, trace: list[TraceRecord], read: Any
) -> Poll:
    """One session: open, ``await read(session)``, close; the simulator's record of it."""
    await asyncio.sleep(PAUSE_BETWEEN_POLLS)
    await sim.settle()
    sim.record.clear()
    trace.clear()
    started = time.monotonic()
    async with client.session() as session:
        await read(session)
    ended = time.monotonic()
    await sim.settle()
    return Poll(Timeline.of(trace, started, ended), exchanges(sim.record.frames))


def make_client(
    sim: Simulator, trace: list[TraceRecord], conformance: Conformance | None = None
) -> MeterClient:
    """Our client as the integration configures it (client SAP 1, LLS, trace hook on)."""
    settings = ConnectionSettings(
        endpoint=sim.endpoint,
        client_sap=CLIENT_SAP,
        password=PASSWORD,
        server=ServerAddress(1),
        baudrate=BAUDRATE,
    )
    if conformance is not None:
        settings = replace(settings, conformance=conformance)
    return MeterClient(settings, trace=trace.append)


async def read_values(session: MeterSession) -> None:
    """Steady state: the values (scalers are known from the first poll)."""
    results = await session.read_attributes(value_refs())
    if not all(r.ok for r in results):
        raise RuntimeError(f"a read failed: {[r for r in results if not r.ok]}")


async def read_values_one_by_one(session: MeterSession) -> None:
    """Steady state with one GET per value even where GET-with-list is granted."""
    for ref in value_refs():
        await session.get_data(ref)


async def first_poll(session: MeterSession) -> None:
    """Discovery: serial number and firmware, the scalers asked directly, then the values.

    As the integration learns a meter (no object list: see ``benchmarks.guide``).
    """
    await session.get(SERIAL_NUMBER)
    await session.get(FIRMWARE)
    results = await session.read_attributes(scaler_refs())
    if not all(r.ok for r in results):
        raise RuntimeError("a scaler read failed")
    await read_values(session)


def poll_summary(
    polls: Sequence[Poll], baudrate: int, turnaround: float, floor: float
) -> dict[str, Any]:
    """Median wall time, counts and the time split of a set of polls (all alike on the wire)."""
    walls = [p.timeline.wall for p in polls]
    middle = sorted(polls, key=lambda p: p.timeline.wall)[len(polls) // 2]
    line = floor_seconds(middle.exchanges, baudrate, turnaround)
    return {
        "polls": len(polls),
        "wall_ms_median": ms(statistics.median(walls)),
        "wall_ms_min": ms(min(walls)),
        "wall_ms_max": ms(max(walls)),
        "round_trips": middle.round_trips,
        "requests": middle.requests(),
        "bytes_sent": middle.bytes_sent,
        "bytes_received": middle.bytes_received,
        "line_and_turnaround_ms": ms(line),
        "floor_ms": ms(floor),
        "ratio_to_floor": round(statistics.median(walls) / floor, 3),
        "time_split": middle.timeline.as_dict(),
    }


async def single_meter(
    turnaround: float, steady_polls: int, *, baudrate: int = BAUDRATE
) -> dict[str, Any]:
    """Part 1 for our client: the first poll and ``steady_polls`` steady-state polls."""
    trace: list[TraceRecord] = []
    async with (
        Simulator(simulator_config(turnaround, baudrate=baudrate)) as sim,
        LoopLagProbe() as probe,
    ):
        client = make_client(sim, trace)
        first = await measure_poll(sim, client, trace, first_poll)
        first_lag, first_callback = probe.max_stall, probe.longest_callback
        probe.reset()
        steady = [await measure_poll(sim, client, trace, read_values) for _ in range(steady_polls)]
    needed = unavoidable(steady[0].exchanges, value_refs())
    floor = floor_seconds(needed, baudrate, turnaround)
    first_floor = floor_seconds(
        unavoidable(first.exchanges, [SERIAL_NUMBER, FIRMWARE, *scaler_refs(), *value_refs()]),
        baudrate,
        turnaround,
    )
    return {
        "turnaround_ms": ms(turnaround),
        "baudrate": baudrate,
        "floor_exchanges": len(needed),
        "floor_bytes": sum(e.wire_bytes for e in needed),
        "floor_ms": ms(floor),
        "first_poll": poll_summary([first], baudrate, turnaround, first_floor),
        "steady": poll_summary(steady, baudrate, turnaround, floor),
        "max_loop_stall_ms": {
            "first_poll": ms(first_lag),
            "first_poll_longest_callback": ms(first_callback),
            "steady": ms(probe.max_stall),
            "steady_longest_callback": ms(probe.longest_callback),
        },
    }


async def multiple_references(
    turnaround: float, polls: int, *, baudrate: int = BAUDRATE
) -> dict[str, Any]:
    """Part 2: the meter grants multiple-references; GET-with-list against one GET per value."""
    trace: list[TraceRecord] = []
    config = simulator_config(turnaround, baudrate=baudrate, grant_list=True)
    proposing = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
    async with Simulator(config) as sim:
        shipped = make_client(sim, trace)
        as_shipped = [await measure_poll(sim, shipped, trace, read_values) for _ in range(polls)]
        client = make_client(sim, trace, proposing)
        with_list = [await measure_poll(sim, client, trace, read_values) for _ in range(polls)]
        one_by_one = [
            await measure_poll(sim, client, trace, read_values_one_by_one) for _ in range(polls)
        ]
    floor = floor_seconds(unavoidable(with_list[0].exchanges, value_refs()), baudrate, turnaround)
    listed = poll_summary(with_list, baudrate, turnaround, floor)
    single = poll_summary(one_by_one, baudrate, turnaround, floor)
    return {
        "turnaround_ms": ms(turnaround),
        "floor_ms": ms(floor),
        "default_settings": poll_summary(as_shipped, baudrate, turnaround, floor),
        "get_with_list": listed,
        "get_per_value": single,
        "speedup": round(single["wall_ms_median"] / listed["wall_ms_median"], 2),
        "proposed_conformance": f"{int(proposing):06X}",
        "default_conformance": f"{int(DEFAULT_CONFORMANCE):06X}",
    }


async def reference_polls(
    turnaround: float, polls: int, *, baudrate: int = BAUDRATE
) -> dict[str, Any]:
    """Part 1 for the reference client: gurux-dlms over the same simulated link."""
    from .reference import GuruxReader  # noqa: PLC0415 - gurux is a test-only dependency

    async with Simulator(simulator_config(turnaround, baudrate=baudrate)) as sim:
        reader = GuruxReader(sim.host, sim.port, DEFAULT_REGISTERS, CLIENT_SAP, PASSWORD)
        measured: list[tuple[float, list[Exchange]]] = []
        for _ in range(polls):
            await asyncio.sleep(PAUSE_BETWEEN_POLLS)
            await sim.settle()
            sim.record.clear()
            wall = await asyncio.to_thread(reader.poll)
            await sim.settle()
            measured.append((wall, exchanges(sim.record.frames)))
    walls = [wall for wall, _ in measured]
    _, wire = measured[0]
    return {
        "turnaround_ms": ms(turnaround),
        "polls": polls,
        "wall_ms_median": ms(statistics.median(walls)),
        "wall_ms_min": ms(min(walls)),
        "wall_ms_max": ms(max(walls)),
        "round_trips": sum(1 for e in wire if e.received),
        "requests": {
            k: sum(1 for e in wire if e.request == k)
            for k in dict.fromkeys(e.request for e in wire)
        },
        "bytes_sent": sum(e.sent for e in wire),
        "bytes_received": sum(e.received for e in wire),
        "line_and_turnaround_ms": ms(floor_seconds(wire, baudrate, turnaround)),
        "values": {name: str(value) for name, value in reader.values.items()},
    }
