"""Byte streams to a meter through ``serialx`` and the process-wide turn per endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import logging
from typing import Any
from urllib.parse import urlsplit

# Imported with the module (HA imports integrations in an executor): importing serialx on the
# first session stalled the event loop for ~25 ms (benchmark).
import serialx

from .bus import bus_for
from .errors import ConnectionFailed

_LOGGER = logging.getLogger(__name__)
READ_CHUNK = 4096


def endpoint_key(endpoint: str) -> str:
    """What the lock is keyed on: ``host:port`` for network URLs, else the device path.

    Two meters behind one gateway share a key, so they are never opened in parallel.
    """
    text = endpoint.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme in ("socket", "tcp", "rfc2217", "esphome") and parts.hostname:
            port = parts.port if parts.port is not None else ""
            return f"{parts.hostname.lower()}:{port}"
    return text


def display_endpoint(endpoint: str) -> str:
    """The endpoint as messages and logs show it: no user info, query or fragment.

    ESPHome serial proxy URLs may carry an encryption key; it must not reach a log line.
    """
    text = endpoint.strip()
    if "://" not in text:
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@asynccontextmanager
async def endpoint_lock(endpoint: str, within: float) -> AsyncIterator[None]:
    """Hold the endpoint for this task; wait at most ``within`` seconds, else EndpointBusy.

    The endpoint's ``Bus`` (bus.py) keeps the order: a task already holding the turn (a
    meter's poll, an action) opens its session at once; other callers (a person waiting) go
    before the queued actions and polls.
    """
    async with bus_for(endpoint_key(endpoint)).turn(within=within):
        yield


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


async def open_stream(endpoint: str, baudrate: int, within: float) -> MeterStream:
    """Open ``socket://host:port``, ``rfc2217://...``, ``esphome://...`` or a device path."""
    shown = display_endpoint(endpoint)
    kwargs: dict[str, Any] = {"baudrate": baudrate}
    if endpoint.startswith(("socket://", "tcp://", "rfc2217://", "esphome://")):
        kwargs["connect_timeout"] = within
    try:
        async with asyncio.timeout(within):
            reader, writer = await serialx.open_serial_connection(endpoint, **kwargs)
    except TimeoutError:
        raise ConnectionFailed(
            f"could not open {shown} within {within:g} s (host unreachable?)"
        ) from None
    except Exception as err:  # serialx raises many types; report them as one
        reason = str(err).replace(endpoint, shown)
        raise ConnectionFailed(f"could not open {shown}: {reason}") from None
    return MeterStream(reader, writer, shown)
