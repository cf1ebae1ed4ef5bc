"""The asyncio meter client: one guarded session per use, always released and closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
import logging
from typing import Final

from .apdu import AttributeRef
from .axdr import Data, PythonValue
from .bus import Turn
from .errors import ConnectionFailed, DlmsError, GatewayBusy, ProtocolError
from .hdlc import ServerAddress
from .session import (
    AttributesRead,
    DlmsSession,
    Ended,
    FrameArrived,
    Idle,
    MeterMemory,
    NeedData,
    NegotiatedParameters,
    NoiseArrived,
    OperationResult,
    ReadResult,
    Transmit,
)
from .settings import PROPOSED_CONFORMANCE, ConnectionSettings, endpoint_key
from .trace import Direction, TraceHook, TraceRecord
from .transport import MeterStream, endpoint_lock, open_stream

__all__ = [
    "GATEWAY_BUSY_TEXTS",
    "PROPOSED_CONFORMANCE",
    "ConnectionSettings",
    "LineMemory",
    "MeterClient",
    "MeterMemory",
    "MeterSession",
    "NegotiatedParameters",
    "ReadResult",
    "forget_meters",
    "line_memory",
    "meter_memory",
]

_LOGGER = logging.getLogger(__name__)

# Texts a ser2net-style gateway sends instead of HDLC (field notes §3).
GATEWAY_BUSY_TEXTS: Final = (
    b"Port already in use",
    b"Port's device already in use",
    b"Port disabled",
    b"kicked off",
)
_NOISE_MEMORY = 512
_DRAIN_QUIET = 0.05  # stale input is what arrives before the line is quiet this long
# After the line's last session ended cleanly (its meter answered DISC, nothing was stale) no
# meter on it has anything left to send: the drain only collects what a gateway sends on
# connect. Any byte it finds brings the full quiet window back.
_DRAIN_QUIET_AFTER_CLEAN_END = 0.01
_DRAIN_MAX = 0.3
# The close budget's room beyond its two response timeouts (RLRQ, DISC) for the writes and the
# loop: after an unanswered RLRQ the DISC still gets its whole wait, so a meter answering
# neither is known as such after one session (MeterMemory).
_CLOSE_MARGIN = 0.5


@dataclass(slots=True)
class LineMemory:
    """What the last session on one endpoint left behind, whichever meter it was with."""

    quiet: bool = False  # it ended with an answered DISC and nothing stale: no bytes to come


_MEMORY: dict[tuple[str, ServerAddress], MeterMemory] = {}
_LINES: dict[str, LineMemory] = {}


def meter_memory(settings: ConnectionSettings) -> MeterMemory:
    """The process-wide memory of the meter ``settings`` reach."""
    key = (endpoint_key(settings.endpoint), settings.server)
    return _MEMORY.setdefault(key, MeterMemory())


def line_memory(endpoint: str) -> LineMemory:
    """The process-wide memory of one endpoint's line (the meters behind it share its bytes)."""
    return _LINES.setdefault(endpoint_key(endpoint), LineMemory())


def forget_meters() -> None:
    """Drop what earlier sessions taught (tests that replay one endpoint need a clean start)."""
    _MEMORY.clear()
    _LINES.clear()


class MeterClient:
    """Opens guarded sessions to one meter (see docs/architecture.md)."""

    def __init__(self, settings: ConnectionSettings, trace: TraceHook | None = None) -> None:
        self.settings = settings
        self.trace = trace

    @asynccontextmanager
    async def session(self, turn: Turn | None = None) -> AsyncIterator[MeterSession]:
        """SNRM/UA and AARQ/AARE on entry; RLRQ, DISC and close on a normal exit.

        Runs in ``turn`` (a seat's or an action's, bus.py) when one is handed, else takes a
        person's turn within ``lock_timeout``. On cancellation, or when the session is out of
        step, DISC goes out at once instead (bounded by one response timeout): a pending
        answer is never finished first.
        """
        settings = self.settings
        async with AsyncExitStack() as held:
            if turn is None:
                turn = await held.enter_async_context(
                    endpoint_lock(settings.endpoint, settings.lock_timeout)
                )
            held.enter_context(turn.session(endpoint_key(settings.endpoint)))
            stream = await open_stream(
                settings.endpoint, settings.baudrate, settings.connect_timeout
            )
            session = MeterSession(
                stream, settings, self.trace, meter_memory(settings), line_memory(settings.endpoint)
            )
            try:
                await session.open()
                yield session
            except BaseException as err:
                if isinstance(err, Exception) and not isinstance(err, TimeoutError):
                    await session.close()
                else:
                    await session.abort()
                raise
            else:
                await session.close()


class MeterSession:
    """One association over one stream: moves bytes between the stream and a ``DlmsSession``
    and owns the clock. Use through ``MeterClient.session()``."""

    def __init__(
        self,
        stream: MeterStream,
        settings: ConnectionSettings,
        trace: TraceHook | None,
        memory: MeterMemory | None = None,
        line: LineMemory | None = None,
    ) -> None:
        self._stream = stream
        self._settings = settings
        self._trace = trace
        self._secret = settings.password_bytes
        self._protocol = DlmsSession(settings, memory)
        self._noise = bytearray()
        self._closed = False
        self._line = line or LineMemory()

    @property
    def negotiated(self) -> NegotiatedParameters | None:
        """What SNRM/UA and AARQ/AARE settled on (None until the session is open)."""
        return self._protocol.negotiated

    # -- public API -----------------------------------------------------------------------

    async def read_attributes(self, refs: Sequence[AttributeRef]) -> list[ReadResult]:
        """Read attributes; failures come back per item (DataAccessError), not raised."""
        self._require_open()
        self._protocol.read(refs)
        result = await self._run()
        assert isinstance(result, AttributesRead)
        return list(result.results)

    async def get(self, ref: AttributeRef) -> PythonValue:
        """Read one attribute's value; raise DataAccessError if the meter refuses it."""
        return (await self.get_data(ref)).to_python()

    async def get_data(self, ref: AttributeRef) -> Data:
        """Read one attribute as tagged Data; raise DataAccessError if the meter refuses it."""
        (result,) = await self.read_attributes([ref])
        if result.error is not None:
            raise result.error
        assert result.data is not None
        return result.data

    def _require_open(self) -> None:
        if self._protocol.negotiated is None or self._closed:
            raise ProtocolError("the session is not open")

    # -- open / close -----------------------------------------------------------------------

    async def open(self) -> None:
        """Drain stale input, then (DISC if the last session ended uncleanly,) SNRM, AARQ."""
        await self._drain()
        self._protocol.open()
        await self._run()

    async def close(self) -> None:
        """RLRQ and DISC within a bounded time, then close the stream; never raises.

        A session out of step (an answer pending, a failed exchange) is aborted instead.
        """
        if self._closed:
            return
        if not self._protocol.in_step:
            await self.abort()
            return
        settings = self._settings
        await self._end(
            self._protocol.release,
            settings.close_timeout or 2 * settings.response_timeout + _CLOSE_MARGIN,
            released=True,
        )

    async def abort(self) -> None:
        """DISC at once (it ends the association too), bounded by one response timeout.

        Never finishes a pending transfer; never raises; closes the stream.
        """
        if self._closed:
            return
        # The DISC exchange waits one response timeout for UA; this only guards the write.
        await self._end(self._protocol.abort, 2 * self._settings.response_timeout)

    async def _end(
        self, start: Callable[[], None], budget: float, *, released: bool = False
    ) -> None:
        """Run the release (RLRQ, DISC) or the abort (DISC) within ``budget``; close."""
        self._closed = True
        try:
            async with asyncio.timeout(budget):
                if not (self._stream.at_eof or self._stream.closed):
                    start()
                    ended = await self._run()
                    # Only a normal release leaves the line known quiet: an abort may cut a
                    # transfer whose remaining bytes are still on their way.
                    self._line.quiet = (
                        released and isinstance(ended, Ended) and ended.clean and not self._noise
                    )
        except (DlmsError, TimeoutError, OSError) as err:
            _LOGGER.debug("ending the session: %s", err)
        finally:
            await self._stream.close()

    # -- the IO loop ------------------------------------------------------------------------------

    async def _run(self) -> OperationResult:
        """Drive the sans-IO session until its operation ends: write what it says, read when
        it needs data, tell it when the response timeout runs out."""
        protocol = self._protocol
        within = self._settings.response_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            event = protocol.next_event()
            if isinstance(event, Transmit):
                await self._send(event.data)
                if event.starts_wait:
                    deadline = loop.time() + (within if event.wait is None else event.wait)
            elif isinstance(event, FrameArrived):
                self._record(Direction.RX, event.data)
                if event.restarts_wait:
                    deadline = loop.time() + within
            elif isinstance(event, NoiseArrived):
                self._on_noise(event.data)
            elif isinstance(event, NeedData):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    protocol.timed_out()
                    continue
                data = await self._stream.read(remaining)
                if data:
                    protocol.receive_data(data)
                elif self._stream.at_eof:
                    self._check_gateway_text()
                    raise ConnectionFailed(
                        f"{self._stream.endpoint} closed the connection during {protocol.stage}"
                    )
            elif isinstance(event, Idle):
                raise ProtocolError("no operation is running")
            else:
                return event

    async def _send(self, data: bytes) -> None:
        self._record(Direction.TX, data)
        await self._stream.write(data, self._settings.response_timeout)

    async def _drain(self) -> None:
        """Discard stale bytes an earlier exchange left at the gateway (field notes §3)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + _DRAIN_MAX
        # The line's memory, not the meter's: after another meter's unclean end on a shared
        # line, the stale bytes are the line's.
        quiet = _DRAIN_QUIET_AFTER_CLEAN_END if self._line.quiet else _DRAIN_QUIET
        self._line.quiet = False  # until this session ends cleanly
        stale = bytearray()
        while (remaining := end - loop.time()) > 0:
            data = await self._stream.read(min(quiet, remaining))
            if not data:
                break
            self._on_noise(data)
            stale += data
            quiet = _DRAIN_QUIET
        if stale:
            self._protocol.receive_stale(bytes(stale))
        if self._stream.at_eof:
            self._check_gateway_text()
            raise ConnectionFailed(f"{self._stream.endpoint} closed the connection at once")

    def _on_noise(self, data: bytes) -> None:
        self._record(Direction.RX, data, summary="not HDLC")
        self._noise += data
        del self._noise[:-_NOISE_MEMORY]
        self._check_gateway_text()

    def _check_gateway_text(self) -> None:
        noise = bytes(self._noise)
        for text in GATEWAY_BUSY_TEXTS:
            at = noise.find(text)
            if at >= 0:
                line = noise[at:].split(b"\n", 1)[0]
                raise GatewayBusy(line.decode("ascii", "replace").strip())

    def _record(self, direction: Direction, data: bytes, summary: str | None = None) -> None:
        if self._trace is None and not _LOGGER.isEnabledFor(logging.DEBUG):
            return
        record = TraceRecord(
            direction,
            asyncio.get_running_loop().time(),
            bytes(data),
            note=summary or "",
            secret=self._secret,
        )
        _LOGGER.debug("%s", record)
        if self._trace is not None:
            try:
                self._trace(record)
            except Exception:
                _LOGGER.exception("trace hook failed")
