"""The byte stream under the client: every wait bounded, every failure a ConnectionFailed,
closing never raising (a gateway that vanishes must not hang or crash a poll)."""

import asyncio
import socket
from unittest.mock import patch

import pytest
import serialx

from custom_components.microstar_dlms.dlms.errors import ConnectionFailed, Rfc2217NotNegotiated
from custom_components.microstar_dlms.dlms.transport import (
    MeterStream,
    display_endpoint,
    endpoint_key,
    open_stream,
)


class BrokenReader:
    """A reader whose connection was reset."""

    async def read(self, n: int) -> bytes:
        """Fail like a reset socket."""
        raise ConnectionResetError("reset by peer")


class StuckWriter:
    """A writer whose peer stopped reading, and whose close fails or never completes."""

    def __init__(self, *, close_fails: bool = False) -> None:
        self.close_fails = close_fails

    def write(self, data: bytes) -> None:
        """Accept the bytes."""

    async def drain(self) -> None:
        """Never drains."""
        await asyncio.sleep(10)

    def close(self) -> None:
        """Maybe fail."""
        if self.close_fails:
            raise OSError("bad file descriptor")

    async def wait_closed(self) -> None:
        """Never completes, then fails."""
        await asyncio.sleep(10)


async def test_a_reset_connection_reads_as_end_of_stream() -> None:
    """A reset during read is end of stream, not an exception in the middle of a poll."""
    stream = MeterStream(BrokenReader(), StuckWriter(), "socket://gw:3333")  # type: ignore[arg-type]
    assert await stream.read(0.1) == b""
    assert stream.at_eof
    assert await stream.read(0.1) == b""
    with pytest.raises(ConnectionFailed, match="is closed"):
        await stream.write(b"x", 0.1)


async def test_a_write_that_cannot_drain_fails_in_time_and_close_is_bounded() -> None:
    """A gateway that stops reading: the write gives up after its bound; close never waits
    longer than its own bound and never raises, even twice."""
    stream = MeterStream(BrokenReader(), StuckWriter(), "socket://gw:3333")  # type: ignore[arg-type]
    with pytest.raises(ConnectionFailed, match="writing to socket://gw:3333 failed"):
        await stream.write(b"x", 0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stream.close(within=0.05)
    await stream.close(within=0.05)
    assert loop.time() - started < 1.0
    failing = MeterStream(BrokenReader(), StuckWriter(close_fails=True), "gw")  # type: ignore[arg-type]
    await failing.close()
    assert failing.closed


async def test_opening_fails_with_the_endpoint_named_without_secrets() -> None:
    """Unreachable and invalid endpoints are ConnectionFailed naming the endpoint as shown."""
    with pytest.raises(ConnectionFailed, match="could not open /dev/does-not-exist"):
        await open_stream("/dev/does-not-exist", 9600, 1.0)
    with pytest.raises(ConnectionFailed) as caught:
        await open_stream("esphome://user:pw@127.0.0.1:1/?key=c2VjcmV0", 9600, 1.0)
    assert "c2VjcmV0" not in str(caught.value)
    assert "pw" not in str(caught.value)


async def test_opening_is_bounded_by_its_timeout() -> None:
    """A host that never answers: ConnectionFailed after the connect timeout."""

    async def never(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(10)

    with (
        patch.object(serialx, "open_serial_connection", never),
        pytest.raises(ConnectionFailed, match=r"within 0\.2 s \(host unreachable\?\)"),
    ):
        await open_stream("socket://192.0.2.1:3333", 9600, 0.2)


async def test_rfc2217_open_says_which_step_failed() -> None:
    """``rfc2217://``: a port nobody listens on is a plain ConnectionFailed; a server that
    accepts but never negotiates (a raw TCP port) is Rfc2217NotNegotiated, naming host:port
    and the raw TCP URL instead of suggesting the host is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailed) as refused:
        await open_stream(f"rfc2217://127.0.0.1:{closed_port}", 9600, 1.0)
    assert type(refused.value) is ConnectionFailed

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(Rfc2217NotNegotiated) as stalled:
            await open_stream(f"rfc2217://127.0.0.1:{port}", 9600, 0.3)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert str(stalled.value) == (
        f"the gateway at 127.0.0.1:{port} accepted the connection but did not complete the "
        f"RFC 2217 negotiation within 0.3 s; if its port is raw TCP (the usual set-up), use "
        f"socket://127.0.0.1:{port} (host and port) instead"
    )


def test_endpoint_forms() -> None:
    """Keys join meters behind one gateway; shown endpoints carry no secrets."""
    assert endpoint_key("socket://GW.local:3333") == "gw.local:3333"
    assert endpoint_key("/dev/ttyUSB0") == "/dev/ttyUSB0"
    assert endpoint_key("esphome://gw") == "gw:"
    assert display_endpoint("/dev/ttyUSB0") == "/dev/ttyUSB0"
    assert display_endpoint("socket://[::1]:3333") == "socket://[::1]:3333"
    assert display_endpoint("socket://gw:99999") == "socket://gw"
