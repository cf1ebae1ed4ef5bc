"""Fixtures of the real-install run: each tested release of Home Assistant in a venv of its own.

A release's venv holds only ``homeassistant==X`` and the serialx its release pins (built once by
scripts/ha_venv.py and cached next to the Python 3.14 rootfs). The integration folder is copied,
not linked, into a fresh config dir; Home Assistant starts with its normal requirement
installation, under its own ``package_constraints.txt``, and nothing of this repository on its
``sys.path``. The simulator runs from the test venv: it stands for the meter and its gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import importlib.util
import os
from pathlib import Path
import shutil
import subprocess
import sys
from types import ModuleType

import pytest

from tests.e2e.loopback import LOOPBACK, allow_loopback_sockets, answers, free_port
from tests.e2e.processes import HassProcess, ManagedProcess, SimulatorProcess, wait_for

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "install"
# The first start of a release's venv installs what its components need (the frontend among
# them) from the package index; later starts find it installed.
FIRST_START_S = 900


def _load_ha_venv() -> ModuleType:
    """scripts/ha_venv.py, which knows the tested releases and builds their venvs."""
    spec = importlib.util.spec_from_file_location("ha_venv", REPO / "scripts" / "ha_venv.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ha_venv = _load_ha_venv()
RELEASES: list[str] = ha_venv.tested_releases()


@dataclass(frozen=True, slots=True)
class Release:
    """A Home Assistant release installed as its users have it."""

    version: str
    venv: Path

    @property
    def constraints(self) -> Path:
        """The release's own package_constraints.txt."""
        path: Path = ha_venv.constraints_file(self.venv)
        return path


@pytest.fixture(scope="module", params=RELEASES)
def release(request: pytest.FixtureRequest) -> Release:
    """One tested release's venv (built on first use; minutes, then cached)."""
    version: str = request.param
    return Release(version, ha_venv.ensure(version))


@pytest.fixture(scope="module")
def install_artifacts(release: Release) -> Path:
    """Logs of this release's run: artifacts/install/<version>/ (gitignored)."""
    folder = ARTIFACTS / release.version
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def meter(install_artifacts: Path) -> Iterator[SimulatorProcess]:
    """The field meter behind its gateway, at the meter's real 9600-baud pace."""
    argv = [sys.executable, "-m", "microstar_sim", "--host", LOOPBACK, "--port", "0"]
    argv += ["--control-port", "0", "--profile", "microstar-3p"]
    process = ManagedProcess("simulator", argv, install_artifacts / "simulator.log", REPO)
    try:
        gateway = process.wait_for_log(r"gateway on socket://[\d.]+:(\d+)", 30)
        control = process.wait_for_log(r"control port: [\d.]+:(\d+)", 5)
        yield SimulatorProcess(process, int(gateway[1]), int(control[1]))
    finally:
        process.stop(grace=5)


def user_environment(venv: Path, port: int) -> dict[str, str]:
    """What a user's shell gives ``hass``: no PYTHONPATH, nothing of the test venv."""
    keep = ("HOME", "LANG", "TERM", "SSL_CERT_FILE", "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "CI")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env["VIRTUAL_ENV"] = str(venv)
    env["SETUP_PORT"] = str(port)  # the HTTP port of a new config dir (no http: in YAML)
    return env


@pytest.fixture(scope="module")
def installed_hass(
    tmp_path_factory: pytest.TempPathFactory,
    release: Release,
    install_artifacts: Path,
    meter: SimulatorProcess,
) -> Iterator[HassProcess]:
    """``hass -c <fresh dir>`` from the release's venv, the integration copied in as HACS does."""
    allow_loopback_sockets()
    config_dir = tmp_path_factory.mktemp(f"hass-{release.version}")
    subprocess.run(
        [sys.executable, "scripts/ha_config.py", str(config_dir), "--copy"], cwd=REPO, check=True
    )
    assert not (config_dir / "custom_components" / "microstar_dlms").is_symlink()
    port = free_port()
    argv = [str(release.venv / "bin" / "hass"), "-c", str(config_dir)]  # no --skip-pip
    process = ManagedProcess(
        f"home assistant {release.version}",
        argv,
        install_artifacts / "hass.log",
        config_dir,
        user_environment(release.venv, port),
        inherit_env=False,
    )
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for(
            lambda: answers(f"{base_url}/api/onboarding"),
            FIRST_START_S,
            "Home Assistant's HTTP",
            process,
        )
        yield HassProcess(process, base_url, config_dir)
    finally:
        process.stop(grace=30)
        log = config_dir / "home-assistant.log"
        if log.exists():
            shutil.copy(log, install_artifacts / "home-assistant.log")
