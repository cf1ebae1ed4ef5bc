"""The protocol core stands alone: it imports, runs and type-checks with Home Assistant absent,
and builds into a wheel of its own (``microstar_dlms_core``) from the one copy in the component.

Each check runs in a child interpreter (``no_home_assistant.py``) where importing Home Assistant
fails, as on a machine without it. Building the wheel fetches its build backend (hatchling) from
the package index, as ``python -m build`` does for a release.
"""

from __future__ import annotations

import ast
import asyncio
from dataclasses import dataclass
import importlib.util
import json
import os
from pathlib import Path
import subprocess
import sys
import tomllib
from typing import Any
import zipfile

from packaging.requirements import Requirement
import pytest

from microstar_sim.pytest_plugin import SimulatorFactory

REPO = Path(__file__).resolve().parents[2]
COMPONENT = REPO / "custom_components" / "microstar_dlms"
CORE = COMPONENT / "dlms"
CHILD = Path(__file__).with_name("no_home_assistant.py")
PUBLISHED = "microstar_dlms_core"
# Benchmarks of the integration inside Home Assistant: they need it, the others do not.
BENCHMARKS_OF_HOME_ASSISTANT = {
    "benchmarks.bus",
    "benchmarks.entries",
    "benchmarks.guide",
    "benchmarks.learning",
    "benchmarks.live",
    "benchmarks.scale",
}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((COMPONENT / "manifest.json").read_text("utf-8"))
    return manifest


def _core_files() -> set[str]:
    """The core's files as published: its modules and the typing marker."""
    return {path.name for path in CORE.iterdir() if path.suffix == ".py" or path.name == "py.typed"}


def _report(returncode: int | None, stdout: str, stderr: str) -> dict[str, Any]:
    """The child's JSON report, once it exited cleanly."""
    assert returncode == 0, stdout + stderr
    report: dict[str, Any] = json.loads(stdout.splitlines()[-1])
    return report


def test_the_core_the_simulator_and_the_tool_run_without_home_assistant() -> None:
    """Every module of the core, the simulator, the field tool and the protocol benchmarks
    imports with Home Assistant blocked, and the tool reads a simulated meter there."""
    completed = subprocess.run(
        [sys.executable, str(CHILD), "repo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = _report(completed.returncode, completed.stdout, completed.stderr)
    core = {f"custom_components.microstar_dlms.dlms.{path.stem}" for path in CORE.glob("*.py")}
    core = {name.removesuffix(".__init__") for name in core}
    assert core <= set(report["imported"])
    assert {"microstar_sim.simulator", "microstar_tools.meter"} <= set(report["imported"])
    assert set(report["failed"]) == BENCHMARKS_OF_HOME_ASSISTANT, report["failed"]
    assert all("homeassistant" in error for error in report["failed"].values())
    assert report["home_assistant_loaded"] == []
    voltage, demand = report["tool_output"].splitlines()
    assert voltage.endswith(" V")
    assert demand.endswith(" W")


def test_the_distribution_follows_the_manifest() -> None:
    """The wheel's version and requirement are the integration's; it requires nothing the core
    does not import."""
    project = _pyproject()["project"]
    manifest = _manifest()
    assert project["version"] == manifest["version"]
    assert project["dependencies"] == manifest["requirements"]
    imported: set[str] = set()
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.partition(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == {Requirement(r).name for r in project["dependencies"]}


def test_the_repository_imports_the_core_by_one_name() -> None:
    """Nothing here imports the published name: two names would make two copies of every class
    (and of the process-wide bus) in one process."""
    importers = []
    for folder in ("custom_components", "microstar_sim", "microstar_tools", "benchmarks", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(name.partition(".")[0] == PUBLISHED for name in names):
                    importers.append(str(path.relative_to(REPO)))
    assert importers == []


@dataclass(frozen=True, slots=True)
class Built:
    """The core's wheel, built as for a release and installed into a folder of its own."""

    wheel: Path
    site: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``python -m build`` (sdist, then the wheel from the sdist), ``pip install --target``."""
    folder = tmp_path_factory.mktemp("core-wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(folder / "dist"), str(REPO)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    (wheel,) = (folder / "dist").glob("*.whl")
    site = folder / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*install, "--target", str(site), str(wheel)], check=True, timeout=120)
    return Built(wheel, site)


def test_the_wheel_holds_the_core_alone(built: Built) -> None:
    """Only the core's modules and py.typed, under the published name, with its metadata."""
    project = _pyproject()["project"]
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
        (metadata_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = wheel.read(metadata_name).decode("utf-8").splitlines()
    packaged = {name.split("/", 1)[1] for name in names if name.startswith(f"{PUBLISHED}/")}
    assert packaged == _core_files()
    assert {name.split("/", 1)[0] for name in names} == {
        PUBLISHED,
        f"{PUBLISHED}-{project['version']}.dist-info",
    }
    assert "Name: microstar-dlms-core" in metadata
    assert f"Version: {project['version']}" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert f"Requires-Python: {project['requires-python']}" in metadata
    assert [line for line in metadata if line.startswith("Requires-Dist:")] == [
        f"Requires-Dist: {requirement}" for requirement in project["dependencies"]
    ]


async def test_the_installed_wheel_reads_a_meter_without_home_assistant(
    built: Built, simulator: SimulatorFactory
) -> None:
    """Imported from where pip put it, this repository and Home Assistant out of reach, the
    published client reads a voltage with its scaler and unit."""
    sim = await simulator()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        "wheel",
        sim.endpoint,
        cwd=built.site,
        env={**os.environ, "PYTHONPATH": str(built.site)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await child.communicate()
    report = _report(child.returncode, stdout.decode(), stderr.decode())
    assert report["failed"] == {}
    assert {Path(file).name for file in report["files"].values()} == {
        name for name in _core_files() if name.endswith(".py")
    }
    assert all(Path(file).is_relative_to(built.site) for file in report["files"].values())
    assert report["home_assistant_loaded"] == []
    assert report["reading"]["unit"] == "V"
    assert 200 < float(report["reading"]["value"]) < 260


def test_the_installed_wheel_type_checks_without_home_assistant(built: Built) -> None:
    """``mypy --strict`` of the published package, with only it and serialx to be found."""
    found = importlib.util.find_spec("serialx")
    assert found is not None
    assert found.submodule_search_locations is not None
    typed = built.site.parent / "typed"
    typed.mkdir(exist_ok=True)
    serialx = typed / "serialx"
    if not serialx.exists():
        serialx.symlink_to(found.submodule_search_locations[0], target_is_directory=True)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-site-packages",  # nothing installed is found: no Home Assistant
            "--follow-imports=silent",  # serialx's own code is not ours to check
            "--cache-dir=/dev/null",
            "-p",
            PUBLISHED,
        ],
        cwd=built.site,
        env={**os.environ, "MYPYPATH": f"{built.site}{os.pathsep}{typed}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"no issues found in {len(_core_files()) - 1} source files" in completed.stdout
