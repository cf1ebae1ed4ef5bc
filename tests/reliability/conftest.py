"""Reliability suite: fuzzing, security, fault matrix and soak (issue 8).

``--slow`` (or ``MICROSTAR_SLOW=1``) runs the nightly-style sizes: more fuzz examples and the
full 10 000-poll soak. Without it the reduced CI versions run.

The option itself is declared in tests/conftest.py, so ``scripts/test --slow`` works from the
repository root as well as ``scripts/test tests/reliability --slow``.
"""

from __future__ import annotations

import os
from typing import Any

from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, settings
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.const import DOMAIN
from microstar_sim import (
    FAST,
    FunctionClock,
    GatewayConfig,
    MeterConfig,
    Simulator,
    SimulatorConfig,
)
from microstar_sim.pytest_plugin import SimulatorFactory, simulator
from tests.meter_entries import PASSWORD, SERIAL, tcp_entry_data

__all__ = ["PASSWORD", "SERIAL", "simulator"]

SLOW_ENV = "MICROSTAR_SLOW"


def slow_mode(config: pytest.Config) -> bool:
    """Whether the nightly sizes were asked for (option or environment)."""
    try:
        option = bool(config.getoption("--slow"))
    except ValueError:
        option = False
    return option or os.environ.get(SLOW_ENV, "") not in ("", "0")


_RUN: dict[str, bool] = {"slow": os.environ.get(SLOW_ENV, "") not in ("", "0")}


def pytest_configure(config: pytest.Config) -> None:
    """Remember the run's size before the test modules are imported (they size @settings)."""
    _RUN["slow"] = slow_mode(config)


def is_slow() -> bool:
    """True in the nightly-style run (``--slow`` or ``MICROSTAR_SLOW=1``)."""
    return _RUN["slow"]


def fuzz_settings(ci: int = 2_000, nightly: int = 50_000) -> settings:
    """Hypothesis settings for one decoder: ``ci`` examples, ``nightly`` with --slow.

    No hypothesis deadline: the per-example time bound is asserted by the test itself, with a
    margin a loaded 2-core CI machine can keep.
    """
    return settings(
        max_examples=nightly if is_slow() else ci,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@pytest.fixture
def slow(request: pytest.FixtureRequest) -> bool:
    """True in the nightly-style run."""
    return slow_mode(request.config)


# -- Home Assistant side: the simulator on HA's (possibly frozen) clock, entry data --------------

# Short, so a silent meter costs little real time; loopback answers in milliseconds.
RESPONSE_TIMEOUT = 0.25


@pytest.fixture
def meters() -> tuple[MeterConfig, ...]:
    """The meters on the simulated line (override in a module or a test)."""
    return (MeterConfig(),)


@pytest.fixture
def gateway() -> GatewayConfig:
    """The simulated gateway (override for a fixed port or an idle timeout)."""
    return GatewayConfig()


@pytest.fixture
async def sim(
    simulator: SimulatorFactory, meters: tuple[MeterConfig, ...], gateway: GatewayConfig
) -> Simulator:
    """A gateway with the meters behind it, on Home Assistant's (possibly frozen) clock."""
    return await simulator(
        SimulatorConfig(
            meters=meters, gateway=gateway, timing=FAST, clock=FunctionClock(dt_util.utcnow)
        )
    )


def entry_data(
    sim: Simulator, *, response_timeout: float = RESPONSE_TIMEOUT, **changes: Any
) -> dict[str, Any]:
    """Config entry data as the flow stores it, with this suite's short response timeout."""
    return tcp_entry_data(sim, response_timeout=response_timeout, **changes)


def config_entry(
    sim: Simulator, serial: str = SERIAL, *, polling: bool = True, **data: Any
) -> MockConfigEntry:
    """The entry the flow would have created for a meter of the simulator.

    ``polling=False``: HA's "disable polling" preference, so only the test starts polls.
    """
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Microstar {serial}",
        unique_id=serial,
        data=entry_data(sim, **data),
        pref_disable_polling=not polling,
    )
