"""Byte streams to a meter through ``serialx``, and a person's turn on the endpoint's line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import logging
from typing import Any

# Imported with the module (HA imports integrations in an executor): importing serialx on the
# first session stalled the event loop for ~25 ms (benchmark).
import serialx
from serialx.platforms.serial_rfc2217 import RFC2217SerialTransport
from serialx.platforms.serial_rfc2217.types import (
    Rfc2217Command,
    SetLinestateMaskCmd,
    SetModemstateMaskCmd,
)

from .bus import Turn, bus_for
from .errors import ConnectionFailed, Rfc2217NotNegotiated
from .settings import display_endpoint, endpoint_key

__all__ = [
    "MeterStream",
    "Rfc2217Transport",
    "display_endpoint",
    "endpoint_key",
    "endpoint_lock",
    "open_stream",
]

_LOGGER = logging.getLogger(__name__)
READ_CHUNK = 4096


@asynccontextmanager
async def endpoint_lock(endpoint: str, within: float) -> AsyncIterator[Turn]:
    """A person's turn on the endpoint's ``Bus`` (bus.py): served before the queued actions and
    polls; waits at most ``within`` seconds, else EndpointBusy."""
    async with bus_for(endpoint_key(endpoint)).turn(within=within) as turn:
        yield turn


class MeterStream:
    """An open byte stream: bounded reads and writes, idempotent close."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any, endpoint: str) -> None:
        self._reader = reader
        self._writer = writer
        self.endpoint = endpoint
        self.at_eof = False
        self.closed = False

    async def read(self, within: float) -> bytes:
        """Whatever arrives within ``within`` seconds (b"" if nothing; sets ``at_eof`` on EOF)."""
        if self.at_eof or self.closed:
            return b""
        try:
            async with asyncio.timeout(max(within, 0)):
                data = await self._reader.read(READ_CHUNK)
        except TimeoutError:
            return b""
        except OSError as err:
            self.at_eof = True
            _LOGGER.debug("read from %s failed: %s", self.endpoint, err)
            return b""
        if not data:
            self.at_eof = True
        return data

    async def write(self, data: bytes, within: float) -> None:
        """Write and drain within ``within`` seconds."""
        if self.closed or self.at_eof:
            raise ConnectionFailed(f"the connection to {self.endpoint} is closed")
        try:
            async with asyncio.timeout(within):
                self._writer.write(data)
                await self._writer.drain()
        except (OSError, TimeoutError) as err:
            self.at_eof = True
            raise ConnectionFailed(f"writing to {self.endpoint} failed: {err!r}") from None

    async def close(self, within: float = 1.0) -> None:
        """Close the stream; never raises, never waits longer than ``within`` seconds."""
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.close()
        except Exception as err:  # closing must not fail the caller
            _LOGGER.debug("closing %s: %r", self.endpoint, err)
            return
        try:
            async with asyncio.timeout(within):
                await self._writer.wait_closed()
        except Exception as err:  # closing must not fail the caller
            _LOGGER.debug("waiting for %s to close: %r", self.endpoint, err)


class Rfc2217Transport(RFC2217SerialTransport):
    """serialx's RFC 2217 client without the optional line- and modem-state masks.

    serialx sends SET-MODEMSTATE-MASK 255 and SET-LINESTATE-MASK 0 and waits for their replies;
    ser2net 4.3 (Debian 12, Raspberry Pi OS bookworm) answers them with NOTIFY-MODEMSTATE and
    NOTIFY-LINESTATE instead, so the open never completes (tests/gateway pins the exchange).
    These are the masks' initial values in RFC 2217 (and in ser2net's and pyserial's servers),
    so leaving them out changes nothing on a server that follows it; the meter needs no state
    notifications anyway.
    """

    accepted = False  # the TCP connection was accepted and the telnet negotiation began

    async def _negotiate(self) -> None:
        self.accepted = True
        await super()._negotiate()

    async def _send_and_wait(self, cmd: Rfc2217Command) -> Rfc2217Command:
        if isinstance(cmd, (SetModemstateMaskCmd, SetLinestateMaskCmd)):
            return cmd
        return await super()._send_and_wait(cmd)


async def open_stream(endpoint: str, baudrate: int, within: float) -> MeterStream:
    """Open ``socket://host:port``, ``rfc2217://...``, ``esphome://...`` or a device path."""
    shown = display_endpoint(endpoint)
    if endpoint.startswith("rfc2217://"):
        return await _open_rfc2217(endpoint, shown, baudrate, within)
    kwargs: dict[str, Any] = {"baudrate": baudrate}
    if endpoint.startswith(("socket://", "tcp://", "esphome://")):
        kwargs["connect_timeout"] = within
    try:
        async with asyncio.timeout(within):
            reader, writer = await serialx.open_serial_connection(endpoint, **kwargs)
    except Exception as err:  # serialx raises many types; report them as one
        raise _open_failed(err, endpoint, shown, within) from None
    return MeterStream(reader, writer, shown)


async def _open_rfc2217(endpoint: str, shown: str, baudrate: int, within: float) -> MeterStream:
    """Open ``rfc2217://host:port`` with ``Rfc2217Transport``; a stalled negotiation is named."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport = Rfc2217Transport(loop, protocol)
    options: dict[str, Any] = {"baudrate": baudrate, "connect_timeout": within}
    try:
        async with asyncio.timeout(within):
            await transport.connect(path=endpoint, **options)
    except TimeoutError:
        if not transport.accepted:
            raise _open_failed(TimeoutError(), endpoint, shown, within) from None
        address = shown.removeprefix("rfc2217://")
        raise Rfc2217NotNegotiated(
            f"the gateway at {address} accepted the connection but did not complete the RFC 2217 "
            f"negotiation within {within:g} s; if its port is raw TCP (the usual set-up), use "
            f"socket://{address} (host and port) instead"
        ) from None
    except Exception as err:  # serialx raises many types; report them as one
        raise _open_failed(err, endpoint, shown, within) from None
    return MeterStream(reader, asyncio.StreamWriter(transport, protocol, reader, loop), shown)


def _open_failed(err: Exception, endpoint: str, shown: str, within: float) -> ConnectionFailed:
    """The ConnectionFailed for a failed open, the endpoint shown without secrets."""
    if isinstance(err, TimeoutError):
        return ConnectionFailed(f"could not open {shown} within {within:g} s (host unreachable?)")
    reason = str(err).replace(endpoint, shown)
    return ConnectionFailed(f"could not open {shown}: {reason}")
