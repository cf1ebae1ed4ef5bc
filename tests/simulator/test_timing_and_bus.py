"""Line timing (9600 baud, turnaround) and several meters on one RS-485 line."""

import asyncio

import pytest

from custom_components.microstar_dlms.dlms.hdlc import FrameKind, ServerAddress
from microstar_sim import FAST, MeterConfig, SimulatorConfig, TimingConfig
from microstar_sim.pytest_plugin import SimulatorFactory

from .wire_client import WireClient


async def _snrm_round_trip(port: int) -> float:
    loop = asyncio.get_running_loop()
    async with await WireClient.connect(port) as client:
        start = loop.time()
        ua = await client.snrm()
        elapsed = loop.time() - start
    assert ua.kind is FrameKind.UA
    return elapsed


async def test_realistic_timing_costs_bytes_and_turnaround(simulator: SimulatorFactory) -> None:
    """SNRM (9 bytes) + UA (32 bytes) at 9600 baud + a 100 ms turnaround: about 143 ms."""
    timing = TimingConfig(baudrate=9600, turnaround_min=0.1, turnaround_max=0.1)
    sim = await simulator(SimulatorConfig(timing=timing))
    elapsed = await _snrm_round_trip(sim.port)
    assert 0.1 + 41 * 10 / 9600 <= elapsed < 0.4


async def test_default_turnaround_is_in_the_field_range(simulator: SimulatorFactory) -> None:
    """Default timing: each exchange takes 30-250 ms of turnaround plus the bytes."""
    sim = await simulator(SimulatorConfig())
    elapsed = await _snrm_round_trip(sim.port)
    assert 0.03 + 41 * 10 / 9600 <= elapsed < 0.5


async def test_fast_mode_has_no_line_delay(simulator: SimulatorFactory) -> None:
    """--fast: unit tests do not wait for a serial line."""
    sim = await simulator(SimulatorConfig(timing=FAST))
    assert await _snrm_round_trip(sim.port) < 0.03


async def test_two_meters_behind_one_gateway(simulator: SimulatorFactory) -> None:
    """Each meter answers only its own address; both share the one TCP client."""
    three_phase = MeterConfig(serial_number="21061234", address_size=4)
    single_phase = MeterConfig(
        profile="microstar-1p", serial_number="21065678", address_size=4, seed=2
    )
    sim = await simulator(SimulatorConfig(meters=(three_phase, single_phase), timing=FAST))
    serials = []
    async with await WireClient.connect(sim.port) as client:
        for physical in (1234, 5678):
            client.server = ServerAddress(1, physical, 4)
            await client.open()
            serial = await client.get_data(1, "1-0:0.0.0", 2)
            serials.append(serial.value)
            await client.release()
            assert (await client.disc()).kind is FrameKind.UA
        client.server = ServerAddress(1, 999, 4)
        await client.send(client.i_frame(b"\xe6\xe6\x00\x62\x00"))
        await client.expect_silence(0.2)
    assert serials == [b"21061234", b"21065678"]
    assert {s.meter for s in sim.record.sessions} == {
        "logical 1, physical 1234 (4 bytes)",
        "logical 1, physical 5678 (4 bytes)",
    }


def test_two_meters_cannot_share_an_address() -> None:
    """A bus with a duplicate address is a configuration error, not a confusing test."""
    with pytest.raises(ValueError, match="share"):
        SimulatorConfig(meters=(MeterConfig(), MeterConfig(serial_number="1")))
