"""A loopback TCP proxy in front of the simulator, for line behaviour the simulator lacks.

``echo``: an RS-485 adapter without echo suppression returns the client's own bytes before the
meter's answer (half duplex); ``spoil`` changes those echoed bytes (a line error on the way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib

type Spoil = Callable[[bytes], bytes]


class EchoProxy:
    """Forwards one client at a time to ``upstream``; echoes (and maybe spoils) what it sends."""

    def __init__(self, upstream_host: str, upstream_port: int, spoil: Spoil | None = None) -> None:
        """Call ``start`` to listen on an ephemeral loopback port."""
        self.upstream = (upstream_host, upstream_port)
        self.spoil = spoil or (lambda data: data)
        self.echoed: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close everything."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def client_to_meter() -> None:
            while data := await reader.read(4096):
                echo = self.spoil(data)
                self.echoed.append(echo)
                writer.write(echo)
                up_writer.write(data)
                await up_writer.drain()

        async def meter_to_client() -> None:
            while data := await up_reader.read(4096):
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(client_to_meter()), asyncio.create_task(meter_to_client())]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.difference_update(tasks)
            for stream in (writer, up_writer):
                stream.close()
                with contextlib.suppress(Exception):
                    await stream.wait_closed()


def corrupt_fcs(data: bytes) -> bytes:
    """Flip a bit in the byte before the closing flag of each frame-looking chunk (the FCS)."""
    if len(data) >= 4 and data[-1] == 0x7E:
        return data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:]
    return data
