"""Pytest fixtures: ``simulator`` starts simulators on ephemeral loopback ports and stops them.

Use from a conftest: ``from microstar_sim.pytest_plugin import simulator  # noqa: F401`` (or
``pytest_plugins = ["microstar_sim.pytest_plugin"]`` in the root conftest), then::

    async def test_reads(simulator: SimulatorFactory) -> None:
        sim = await simulator()                       # fast timing, field defaults
        sim = await simulator(SimulatorConfig(...))   # anything else
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import pytest

from .config import FAST, SimulatorConfig
from .simulator import Simulator


class SimulatorFactory(Protocol):
    """Starts a simulator; every one started is stopped when the test ends."""

    async def __call__(self, config: SimulatorConfig | None = None) -> Simulator:
        """Start with ``config`` (default: field defaults with fast timing)."""
        ...


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatorFactory]:
    """Factory of started simulators (default config: field meter, ``--fast`` timing)."""
    started: list[Simulator] = []

    async def start(config: SimulatorConfig | None = None) -> Simulator:
        sim = Simulator(config or SimulatorConfig(timing=FAST))
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in reversed(started):
        await sim.stop()
