"""Time sources of the simulator: the system clock, a fake clock for tests, or HA's frozen time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import time
from typing import Protocol


class Clock(Protocol):
    """What the meter model reads time from (inactivity timeout, values, load profile)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock (looked up at call time, so freezegun's patches apply)."""

    def monotonic(self) -> float:
        """Seconds from ``time.monotonic``."""
        return time.monotonic()

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (default 2025-01-15 10:00 UTC)."""
        self._now = start or datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._monotonic = 1000.0

    def monotonic(self) -> float:
        """Seconds since an arbitrary origin, advanced with ``advance``."""
        return self._monotonic

    def now(self) -> datetime:
        """The fake current time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)


class FunctionClock:
    """A clock driven by a ``now()`` function, e.g. ``homeassistant.util.dt.utcnow`` when frozen."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        """Use ``now`` for both the wall clock and the monotonic clock."""
        self._now_fn = now

    def monotonic(self) -> float:
        """Seconds derived from the wall clock (frozen time moves both together)."""
        return self._now_fn().timestamp()

    def now(self) -> datetime:
        """The time the function gives, converted to UTC."""
        return self._now_fn().astimezone(UTC)
