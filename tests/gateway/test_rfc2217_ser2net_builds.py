"""RFC 2217 through Debian 12's ser2net (4.3.11, what bookworm gateways run) beside the
environment's newer one: where serialx alone stalls (pinned byte for byte), that the client reads
through both (raw TCP too), and what a port that never negotiates RFC 2217 is reported as."""

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib

import pytest
import serialx

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    ConnectionFailed,
    ConnectionSettings,
    MeterClient,
    Obis,
    Rfc2217NotNegotiated,
    ServerAddress,
)
from microstar_sim import Simulator

from .processes import Ser2net, Ser2netBuild, wait_for

SERIAL_NUMBER = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)

# Telnet (RFC 854) and COM-PORT-OPTION (RFC 2217, option 44) bytes; a server's answer to
# command N is N + 100.
WILL_COM_PORT = bytes.fromhex("FF FB 2C")
SET_MODEMSTATE_MASK_255 = bytes.fromhex("FF FA 2C 0B FF FF FF F0")  # the 255 is escaped
SET_LINESTATE_MASK = bytes.fromhex("FF FA 2C 0A")
SET_BAUDRATE_9600 = bytes.fromhex("FF FA 2C 01 00 00 25 80 FF F0")
MODEMSTATE_MASK_REPLY = bytes.fromhex("FF FA 2C 6F")  # 111
NOTIFY_MODEMSTATE = bytes.fromhex("FF FA 2C 6B")  # 107


class Wire:
    """What a relay between a client and the gateway saw, in each direction."""

    def __init__(self, port: int) -> None:
        """Listen on ``port`` (set once started)."""
        self.port = port
        self.from_client = bytearray()
        self.from_gateway = bytearray()

    def show(self) -> str:
        """Both directions in hex, for assertion messages."""
        return f"client: {self.from_client.hex(' ')}\ngateway: {self.from_gateway.hex(' ')}"


@contextlib.asynccontextmanager
async def relay(gateway_port: int) -> AsyncIterator[Wire]:
    """A loopback relay to the gateway that records every byte; closed on exit."""
    wire = Wire(0)
    pumps: list[asyncio.Task[None]] = []

    async def pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: bytearray
    ) -> None:
        try:
            while data := await reader.read(4096):
                seen.extend(data)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def accept(client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        gateway, to_gateway = await asyncio.open_connection("127.0.0.1", gateway_port)
        pumps.append(asyncio.create_task(pump(client, to_gateway, wire.from_client)))
        pumps.append(asyncio.create_task(pump(gateway, to_client, wire.from_gateway)))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    wire.port = server.sockets[0].getsockname()[1]
    try:
        yield wire
    finally:
        server.close()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        await server.wait_closed()


async def serialx_opens(port: int) -> bool:
    """Whether serialx alone opens ``rfc2217://`` on ``port`` within 3 s (closed again)."""
    try:
        _, writer = await serialx.open_serial_connection(
            f"rfc2217://127.0.0.1:{port}", baudrate=9600, connect_timeout=3.0
        )
    except TimeoutError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_serialx_waits_for_a_reply_debian12_never_sends(
    meter: Simulator, start_ser2net: Callable[..., Ser2net], ser2net_build: Ser2netBuild
) -> None:
    """The failing step, byte for byte. After WILL COM-PORT-OPTION serialx sends
    SET-MODEMSTATE-MASK 255 and waits for its reply (111). ser2net 4.3.11 answers the mask with
    NOTIFY-MODEMSTATE (107) and never sends 111, so serialx sends nothing more and the open
    times out; the newer ser2net sends 111 (value 255) and serialx goes on to the line settings."""
    gateway = start_ser2net(rfc2217=True, program=ser2net_build.program)
    async with relay(gateway.port) as wire:
        opened = await serialx_opens(wire.port)
    sent, answered = bytes(wire.from_client), bytes(wire.from_gateway)
    assert WILL_COM_PORT in sent, wire.show()
    assert sent.index(WILL_COM_PORT) < sent.index(SET_MODEMSTATE_MASK_255), wire.show()
    if ser2net_build.name == "debian12":
        assert not opened
        assert NOTIFY_MODEMSTATE in answered, wire.show()
        assert MODEMSTATE_MASK_REPLY not in answered, wire.show()
        assert SET_LINESTATE_MASK not in sent, wire.show()  # stuck at the mask
        assert SET_BAUDRATE_9600 not in sent, wire.show()
    else:
        assert opened
        assert MODEMSTATE_MASK_REPLY + bytes.fromhex("FF FF FF F0") in answered, wire.show()
        assert SET_BAUDRATE_9600 in sent, wire.show()


def field_settings(endpoint: str, connect_timeout: float = 5.0) -> ConnectionSettings:
    """The field client: SAP 1 with its LLS password, 1-byte server address."""
    return ConnectionSettings(
        endpoint=endpoint,
        client_sap=1,
        password="2222222222",
        server=ServerAddress(1),
        response_timeout=2.0,
        connect_timeout=connect_timeout,
        retries=0,
    )


@pytest.mark.parametrize("rfc2217", [False, True], ids=["raw", "rfc2217"])
async def test_the_client_reads_through_each_build(
    meter: Simulator,
    start_ser2net: Callable[..., Ser2net],
    ser2net_build: Ser2netBuild,
    rfc2217: bool,
) -> None:
    """The core client reads through both builds, raw TCP and RFC 2217 (where it leaves out the
    optional state masks), twice, and closes with nothing left open. The AARQ carries 0xFF
    bytes (its max PDU size FF FF), which RFC 2217 escapes."""
    gateway = start_ser2net(rfc2217=rfc2217, program=ser2net_build.program)
    for _ in range(2):  # twice: the second open finds a port the first one set up
        async with MeterClient(field_settings(gateway.endpoint)).session() as session:
            assert await session.get(SERIAL_NUMBER) == b"21061234"
    for _ in range(250):
        await meter.settle()
        if not gateway.clients() and not gateway.holds_device():
            break
        await asyncio.sleep(0.02)
    assert gateway.clients() == 0
    assert not gateway.holds_device()
    assert meter.record.open_sessions == []
    assert meter.record.disc_received == 2


async def test_rfc2217_url_on_a_raw_port_names_the_negotiation(
    meter: Simulator, start_ser2net: Callable[..., Ser2net]
) -> None:
    """``rfc2217://`` typed for a raw TCP port: the gateway accepts, never negotiates, and the
    error says so and points to host:port, instead of suggesting the host is unreachable."""
    gateway = start_ser2net()
    client = MeterClient(field_settings(f"rfc2217://127.0.0.1:{gateway.port}", 2.0))
    with pytest.raises(Rfc2217NotNegotiated) as failed:
        async with client.session():
            pass
    message = str(failed.value)
    assert f"127.0.0.1:{gateway.port} accepted the connection" in message
    assert "did not complete the RFC 2217 negotiation" in message
    assert f"socket://127.0.0.1:{gateway.port}" in message
    assert "unreachable" not in message


async def test_a_held_rfc2217_port_is_not_reported_as_not_negotiated(
    meter: Simulator, start_ser2net: Callable[..., Ser2net], ser2net_build: Ser2netBuild
) -> None:
    """Another client holds the RFC 2217 port (it got the line): the client's negotiation is
    answered and the connection closed at once, a plain ConnectionFailed - not taken for a port
    that never negotiates, even with a connect timeout shorter than ser2net's 4 s wait."""
    gateway = start_ser2net(rfc2217=True, program=ser2net_build.program)
    _, holder = await asyncio.open_connection("127.0.0.1", gateway.port)
    await asyncio.to_thread(wait_for, gateway.holds_device, 10, "the holder to get the line")
    try:
        with pytest.raises(ConnectionFailed) as failed:
            async with MeterClient(field_settings(gateway.endpoint, 2.0)).session():
                pass
        assert type(failed.value) is ConnectionFailed, failed.value
    finally:
        holder.close()
        await holder.wait_closed()
