"""The meter line on a serial device instead of behind the gateway model, so real gateway software
(ser2net) or a local serial client can front it.

``PATH`` either exists (one end of a pty pair, e.g. ``socat pty,raw,echo=0,link=A
pty,raw,echo=0,link=B`` with the simulator on ``A`` and the client on ``B``) or is created: the
simulator opens a pty itself and links ``PATH`` to its client end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
import termios
import tty

from .line import SerialLine

_LOGGER = logging.getLogger(__name__)
_WRITE_WITHIN = 1.0  # a line nobody reads loses bytes, as a UART with no listener does


class SerialDevice:
    """Bytes between a serial device and the meter line; there is no TCP client to drop."""

    def __init__(self, path: str) -> None:
        """Call ``attach`` and then ``start``."""
        self.path = Path(path)
        self.line: SerialLine | None = None
        self.client_path = self.path  # what clients open
        self._fd = -1
        self._held_fd = -1  # our own open of the pty's client end (see ``_open_own_pty``)
        self._created = False
        self.bytes_lost = 0

    def attach(self, line: SerialLine) -> None:
        """Connect the meter line."""
        self.line = line

    @property
    def connection(self) -> int | None:
        """No TCP connection: the line's bytes go to whoever has the device open."""
        return None

    async def start(self) -> None:
        """Open ``path`` (or create a pty linked there) and start reading."""
        if self.path.exists():
            self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            with contextlib.suppress(termios.error):  # a pty end, not a tty of its own
                tty.setraw(self._fd)
        else:
            self._open_own_pty()
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        _LOGGER.debug("serial device %s open", self.path)

    def _open_own_pty(self) -> None:
        """A pty whose client end ``path`` links to. The simulator keeps that end open too, so
        the meter's side never reads EIO while no client has it open (as socat's pty pair)."""
        master, client = os.openpty()
        tty.setraw(client)  # no echo: the meter must never read its own answers
        os.set_blocking(master, False)
        self._fd, self._held_fd = master, client
        self.path.symlink_to(os.ttyname(client))
        self._created = True

    async def stop(self) -> None:
        """Close the device (and remove the link the simulator made)."""
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if self._held_fd >= 0:
            os.close(self._held_fd)
            self._held_fd = -1
        if self._created:
            self.path.unlink(missing_ok=True)
            self._created = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as err:  # the other end of the pty pair went away
            data = b""
            _LOGGER.warning("serial device %s: %s", self.path, err)
        if not data:
            asyncio.get_running_loop().remove_reader(self._fd)
            _LOGGER.warning("serial device %s closed by its other end", self.path)
            return
        assert self.line is not None
        self.line.receive(data, None)

    async def deliver(self, data: bytes) -> None:
        """Bytes from the meter onto the device; lost if nobody drains it in time."""
        view = memoryview(data)
        while view and self._fd >= 0:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                if not await self._writable():
                    self.bytes_lost += len(view)
                    return
            except OSError as err:
                _LOGGER.debug("serial device %s: write failed: %s", self.path, err)
                self.bytes_lost += len(view)
                return

    async def _writable(self) -> bool:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def writable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_writer(self._fd, writable)
        try:
            async with asyncio.timeout(_WRITE_WITHIN):
                await ready
        except TimeoutError:
            return False
        finally:
            if self._fd >= 0:
                loop.remove_writer(self._fd)
        return True

    def add_stale_bytes(self, data: bytes) -> None:
        """Bytes waiting in the device for the next client that opens it."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._fd, data)

    async def drop_client(self) -> None:
        """Nothing to drop on a serial line (the drop-mid-response fault is the gateway's)."""
