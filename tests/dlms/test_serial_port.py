"""The client over a serial device path (a pseudo-terminal standing in for RS-485)."""

import asyncio
from collections.abc import AsyncIterator
import contextlib
import os

import pytest

from custom_components.microstar_dlms.dlms import ConnectionSettings, MeterClient, ServerAddress
from custom_components.microstar_dlms.dlms.transport import endpoint_key

from .fake_meter import VOLTAGE, FakeMeter


class PtyWriter:
    """The meter's side of the line: writes to the pty master."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: bytes) -> None:
        """Write everything (a pty buffer takes a few kB at once)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    async def drain(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        """The line stays; the test closes the fds."""


@contextlib.asynccontextmanager
async def meter_on_a_serial_line(meter: FakeMeter) -> AsyncIterator[str]:
    """A fake meter on the master side of a pty; yields the device path for the client."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()

    def readable() -> None:
        with contextlib.suppress(OSError):  # EIO once the client closed the slave side
            reader.feed_data(os.read(master, 4096))

    loop.add_reader(master, readable)
    task = asyncio.create_task(meter.handle(reader, PtyWriter(master)))  # type: ignore[arg-type]
    try:
        yield os.ttyname(slave)
    finally:
        loop.remove_reader(master)
        reader.feed_eof()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        os.close(master)
        os.close(slave)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
async def test_session_over_a_serial_device_path() -> None:
    """Same session over a device path: SNRM ... DISC, and the port is released afterwards."""
    meter = FakeMeter()
    async with meter_on_a_serial_line(meter) as path:
        settings = ConnectionSettings(
            endpoint=path, client_sap=1, server=ServerAddress(1), response_timeout=1.0
        )
        for _ in range(2):  # the second session proves the port was closed and reopened
            async with MeterClient(settings).session() as session:
                assert await session.get(VOLTAGE) == 23001
    assert meter.record.frames.count("SNRM") == 2
    assert meter.record.frames[-2:] == ["ReleaseRequest", "DISC"]
    assert endpoint_key(path) == path


def test_endpoint_keys() -> None:
    """Meters behind one gateway share a lock key; serial paths key on the path."""
    assert endpoint_key("socket://GW.local:3333") == "gw.local:3333"
    assert endpoint_key("rfc2217://gw.local:3333") == "gw.local:3333"
    assert endpoint_key("/dev/ttyUSB0") == "/dev/ttyUSB0"
