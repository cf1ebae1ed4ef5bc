"""The ser2net-like TCP side: one client at a time, "Port already in use" to others, raw bytes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

from .config import GatewayConfig
from .faults import Busy, FaultBook
from .line import SerialLine
from .listener import Listener
from .record import CloseReason, ConnectionRecord, SimulatorRecord, now

_LOGGER = logging.getLogger(__name__)
BUSY_TEXT = "Port already in use\r\n"


class Gateway(Listener):
    """A raw TCP port in front of the meter line; closing TCP does not touch the meters."""

    def __init__(self, config: GatewayConfig, faults: FaultBook, record: SimulatorRecord) -> None:
        """Call ``attach`` and then ``start``."""
        super().__init__()
        self.config = config
        self.faults = faults
        self.record = record
        self.line: SerialLine | None = None
        self._ids = itertools.count(1)
        self._active: tuple[ConnectionRecord, asyncio.StreamWriter] | None = None
        self._pending = bytearray(config.stale_bytes)
        self._idle: asyncio.Timeout | None = None  # the current client's idle deadline

    def attach(self, line: SerialLine) -> None:
        """Connect the meter line."""
        self.line = line

    async def start(self) -> None:
        """Listen on the configured host and port (0: ephemeral)."""
        await self.listen(self.config.host, self.config.port)

    @property
    def connection(self) -> int | None:
        """The TCP connection bytes from the meters go to now."""
        return self._active[0].id if self._active else None

    def add_stale_bytes(self, data: bytes) -> None:
        """Leave bytes in the gateway buffer for the next client (or the current one)."""
        if self._active is not None:
            self._active[1].write(data)
            self._touch()
        else:
            self._pending += data

    async def deliver(self, data: bytes) -> None:
        """Bytes from the meter line to the client, buffered or lost when nobody is connected."""
        if self._active is None:
            if self.config.keep_output_while_disconnected:
                self._pending += data
            return
        writer = self._active[1]
        writer.write(data)
        self._touch()
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _touch(self) -> None:
        """Traffic either way keeps a client from the idle timeout (as ser2net's ``timeout``)."""
        if self._idle is not None and self.config.idle_timeout is not None:
            self._idle.reschedule(asyncio.get_running_loop().time() + self.config.idle_timeout)

    async def drop_client(self) -> None:
        """Close the current client's connection from the gateway side."""
        if self._active is not None:
            connection, writer = self._active
            self._finish(connection, CloseReason.DROPPED)
            writer.close()

    def _finish(self, connection: ConnectionRecord, reason: CloseReason) -> None:
        if connection.closed_at is not None:
            return
        connection.closed_at = now()
        connection.closed_by = reason
        self.record.concurrent_connections -= 1
        if self._active is not None and self._active[0] is connection:
            self._active = None
            _LOGGER.debug("gateway: connection %d closed (%s)", connection.id, reason)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        connection = ConnectionRecord(next(self._ids), f"{peer[0]}:{peer[1]}", now())
        self.record.connections.append(connection)
        self.record.concurrent_connections += 1
        self.record.max_concurrent_connections = max(
            self.record.max_concurrent_connections, self.record.concurrent_connections
        )
        reason = CloseReason.SHUTDOWN
        try:
            busy = self.faults.peek(Busy)
            if busy is not None or self._active is not None:
                reason = CloseReason.BUSY
                connection.refused = True
                self.record.busy_replies += 1
                writer.write((busy.text if busy else BUSY_TEXT).encode("ascii"))
                await writer.drain()
                return
            self._active = (connection, writer)
            _LOGGER.debug("gateway: connection %d from %s", connection.id, connection.peer)
            if self._pending:
                writer.write(bytes(self._pending))
                self._pending.clear()
            reason = await self._pump(connection, reader)
        except ConnectionError:
            reason = CloseReason.CLIENT
        finally:
            self._finish(connection, reason)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _pump(
        self, connection: ConnectionRecord, reader: asyncio.StreamReader
    ) -> CloseReason:
        """Move client bytes to the line until the client leaves or goes idle."""
        assert self.line is not None
        while True:
            try:
                async with asyncio.timeout(self.config.idle_timeout) as self._idle:
                    data = await reader.read(4096)
            except TimeoutError:
                return CloseReason.IDLE_TIMEOUT
            finally:
                self._idle = None
            if not data:
                return CloseReason.CLIENT
            if connection.closed_at is not None:
                return connection.closed_by or CloseReason.DROPPED
            self.line.receive(data, connection.id)
