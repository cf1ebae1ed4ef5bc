"""The RS-485 line behind the gateway: frames from the client reach every meter, the addressed one
answers after its turnaround, at the line's byte rate, through the frame-level faults. A
``DirectLine`` is the same with no gateway, no time and no line faults (sans-IO tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
import logging
import random
from typing import Protocol

from custom_components.microstar_dlms.dlms.errors import FrameError
from custom_components.microstar_dlms.dlms.hdlc import Deframer, HdlcFrame, Noise, decode_frame

from .clock import Clock, FakeClock
from .config import MeterConfig, TimingConfig
from .faults import (
    METER_FAULTS,
    CorruptFcs,
    DelayResponse,
    DropMidResponse,
    Fault,
    FaultBook,
    NoiseBytes,
    ResponseKind,
    TruncateFrame,
)
from .meter import Reply, SimulatedMeter
from .record import Direction, FrameRecord, SimulatorRecord, now

_LOGGER = logging.getLogger(__name__)
_CHUNK_SECONDS = 0.02  # pace long answers in chunks of about this much line time


class LineOutput(Protocol):
    """Where the line's bytes go: the gateway (the current TCP client, a buffer, or nowhere)."""

    @property
    def connection(self) -> int | None:
        """The TCP connection bytes go to now, None when nobody is connected."""
        ...

    async def deliver(self, data: bytes) -> None:
        """Pass bytes to the client side."""
        ...

    async def drop_client(self) -> None:
        """Close the client's TCP connection (the drop-mid-response fault)."""
        ...


def describe(data: bytes) -> str:
    """A one-line summary of wire bytes for the record."""
    try:
        return decode_frame(data).describe()
    except FrameError:
        return f"{len(data)} bytes, not a valid frame"


class SerialLine:
    """Carries client bytes to the meters and their answers back, one exchange at a time."""

    def __init__(
        self,
        meters: Sequence[SimulatedMeter],
        *,
        timing: TimingConfig,
        faults: FaultBook,
        record: SimulatorRecord,
        output: LineOutput,
        rng: random.Random,
    ) -> None:
        """The line does nothing until ``start``."""
        self.meters = meters
        self.timing = timing
        self.faults = faults
        self.record = record
        self.output = output
        self.rng = rng
        self._deframer = Deframer()
        self._queue: asyncio.Queue[tuple[bytes, int | None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._line_time = 0.0  # loop time the line has reached; sleeps aim at it, not past it

    def start(self) -> None:
        """Start carrying bytes."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="microstar-line")

    async def stop(self) -> None:
        """Stop; bytes in flight are lost."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def receive(self, data: bytes, connection: int | None) -> None:
        """Bytes from the TCP client, in order."""
        self._idle.clear()
        self._queue.put_nowait((data, connection))

    def forget_input(self) -> None:
        """Drop a partial frame (a power cycle clears the meter's receive buffer)."""
        self._deframer.clear()

    async def settled(self) -> None:
        """Wait until every byte received so far is handled and answered."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            data, connection = await self._queue.get()
            try:
                await self._carry(data, connection)
            except Exception:
                _LOGGER.exception("simulated line failed on %s", data.hex(" "))
            if self._queue.empty():
                self._idle.set()

    async def _carry(self, data: bytes, connection: int | None) -> None:
        self._deframer.feed(data)
        while True:
            try:
                event = self._deframer.next_event()
            except FrameError as err:
                self.record.bad_frames_received += 1
                _LOGGER.debug("line: bad frame from the client: %s", err)
                continue
            if event is None:
                return
            if isinstance(event, Noise):
                self._log(Direction.TO_METER, event.data, "noise", connection)
                continue
            await self._frame(event, connection)

    async def _frame(self, frame: HdlcFrame, connection: int | None) -> None:
        wire = frame.encode()
        self._log(Direction.TO_METER, wire, frame.describe(), connection)
        self._line_time = max(self._line_time, asyncio.get_running_loop().time())
        # The request itself takes line time before the meter has all of it.
        await self._sleep(len(wire) * self.timing.byte_time)
        for meter in self.meters:
            if frame.destination != meter.address:
                continue  # a real meter ignores frames for another address
            for reply in meter.handle(frame, connection):
                await self._transmit(reply)

    async def _transmit(self, reply: Reply) -> None:
        def matches(fault: DropMidResponse | CorruptFcs | NoiseBytes | TruncateFrame) -> bool:
            return fault.on in (ResponseKind.ANY, reply.kind)

        def delay_matches(fault: DelayResponse) -> bool:
            return fault.on in (ResponseKind.ANY, reply.kind)

        data = reply.data
        summary = describe(data)
        delay = self.timing.turnaround(self.rng)
        late = self.faults.take(DelayResponse, delay_matches)
        if late is not None:
            delay += late.seconds
            summary += f" (delayed {late.seconds:g} s)"
        await self._sleep(delay)
        noise = self.faults.take(NoiseBytes, matches)
        if noise is not None:
            await self._send(noise.noise)
            self._log(Direction.FROM_METER, noise.noise, "noise", self.output.connection)
        if self.faults.take(CorruptFcs, matches) is not None:
            data = data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:]
            summary += " (FCS corrupted)"
        truncate = self.faults.take(TruncateFrame, matches)
        if truncate is not None:
            data = data[: truncate.keep]
            summary += f" (truncated to {len(data)} bytes)"
        drop = self.faults.take(DropMidResponse, matches)
        if drop is not None:
            head, tail = data[: drop.after_bytes], data[drop.after_bytes :]
            await self._send(head)
            self._log(Direction.FROM_METER, data, summary + " (connection dropped)", None)
            await self.output.drop_client()
            await self._send(tail)
            return
        self._log(Direction.FROM_METER, data, summary, self.output.connection)
        await self._send(data)

    async def _send(self, data: bytes) -> None:
        """Put bytes on the line at its byte rate."""
        byte_time = self.timing.byte_time
        if byte_time <= 0:
            await self.output.deliver(data)
            return
        chunk = max(1, int(_CHUNK_SECONDS / byte_time))
        for start in range(0, len(data), chunk):
            part = data[start : start + chunk]
            await self._sleep(len(part) * byte_time)
            await self.output.deliver(part)

    def _log(self, direction: Direction, data: bytes, summary: str, connection: int | None) -> None:
        self.record.frames.append(FrameRecord(now(), direction, data, summary, connection))
        arrow = "->" if direction is Direction.TO_METER else "<-"
        _LOGGER.debug("%s %s: %s", arrow, data.hex(" "), summary)

    async def _sleep(self, seconds: float) -> None:
        """Advance the line's time and wait for it: absolute deadlines, so the event loop's
        overshoot on each sleep does not add up over an exchange."""
        if seconds <= 0:
            return
        self._line_time += seconds
        if (wait := self._line_time - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(wait)


class DirectLine:
    """One meter wired straight to the client: its bytes in, the meter's answers out at once,
    recorded as the serial line records them. No socket, no clock of its own, no line faults
    (the meter's faults apply)."""

    def __init__(self, meter: SimulatedMeter) -> None:
        """Carry bytes to and from ``meter``."""
        self.meter = meter
        self._deframer = Deframer()

    @classmethod
    def to_meter(
        cls,
        config: MeterConfig | None = None,
        *,
        faults: Sequence[Fault] = (),
        clock: Clock | None = None,
    ) -> DirectLine:
        """A new meter (default: the field meter) with meter ``faults`` on, on a fake clock
        (which only tests move)."""
        meter = SimulatedMeter(config or MeterConfig(), clock or FakeClock(), SimulatorRecord())
        for fault in faults:
            if not isinstance(fault, METER_FAULTS):
                kind = type(fault).__name__
                raise TypeError(f"{kind} is no meter fault: a direct line has no line faults")
            meter.faults.add(fault)
        return cls(meter)

    @property
    def record(self) -> SimulatorRecord:
        """What went along the line, and what the meter did."""
        return self.meter.record

    def feed(self, data: bytes) -> bytes:
        """The client's bytes in; everything the meter answers to them out."""
        self._deframer.feed(data)
        answers = bytearray()
        while True:
            try:
                event = self._deframer.next_event()
            except FrameError:
                self.record.bad_frames_received += 1
                continue
            if event is None:
                return bytes(answers)
            if isinstance(event, Noise):
                self._log(Direction.TO_METER, event.data, "noise")
                continue
            self._log(Direction.TO_METER, event.encode(), event.describe())
            if event.destination == self.meter.address:
                for reply in self.meter.handle(event, None):
                    self._log(Direction.FROM_METER, reply.data, describe(reply.data))
                    answers += reply.data

    def _log(self, direction: Direction, data: bytes, summary: str) -> None:
        self.record.frames.append(FrameRecord(now(), direction, data, summary, None))
