"""Provide a Home Assistant release in a virtualenv of its own, as a user's install holds it.

The venv holds ``homeassistant==VERSION`` and serialx at the version that release pins (its
container image ships it), and nothing of this repository. Home Assistant installs everything
else itself when it starts, under its own ``package_constraints.txt``: the install path of every
user. Venvs live under ``$MICROSTAR_HA_VENVS`` (set by scripts/run-in-env, next to the Python 3.14
rootfs cache), one per release, and are reused between runs.

Usage: python scripts/ha_venv.py VERSION       (creates it if needed; prints the venv's path)
       python scripts/ha_venv.py --releases    (the tested releases, oldest first)
       python scripts/ha_venv.py --newest      (the newest tested release)
"""

from __future__ import annotations

import argparse
import fcntl
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time

REPO = Path(__file__).resolve().parents[1]
RELEASES_FILE = REPO / "ha-releases.txt"
READY = ".microstar-ready"


def tested_releases() -> list[str]:
    """The releases in ha-releases.txt, oldest first."""
    lines = RELEASES_FILE.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def venvs_root() -> Path:
    """Where release venvs are cached."""
    default = Path.home() / ".cache" / "microstar_dlms" / "ha-venvs"
    return Path(os.environ.get("MICROSTAR_HA_VENVS") or default)


def constraints_file(venv: Path) -> Path:
    """The release's own package_constraints.txt inside its venv."""
    found = sorted(venv.glob("lib/python*/site-packages/homeassistant/package_constraints.txt"))
    if not found:
        raise SystemExit(f"ha_venv: no homeassistant/package_constraints.txt under {venv}")
    return found[0]


def pinned(constraints: Path, package: str) -> str | None:
    """The ``package==X`` line of a constraints file, if it pins that package."""
    for line in constraints.read_text("utf-8").splitlines():
        name, sep, _ = line.strip().partition("==")
        if sep and name.strip().lower() == package:
            return line.strip()
    return None


def _pip(venv: Path, *args: str) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args],
        check=True,
        stdout=sys.stderr,
    )


def build(version: str, venv: Path) -> None:
    """Create the venv: Home Assistant alone, then serialx at the release's pin.

    Built in place (console scripts name the venv's interpreter by path); the ready marker is
    written last, so an interrupted build is started over.
    """
    shutil.rmtree(venv, ignore_errors=True)
    python = os.environ.get("MICROSTAR_PYTHON") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    _pip(venv, "--upgrade", "pip")
    _pip(venv, f"homeassistant=={version}")
    constraints = constraints_file(venv)
    if serialx := pinned(constraints, "serialx"):
        _pip(venv, serialx, "--constraint", str(constraints))
    (venv / READY).write_text(f"{version}\n{serialx or 'serialx not pinned'}\n", "utf-8")


def ensure(version: str) -> Path:
    """The release's venv, built once under a lock (parallel runs wait for each other)."""
    root = venvs_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / version
    with (root / f".{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / READY).is_file():
            started = time.monotonic()
            print(f"[ha_venv] installing homeassistant=={version} in {venv}", file=sys.stderr)
            build(version, venv)
            print(f"[ha_venv] ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return venv


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", nargs="?")
    parser.add_argument("--releases", action="store_true", help="print the tested releases")
    parser.add_argument("--newest", action="store_true", help="print the newest tested release")
    args = parser.parse_args()
    if args.releases:
        print("\n".join(tested_releases()))
    elif args.newest:
        print(tested_releases()[-1])
    elif args.version:
        print(ensure(args.version))
    else:
        parser.error("VERSION, --releases or --newest is required")


if __name__ == "__main__":
    main()
