"""The ser2net-like gateway: one client, busy text to others, idle timeout, stale bytes."""

import asyncio

import pytest

from custom_components.microstar_dlms.dlms.hdlc import FrameKind, HdlcParameters, decode_frame
from microstar_sim import FAST, DelayResponse, GatewayConfig, ResponseKind, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import CloseReason

from .wire_client import WireClient

FIELD_SNRM = bytes.fromhex("7EA0070303938C117E")


async def test_second_client_gets_port_already_in_use(simulator: SimulatorFactory) -> None:
    """While one client is connected, another gets the ser2net text and is closed."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as first:
        await first.snrm()
        async with await WireClient.connect(sim.port) as second:
            assert await second.read_raw(1.0) == b"Port already in use\r\n"
        assert (await first.disc()).kind is FrameKind.UA  # the first is not disturbed
    record = sim.record
    assert record.busy_replies == 1
    assert record.max_concurrent_connections == 2
    assert [c.refused for c in record.connections] == [False, True]
    assert record.connections[1].closed_by is CloseReason.BUSY


async def test_one_client_at_a_time_is_recorded(simulator: SimulatorFactory) -> None:
    """Sequential clients never overlap: the record says at most one connection at once."""
    sim = await simulator()
    for _ in range(3):
        async with await WireClient.connect(sim.port) as client:
            await client.open()
            await client.close_session()
        await asyncio.sleep(0.05)
    assert sim.record.max_concurrent_connections == 1
    assert sim.record.busy_replies == 0
    assert len(sim.record.connections) == 3


async def test_idle_timeout_closes_a_silent_client(simulator: SimulatorFactory) -> None:
    """With an idle timeout the gateway closes a client that sends nothing."""
    sim = await simulator(SimulatorConfig(timing=FAST, gateway=GatewayConfig(idle_timeout=0.2)))
    async with await WireClient.connect(sim.port) as client:
        assert await client.read_raw(1.0) == b""  # EOF well before a second
    await asyncio.sleep(0.05)
    assert sim.record.connections[0].closed_by is CloseReason.IDLE_TIMEOUT


async def test_stale_bytes_wait_for_the_first_client(simulator: SimulatorFactory) -> None:
    """Bytes left in the gateway buffer arrive before anything the meter says."""
    stale = bytes.fromhex("7EA0 1E03 0373")  # the start of an old UA
    sim = await simulator(SimulatorConfig(timing=FAST, gateway=GatewayConfig(stale_bytes=stale)))
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        raw = await client.read_raw(0.5)
    assert raw.startswith(stale)
    assert decode_frame(raw[len(stale) :]).kind is FrameKind.UA


@pytest.mark.parametrize("keep", [True, False])
async def test_meter_output_after_disconnect(simulator: SimulatorFactory, keep: bool) -> None:
    """A late answer sent after the client left is stale input for the next client when the
    gateway keeps output (field §3), and is lost otherwise."""
    config = SimulatorConfig(
        timing=FAST,
        gateway=GatewayConfig(keep_output_while_disconnected=keep),
        faults=(DelayResponse(0.2, on=ResponseKind.UA),),
    )
    sim = await simulator(config)
    first = await WireClient.connect(sim.port)
    await first.send(FIELD_SNRM)
    await first.close()  # gave up before the late UA
    await asyncio.sleep(0.1)
    await sim.settle()
    async with await WireClient.connect(sim.port) as second:
        stale = await second.read_raw(0.3)
    if not keep:
        assert stale == b""
        return
    ua = decode_frame(stale)
    assert ua.kind is FrameKind.UA
    assert HdlcParameters.decode(ua.information).max_info_tx == 128


async def test_stale_bytes_can_be_added_at_runtime(simulator: SimulatorFactory) -> None:
    """A test can leave garbage for the next client."""
    sim = await simulator()
    sim.add_stale_bytes(b"\x13\x37")
    async with await WireClient.connect(sim.port) as client:
        assert await client.read_raw(0.3) == b"\x13\x37"


async def test_endpoint_is_a_serialx_url(simulator: SimulatorFactory) -> None:
    """Tests and the integration connect with socket://127.0.0.1:PORT."""
    sim = await simulator()
    assert sim.endpoint == f"socket://127.0.0.1:{sim.port}"
    assert sim.port > 0
    assert FAST.fast
