"""A loopback TCP listener that tracks its connections, so stopping it leaves nothing behind."""

from __future__ import annotations

import asyncio


class Listener:
    """Base of the gateway and the control port: listen, track handlers and writers, stop."""

    def __init__(self) -> None:
        """Call ``listen`` to accept connections."""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def listen(self, host: str, port: int) -> None:
        """Listen on ``host``:``port`` (0: ephemeral); ``self.port`` is the port taken."""
        self._server = await asyncio.start_server(self._on_connect, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and the listening socket."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError
