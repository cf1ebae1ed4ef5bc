"""Run ``hass`` with the integration's clock compressed, for the end-to-end run only.

The shipped code asks a failing meter again every 30 s and raises the "meter silent" repair only
after three failed polls spanning the meter's 180 s inactivity window: minutes of real time. Here
that retry interval and that window shrink (``COMPRESSED``); the readings' own intervals (live
5 s, standard 30 s, slow 15 minutes: ``freshness.INTERVALS``) are the shipped ones, and every
other line is the shipped integration and Home Assistant's own ``hass`` entry point. Names are
rebound in every module of the integration that imported them, and a missing name fails the
start (so a rename cannot silently skip this).

Usage: python -m tests.e2e.hass_launcher HASS-ARGUMENTS...
"""

from datetime import timedelta
import importlib
import sys
from types import ModuleType
from typing import Any

PACKAGE = "custom_components.microstar_dlms"
COMPRESSED: dict[str, Any] = {
    "UPDATE_INTERVAL": timedelta(seconds=4),
    "METER_INACTIVITY_WINDOW": timedelta(seconds=6),
}


def compress_clock() -> list[str]:
    """Rebind the ``COMPRESSED`` constants in the integration's modules; say where."""
    const = importlib.import_module(f"{PACKAGE}.const")
    importlib.import_module(f"{PACKAGE}.lifecycle")  # and so every module that imports const
    rebound = []
    for name, value in COMPRESSED.items():
        if not hasattr(const, name):
            raise SystemExit(f"hass_launcher: {PACKAGE}.const has no {name} any more")
        original = getattr(const, name)
        for module_name, module in list(sys.modules.items()):
            if not (module_name == PACKAGE or module_name.startswith(f"{PACKAGE}.")):
                continue
            if isinstance(module, ModuleType) and getattr(module, name, None) is original:
                setattr(module, name, value)
                rebound.append(f"{module_name}.{name}={value}")
    return rebound


def main() -> int:
    """Compress the clock, then hand over to Home Assistant's own entry point."""
    for line in compress_clock():
        print(f"hass_launcher: {line}", flush=True)
    from homeassistant.__main__ import main as hass_main  # noqa: PLC0415

    sys.argv = ["hass", *sys.argv[1:]]
    return hass_main()


if __name__ == "__main__":
    sys.exit(main())
