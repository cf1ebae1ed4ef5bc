"""Fixtures of the end-to-end run: the simulator and Home Assistant as real processes.

Both are module-scoped (one Home Assistant walks the whole path) and always stopped, logs kept
under artifacts/e2e/. Sockets go to 127.0.0.1 only; ports come from the OS, so a developer's
``scripts/develop`` on 8123/3333 can keep running.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time

from packaging.requirements import Requirement
import pytest

from .browser import devtools_port, start_chromium
from .loopback import LOOPBACK, allow_loopback_sockets, answers, free_port
from .processes import (
    GUIDE_METER,
    GUIDE_SERIAL,
    HassProcess,
    ManagedProcess,
    SimulatorProcess,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
KEEP_RUNS = 5

# Realistic line timing (9600 baud, 30-250 ms turnaround), as scripts/develop runs it: the run
# then proves the integration's timeouts hold at the field meter's pace, including each meter's
# first learning poll. Measured: ~2.5 min for the module; the silent-meter phase (~40-55 s of
# 3 s SNRM timeouts) is most of it.
# MICROSTAR_E2E_TURNAROUND=250:250 measures the first five minutes at a fixed turnaround.
_TURNAROUND = os.environ.get("MICROSTAR_E2E_TURNAROUND", "")
SIMULATOR_TIMING: tuple[str, ...] = ("--turnaround", _TURNAROUND) if _TURNAROUND else ()
# As scripts/develop --second-meter: a single-phase meter with a 4-byte address on the same line.
SECOND_METER = "serial=21065678,address-size=4,profile=microstar-1p"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """This run's folder under artifacts/e2e/ (gitignored), linked as artifacts/e2e/latest.

    One folder per run, so runs started at the same time in the same tree (several people,
    one checkout) do not write into each other's logs; the last few runs are kept.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = ARTIFACTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run.mkdir()
    link = ARTIFACTS / f".latest-{os.getpid()}"
    link.symlink_to(run.name, target_is_directory=True)
    link.replace(ARTIFACTS / "latest")
    runs = sorted(p for p in ARTIFACTS.iterdir() if p.is_dir() and not p.is_symlink())
    for old in runs[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    return run


@pytest.fixture(scope="session")
def ha_packages() -> None:
    """Install what the configured components require, as scripts/develop does, if missing."""
    domains = subprocess.run(
        [sys.executable, "scripts/ha_config.py", "--domains"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    pinned = subprocess.run(
        [sys.executable, "scripts/ha_requirements.py", *domains],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    missing = []
    for line in pinned:
        requirement = Requirement(line)
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(line)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def _simulator(name: str, log: Path, *meter: str) -> Iterator[SimulatorProcess]:
    """``python -m microstar_sim`` on ephemeral loopback ports, until the fixture ends."""
    argv = [sys.executable, "-m", "microstar_sim", "--host", LOOPBACK, "--port", "0"]
    process = ManagedProcess(name, [*argv, "--control-port", "0", *meter], log, REPO)
    try:
        gateway = process.wait_for_log(r"gateway on socket://[\d.]+:(\d+)", 30)
        control = process.wait_for_log(r"control port: [\d.]+:(\d+)", 5)
        yield SimulatorProcess(process, int(gateway[1]), int(control[1]))
    finally:
        process.stop(grace=5)


@pytest.fixture(scope="module")
def simulator_process(artifacts: Path) -> Iterator[SimulatorProcess]:
    """The field meter, and a second one on the same line."""
    yield from _simulator(
        "simulator",
        artifacts / "simulator.log",
        *("--profile", "microstar-3p", "--meter", SECOND_METER, *SIMULATOR_TIMING),
    )


@pytest.fixture
def guide_simulator(artifacts: Path) -> Iterator[SimulatorProcess]:
    """A gateway of its own with the guide's meter, for one test."""
    yield from _simulator(
        "guide simulator",
        artifacts / "guide-simulator.log",
        *("--serial", GUIDE_SERIAL, *GUIDE_METER),
    )


@pytest.fixture(scope="module")
def hass_process(
    tmp_path_factory: pytest.TempPathFactory,
    artifacts: Path,
    ha_packages: None,
    simulator_process: SimulatorProcess,
) -> Iterator[HassProcess]:
    """A real ``hass -c <tmpdir>`` (through tests/e2e/hass_launcher.py), up to its HTTP API.

    Started after the simulator and stopped before it, as a gateway outlives its clients.
    """
    allow_loopback_sockets()
    config_dir = tmp_path_factory.mktemp("hass-config")
    port = free_port()
    subprocess.run([sys.executable, "scripts/ha_config.py", str(config_dir)], cwd=REPO, check=True)
    argv = [sys.executable, "-m", "tests.e2e.hass_launcher", "-c", str(config_dir), "--skip-pip"]
    # The port of a new config dir, as scripts/develop sets it (no http: in YAML since 2026.10).
    env = {"SETUP_PORT": str(port)}
    process = ManagedProcess("home assistant", argv, artifacts / "hass.log", REPO, env)
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for(
            lambda: answers(f"{base_url}/api/onboarding"), 90, "Home Assistant's HTTP", process
        )
        yield HassProcess(process, base_url, config_dir)
    finally:
        code = process.stop(grace=30)
        if code not in (0, None, -15):
            print(f"home assistant exited with {code}; log: {process.log}")


@pytest.fixture
def chromium(tmp_path: Path, artifacts: Path) -> Iterator[int]:
    """Headless Chromium with a fresh profile; yields its DevTools port."""
    allow_loopback_sockets()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    process = start_chromium(profile, artifacts / "chromium.log", REPO)
    try:
        yield devtools_port(profile, process)
    finally:
        process.stop(grace=5)
