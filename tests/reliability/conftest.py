"""Reliability suite: fuzzing, security, fault matrix and soak (issue 8).

``--slow`` (or ``MICROSTAR_SLOW=1``) runs the nightly-style sizes: more fuzz examples and the
full 10 000-poll soak. Without it the reduced CI versions run.

pytest only reads ``--slow`` from this file when it is an initial conftest, i.e. when
``tests/reliability`` (or a path inside it) is on the command line:
``scripts/test tests/reliability --slow``. From the repository root use the environment variable:
``MICROSTAR_SLOW=1 scripts/test``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
import pytest

from microstar_sim.pytest_plugin import simulator

__all__ = ["simulator"]

SLOW_ENV = "MICROSTAR_SLOW"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--slow``: nightly sizes for fuzzing and the soak."""
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="reliability suite: heavy fuzzing and the full 10 000-poll soak",
    )


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
