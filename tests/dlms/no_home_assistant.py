"""A child interpreter of test_standalone.py, where Home Assistant cannot be imported.

It imports the protocol core and what is built on it, uses them against a simulated meter and
prints what happened as JSON on its last line of output.

Usage: python tests/dlms/no_home_assistant.py repo
           every module of the core (in place), the simulator, the field tool and the
           benchmarks; then the field tool reads a simulator started here
       python tests/dlms/no_home_assistant.py wheel ENDPOINT
           the installed ``microstar_dlms_core`` (on PYTHONPATH; this repository is not reachable)
           reads the meter at ENDPOINT
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import importlib
import importlib.abc
from importlib.machinery import ModuleSpec
import io
import json
from pathlib import Path
import pkgutil
import sys
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HOME_ASSISTANT = ("homeassistant", "pytest_homeassistant_custom_component")
BUILT_ON_THE_CORE = (
    "custom_components.microstar_dlms.dlms",
    "microstar_sim",
    "microstar_tools",
    "benchmarks",
)


class Blocked(importlib.abc.MetaPathFinder):
    """Imports of these top-level packages fail, as where they are not installed."""

    def __init__(self, *names: str) -> None:
        """The top-level package names to refuse."""
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """Refuse a blocked name; leave everything else to the other finders."""
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked)", name=fullname)
        return None


def import_tree(package: str) -> tuple[list[str], dict[str, str]]:
    """Import ``package`` and every module under it (``__main__`` aside): names, failures."""
    imported: list[str] = []
    failed: dict[str, str] = {}
    root = importlib.import_module(package)
    imported.append(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if module.name.endswith(".__main__"):
            continue  # runs the program
        try:
            importlib.import_module(module.name)
        except ImportError as err:
            failed[module.name] = f"{type(err).__name__}: {err}"
        else:
            imported.append(module.name)
    return imported, failed


async def read_with_the_field_tool() -> str:
    """``scripts/meter read`` of a voltage and a demand register, against a simulator."""
    simulator: Any = importlib.import_module("microstar_sim")
    meter: Any = importlib.import_module("microstar_tools.meter")
    sim = simulator.Simulator(simulator.SimulatorConfig(timing=simulator.FAST))
    await sim.start()
    try:
        out = io.StringIO()
        argv = ["read", "--host", sim.host, "--port", str(sim.port), "1-1:32.7.0", "5/1-1:1.4.0/2"]
        await meter.cmd_read(meter.build_parser().parse_args(argv), out)
    finally:
        await sim.stop()
    return out.getvalue()


async def read_with_the_wheel(endpoint: str) -> dict[str, Any]:
    """One session of the installed core's client: a voltage and its scaler_unit."""
    core: Any = importlib.import_module("microstar_dlms_core")
    voltage = core.MeterObject("1.1.32.7.0.255", 3)
    client = core.MeterClient(core.ConnectionSettings(endpoint=endpoint, response_timeout=2.0))
    async with client.session() as session:
        value, scaler_unit = await session.read_attributes(
            [voltage.value_ref(), voltage.scaler_unit_ref()]
        )
    scaled = core.ScalerUnit.from_value(scaler_unit.value)
    return {"value": str(scaled.scale(value.value)), "unit": scaled.symbol}


def loaded(*names: str) -> list[str]:
    """The modules of these top-level packages this interpreter has loaded."""
    return sorted(name for name in sys.modules if name.partition(".")[0] in names)


def in_repo() -> dict[str, Any]:
    """Everything built on the core, imported and used in place."""
    sys.meta_path.insert(0, Blocked(*HOME_ASSISTANT))
    sys.path.insert(0, str(REPO))
    imported: list[str] = []
    failed: dict[str, str] = {}
    for package in BUILT_ON_THE_CORE:
        names, failures = import_tree(package)
        imported += names
        failed |= failures
    output = asyncio.run(read_with_the_field_tool())
    return {
        "imported": imported,
        "failed": failed,
        "tool_output": output,
        "home_assistant_loaded": loaded(*HOME_ASSISTANT),
    }


def from_the_wheel(endpoint: str) -> dict[str, Any]:
    """The installed wheel imported and used, with Home Assistant and this repository out."""
    sys.meta_path.insert(0, Blocked(*HOME_ASSISTANT, "custom_components"))
    imported, failed = import_tree("microstar_dlms_core")
    files = {name: getattr(sys.modules[name], "__file__", None) for name in imported}
    return {
        "imported": imported,
        "failed": failed,
        "files": files,
        "reading": asyncio.run(read_with_the_wheel(endpoint)),
        "home_assistant_loaded": loaded(*HOME_ASSISTANT, "custom_components"),
    }


def main(argv: Sequence[str]) -> None:
    """Run one mode, print its report."""
    report = in_repo() if argv[0] == "repo" else from_the_wheel(argv[1])
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
