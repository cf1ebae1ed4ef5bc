"""Measuring helpers: an event-loop lag probe and a client-side timeline of one poll."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
import gc
import time
from types import TracebackType
from typing import Any, Self

from custom_components.microstar_dlms.dlms.trace import Direction, TraceRecord


class LoopLagProbe:
    """A task that sleeps a short interval and records how late it wakes up, and the longest
    single callback the loop ran meanwhile.

    Lateness is what any other task of the loop would have waited: every callback that ran
    before the probe's turn, plus time the process was not on a CPU. The longest callback is
    the stall one piece of code caused on its own (a garbage collection lands in whichever
    callback triggers it: ``longest_gc_pause``; ``full_collections`` counts those of the
    oldest generation, whose pause grows with the whole heap). ``thread_cpu_during_max``
    tells the two causes of the worst lateness apart: the loop thread's CPU time over that
    sample; ``longest_callback_cpu`` does the same for the longest callback (on a busy machine
    a callback can be paused by other processes, which is not its own cost).
    """

    def __init__(self, interval: float = 0.005) -> None:
        """Sample every ``interval`` seconds once started."""
        self.interval = interval
        self.max_stall = 0.0
        self.thread_cpu_during_max = 0.0
        self.longest_callback = 0.0
        self.longest_callback_cpu = 0.0
        self.longest_callback_name = ""
        self.longest_gc_pause = 0.0
        self.full_collections = 0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None
        self._original_run: Any = None
        self._gc_started = 0.0

    def reset(self) -> None:
        """Forget what was measured so far."""
        self.max_stall = 0.0
        self.thread_cpu_during_max = 0.0
        self.longest_callback = 0.0
        self.longest_callback_cpu = 0.0
        self.longest_callback_name = ""
        self.longest_gc_pause = 0.0
        self.full_collections = 0
        self.samples = 0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """Time each garbage collection: a long one stalls whichever callback triggers it."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            if info.get("generation") == 2:
                self.full_collections += 1
            self.longest_gc_pause = max(
                self.longest_gc_pause, time.perf_counter() - self._gc_started
            )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cpu = time.thread_time()
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            late = loop.time() - due
            if late > self.max_stall:
                self.max_stall = late
                self.thread_cpu_during_max = time.thread_time() - cpu
            self.samples += 1

    def _time_callbacks(self) -> None:
        """Wrap ``Handle._run`` (every callback the loop runs) to time each one."""
        original = asyncio.events.Handle._run
        probe = self

        def timed_run(handle: asyncio.Handle) -> None:
            cpu = time.thread_time()
            started = time.perf_counter()
            original(handle)
            took = time.perf_counter() - started
            if took > probe.longest_callback:
                probe.longest_callback = took
                probe.longest_callback_cpu = time.thread_time() - cpu
                probe.longest_callback_name = _describe(handle)

        self._original_run = original
        setattr(asyncio.events.Handle, "_run", timed_run)  # noqa: B010 - patching on purpose

    async def __aenter__(self) -> Self:
        """Start sampling."""
        self._time_callbacks()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-probe")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._original_run is not None:
            setattr(asyncio.events.Handle, "_run", self._original_run)  # noqa: B010
            self._original_run = None


def _describe(handle: asyncio.Handle) -> str:
    """The task a callback stepped (name and coroutine), else the callback itself."""
    owner = getattr(getattr(handle, "_callback", None), "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        where = getattr(coro, "__qualname__", type(coro).__name__)
        return f"task {owner.get_name()!r} running {where}"
    return repr(handle)[:200]


@dataclass(frozen=True, slots=True)
class Timeline:
    """Where the wall time of one poll went, seen from the client (its trace timestamps)."""

    wall: float
    setup: float  # poll start to the first frame sent: endpoint lock, TCP connect, stale drain
    waiting: float  # each frame sent to the last frame of its answer: line, meter, loopback
    client: float  # each answer received to the next frame sent: decoding and encoding
    teardown: float  # last frame received to the poll's end: closing the stream

    @classmethod
    def of(cls, records: Sequence[TraceRecord], started: float, ended: float) -> Timeline:
        """Split ``ended - started`` using the TX/RX records of one session."""
        waiting = client = 0.0
        first_tx: float | None = None
        last_tx: float | None = None
        last_rx: float | None = None
        for record in records:
            if record.direction is Direction.TX:
                if first_tx is None:
                    first_tx = record.monotonic
                if last_rx is not None and last_tx is not None and last_rx > last_tx:
                    client += record.monotonic - last_rx
                last_tx = record.monotonic
            else:
                if last_tx is not None:
                    if last_rx is None or last_rx < last_tx:
                        waiting += record.monotonic - last_tx
                    else:
                        waiting += record.monotonic - last_rx
                last_rx = record.monotonic
        setup = (first_tx if first_tx is not None else ended) - started
        end_of_line = max(t for t in (last_rx, last_tx, started) if t is not None)
        return cls(ended - started, setup, waiting, client, ended - end_of_line)

    def as_dict(self) -> dict[str, float]:
        """Milliseconds, for the report."""
        return {
            "wall_ms": ms(self.wall),
            "setup_ms": ms(self.setup),
            "waiting_on_line_ms": ms(self.waiting),
            "client_between_frames_ms": ms(self.client),
            "teardown_ms": ms(self.teardown),
        }


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for a report."""
    return round(seconds * 1000, 2)
