"""Sessions cut short never leave the meter's link or association open (issue 12, items 1, 10).

The field's failure: a poll cancelled mid-answer (POLL_TIMEOUT, unload, shutdown, Ctrl-C) used
to finish the whole segmented answer before RLRQ and DISC, ran out of its close budget, and
left the meter holding a link the next poll could not open.
"""

import asyncio
import os
from pathlib import Path
import signal
import sys
import time

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.microstar_dlms.dlms import AttributeRef, ConnectionFailed, Obis
from custom_components.microstar_dlms.dlms.client import ConnectionSettings, MeterClient
from microstar_sim import DropMidResponse, MeterConfig, Simulator, SimulatorConfig, TimingConfig
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import Direction

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "2222222222"
OBJECT_LIST = AttributeRef(15, Obis.parse("0-0:40.0.0"), 2)
SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
RESPONSE_TIMEOUT = 0.5
# The object list (about 2.5 kB) in 50-byte segments: a 50-segment transfer, about 25 ms each.
FIFTY_SEGMENTS = SimulatorConfig(
    meters=(MeterConfig(max_info_length=50, max_pdu_size=6400, snrm_when_connected="ignore"),),
    timing=TimingConfig(baudrate=115200, turnaround_min=0.02, turnaround_max=0.02),
)


def _settings(sim: Simulator, **changes: object) -> ConnectionSettings:
    base: dict[str, object] = {
        "endpoint": sim.endpoint,
        "client_sap": 1,
        "password": PASSWORD,
        "response_timeout": RESPONSE_TIMEOUT,
        "connect_timeout": 2.0,
        "lock_timeout": 2.0,
    }
    base.update(changes)
    return ConnectionSettings(**base)  # type: ignore[arg-type]


def _sent(sim: Simulator, kind: str, after: float) -> list[float]:
    """When the meter received frames of ``kind`` (SNRM, DISC, RR, I) after ``after``."""
    return [
        f.at
        for f in sim.record.frames
        if f.direction is Direction.TO_METER and f.summary.startswith(kind) and f.at >= after
    ]


async def _until_object_list_asked(sim: Simulator, within: float = 5.0) -> None:
    """Wait until the client sent AARQ and then the GET of the object list."""
    async with asyncio.timeout(within):
        while len(_sent(sim, "I", 0)) < 2:  # noqa: ASYNC110 - the record is a plain list
            await asyncio.sleep(0.005)


async def _cancel_during_object_list(instant: float) -> None:
    async with Simulator(FIFTY_SEGMENTS) as sim:
        client = MeterClient(_settings(sim))

        async def poll() -> None:
            async with client.session() as session:
                await session.get(OBJECT_LIST)

        task = asyncio.create_task(poll())
        await _until_object_list_asked(sim)
        await asyncio.sleep(instant)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        returned_after = time.monotonic() - cancelled_at
        await sim.settle()
        disc = _sent(sim, "DISC", cancelled_at)
        record = sim.record
        assert returned_after < RESPONSE_TIMEOUT + 0.25
        assert disc, "no DISC after the cancellation"
        assert disc[0] - cancelled_at < RESPONSE_TIMEOUT
        assert len(_sent(sim, "RR", cancelled_at)) <= 1  # the answer is not finished
        assert record.rlrq_received == 0
        assert record.open_sessions == []
        assert record.open_associations == []


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.floats(min_value=0.0, max_value=1.2))
def test_cancel_at_any_instant_of_a_long_answer_frees_the_meter(instant: float) -> None:
    """Cancelled at a random instant of a 50-segment answer: DISC is written within one
    response timeout, the caller sees the cancellation as soon, and the meter holds nothing."""
    asyncio.run(_cancel_during_object_list(instant))


async def test_after_a_dropped_session_the_next_poll_opens_with_disc(
    simulator: SimulatorFactory,
) -> None:
    """The gateway dropped TCP mid-answer; the meter still holds the link and ignores SNRM
    while connected. The next poll starts with DISC and opens at its first SNRM."""
    meter = MeterConfig(snrm_when_connected="ignore")
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=TimingConfig(fast=True)))
    sim.set_fault(DropMidResponse())
    with pytest.raises(ConnectionFailed):
        async with MeterClient(_settings(sim)).session() as session:
            await session.get(SERIAL)
    await sim.settle()
    assert len(sim.record.open_sessions) == 1  # what the dropped session left behind
    started = time.monotonic()
    async with MeterClient(_settings(sim)).session() as session:
        assert await session.get(SERIAL) == b"21061234"
    await sim.settle()
    assert [f.summary.split()[0] for f in sim.record.frames_to_meter() if f.at >= started][:2] == [
        "DISC",
        "SNRM",
    ]
    assert len(_sent(sim, "SNRM", started)) == 1
    assert sim.record.open_sessions == []


# Ctrl-C reaches the CLI even when the test runs as a background job (which starts children
# with SIGINT ignored, so Python would install no KeyboardInterrupt handler).
_AS_TYPED_IN_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('microstar_tools.meter', run_name='__main__', alter_sys=True)"
)


async def _meter_cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _AS_TYPED_IN_A_TERMINAL,
        *args,
        cwd=ROOT,
        env={**os.environ, "MICROSTAR_PASSWORD": PASSWORD},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


@pytest.mark.parametrize("instant", [0.0, 0.9, 2.3])
async def test_ctrl_c_on_meter_read_ends_at_once_and_frees_the_meter(
    simulator: SimulatorFactory, instant: float
) -> None:
    """Field settings of issue 12 (max-info 32, a 6400-byte PDU, SNRM ignored while connected,
    250 ms turnaround): Ctrl-C during ``scripts/meter read`` of the object list ends the
    program within 3 s, and the next ``scripts/meter test --retries 0`` opens at once."""
    meter = MeterConfig(max_info_length=32, max_pdu_size=6400, snrm_when_connected="ignore")
    sim = await simulator(
        SimulatorConfig(
            meters=(meter,), timing=TimingConfig(turnaround_min=0.25, turnaround_max=0.25)
        )
    )
    common = ["--host", "127.0.0.1", "--port", str(sim.port), "--client-sap", "1"]
    reader = await _meter_cli("read", *common, "15/0.0.40.0.0.255/2")
    await _until_object_list_asked(sim, within=15.0)
    await asyncio.sleep(instant)
    interrupted_at = time.monotonic()
    reader.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        await reader.communicate()
    ended_after = time.monotonic() - interrupted_at
    assert ended_after < 3.0
    started = time.monotonic()
    tester = await _meter_cli("test", *common, "--retries", "0")
    async with asyncio.timeout(10):
        output, _ = await tester.communicate()
    assert tester.returncode == 0, output.decode()
    assert b"21061234" in output
    assert len(_sent(sim, "SNRM", started)) == 1
    await sim.settle()
    assert sim.record.open_sessions == []
    assert sim.record.open_associations == []
