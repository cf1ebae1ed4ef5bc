"""The meter behind the real ser2net (raw TCP and RFC 2217): the core client and ``scripts/meter``
read through it, a second client gets ser2net's busy text, and ser2net's idle timeout and a
restart mid-poll are survived with nothing left open."""

import asyncio
from collections.abc import Awaitable, Callable
import os
from pathlib import Path
import sys

import pytest

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    ConnectionFailed,
    ConnectionSettings,
    GatewayBusy,
    MeterClient,
    Obis,
    ServerAddress,
    TraceRecord,
)
from microstar_sim import DelayResponse, ResponseKind, Simulator

from .processes import PtyPair, Ser2net, wait_for

REPO = Path(__file__).parents[2]
PASSWORD = "2222222222"
SERIAL_NUMBER = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
BUSY_TEXT = b"Port already in use\r\n"
FIELD_SNRM = bytes.fromhex("7EA0070303938C117E")
FIELD_DISC = bytes.fromhex("7EA00703035380D77E")


def settings(endpoint: str, response_timeout: float = 2.0) -> ConnectionSettings:
    """The field client: SAP 1 with its LLS password, 1-byte server address."""
    return ConnectionSettings(
        endpoint=endpoint,
        client_sap=1,
        password=PASSWORD,
        server=ServerAddress(1),
        response_timeout=response_timeout,
        connect_timeout=5.0,
        lock_timeout=5.0,
    )


async def read_serial(endpoint: str, response_timeout: float = 2.0) -> object:
    """One whole session: open, read the serial number, release and disconnect."""
    async with MeterClient(settings(endpoint, response_timeout)).session() as session:
        return await session.get(SERIAL_NUMBER)


async def nothing_left_open(meter: Simulator, gateway: Ser2net) -> None:
    """ser2net holds no client and has closed the line; the meter has no link or association."""
    for _ in range(250):
        await meter.settle()
        if not gateway.clients() and not gateway.holds_device():
            break
        await asyncio.sleep(0.02)
    assert gateway.clients() == 0
    assert not gateway.holds_device()
    assert meter.record.open_sessions == []
    assert meter.record.open_associations == []


async def test_the_client_reads_through_ser2net(meter: Simulator, ser2net: Ser2net) -> None:
    """Raw TCP (``socket://``) and RFC 2217 (``rfc2217://``) both carry a whole session."""
    assert await read_serial(ser2net.endpoint) == b"21061234"
    await nothing_left_open(meter, ser2net)
    assert meter.record.disc_received == 1


async def test_scripts_meter_reads_through_ser2net(meter: Simulator, ser2net: Ser2net) -> None:
    """The field tool, as a process: ``scripts/meter read --endpoint URL`` prints the voltage."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "microstar_tools.meter",
        "read",
        "--endpoint",
        ser2net.endpoint,
        "--client-sap",
        "1",
        "1-0:0.0.0",
        "1-1:32.7.0",
        cwd=REPO,
        env={**os.environ, "MICROSTAR_PASSWORD": PASSWORD},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(60):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    assert "1-0:0.0.0" in text
    assert "21061234" in text
    assert " V" in text.splitlines()[-1]  # the voltage, scaled, with its unit
    assert PASSWORD not in text
    await nothing_left_open(meter, ser2net)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain TCP client (another program) on the gateway port."""
    return await asyncio.open_connection("127.0.0.1", port)


async def read_all(reader: asyncio.StreamReader, within: float = 10.0) -> bytes:
    """Everything until the gateway closes the connection."""
    async with asyncio.timeout(within):
        return await reader.read()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes
) -> bytes:
    """Send a frame and read one answer frame (a 7E-to-7E UA, short enough for one read)."""
    writer.write(frame)
    async with asyncio.timeout(5):
        answer = await reader.read(100)
        while not answer.endswith(b"\x7e") or len(answer) < 2:
            answer += await reader.read(100)
    return answer


async def close(writer: asyncio.StreamWriter) -> None:
    """Close a plain client."""
    writer.close()
    await writer.wait_closed()


async def test_second_raw_client_gets_the_busy_text(
    meter: Simulator, start_ser2net: Callable[..., Ser2net]
) -> None:
    """While another program holds the raw port, a second client gets exactly ser2net's text
    and is closed; the core reports it as GatewayBusy. The holder is undisturbed."""
    gateway = start_ser2net()
    holder = await connect(gateway.port)
    try:
        assert (await exchange(*holder, FIELD_SNRM))[5] == 0x73  # UA
        second, second_writer = await connect(gateway.port)
        assert await read_all(second) == BUSY_TEXT
        await close(second_writer)
        with pytest.raises(GatewayBusy) as busy:
            await read_serial(gateway.endpoint)
        assert "Port already in use" in str(busy.value)
        assert (await exchange(*holder, FIELD_DISC))[5] == 0x73  # UA: the link is closed
    finally:
        await close(holder[1])
    await nothing_left_open(meter, gateway)


async def test_second_rfc2217_client_gets_the_busy_text_late(
    meter: Simulator, start_ser2net: Callable[..., Ser2net]
) -> None:
    """On the RFC 2217 port ser2net first negotiates telnet options and sends the busy text
    only when its negotiation wait ends (about 4 s), then closes. serialx fails the open when
    the connection closes during negotiation, so the core sees ConnectionFailed, not
    GatewayBusy: through RFC 2217 a busy gateway looks like a refused connection."""
    gateway = start_ser2net(rfc2217=True)
    _, holder = await connect(gateway.port)
    try:
        second, second_writer = await connect(gateway.port)
        received = await read_all(second)
        await close(second_writer)
        assert received.startswith(b"\xff")  # IAC: telnet option negotiation first
        assert received.endswith(BUSY_TEXT)
        with pytest.raises(ConnectionFailed):
            await read_serial(gateway.endpoint)
    finally:
        await close(holder)
    await nothing_left_open(meter, gateway)


async def test_ser2net_idle_timeout_mid_session(
    start_meter: Callable[..., Awaitable[Simulator]], start_ser2net: Callable[..., Ser2net]
) -> None:
    """ser2net's ``timeout: 1`` closes a client that sees no traffic for a while; a meter slow
    enough for that ends the session with ConnectionFailed. The late answer lands on the line
    while nobody has it open and waits there; the next session skips it and reads."""
    meter = await start_meter(faults=(DelayResponse(4.0, on=ResponseKind.GET),))
    gateway = start_ser2net(timeout=1)
    with pytest.raises(ConnectionFailed):
        await read_serial(gateway.endpoint, response_timeout=6.0)
    await meter.settle()  # the late answer is on the line now
    assert await read_serial(gateway.endpoint) == b"21061234"
    await nothing_left_open(meter, gateway)


async def test_ser2net_restart_mid_poll(meter: Simulator, ser2net: Ser2net) -> None:
    """ser2net restarted (SIGTERM, as systemd does) while the meter is answering: the session
    fails at once with ConnectionFailed. The meter's late answer waits on the line: through raw
    TCP it is the first thing the next client gets (and drains); through RFC 2217 it is gone,
    cleared when the port is set up. Either way the next session reads."""
    meter.set_fault(DelayResponse(1.0, on=ResponseKind.GET))
    poll = asyncio.create_task(read_serial(ser2net.endpoint, response_timeout=3.0))
    # The meter took the GET and is holding its answer (the one-shot delay is used up).
    await asyncio.to_thread(wait_for, lambda: not meter.faults, 10, "the GET at the meter")
    await asyncio.to_thread(ser2net.restart)
    with pytest.raises(ConnectionFailed):
        await poll
    await meter.settle()  # the late answer went onto the line while nobody had it open
    trace: list[TraceRecord] = []
    async with MeterClient(settings(ser2net.endpoint), trace=trace.append).session() as session:
        assert await session.get(SERIAL_NUMBER) == b"21061234"
    received = [record for record in trace if record.direction == "RX"]
    if ser2net.rfc2217:
        # Gone: the RFC 2217 port setup at open (serialx configures the line) clears it.
        assert received[0].summary.startswith("UA ")
    else:
        # Raw TCP: the late answer meant for the poll before the restart comes first; the
        # client drains it before its SNRM.
        assert received[0].summary == "not HDLC"
        assert received[0].hex.startswith("7E A0 1A 03 03")  # the serial number's GET answer
        assert received[1].summary.startswith("UA ")
    await nothing_left_open(meter, ser2net)


async def test_meter_on_a_local_serial_device(meter: Simulator, line: PtyPair) -> None:
    """No gateway at all: the client opens the line's other end as a serial port."""
    assert await read_serial(str(line.client_end)) == b"21061234"
    await meter.settle()
    assert meter.record.open_sessions == []
    assert meter.record.disc_received == 1
