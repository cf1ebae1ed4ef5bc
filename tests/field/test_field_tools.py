"""The field tools on a report: ``scripts/simulator --replay FILE`` plays the meter, and
``scripts/meter test`` / ``read`` against it answer the serial (the file's stand-in) and the
energy register's value the file holds. Both run as processes, as a maintainer runs them."""

import asyncio
from collections.abc import AsyncIterator
import os
from pathlib import Path
import re
import sys

import pytest

from microstar_sim.cli import main
from microstar_sim.replay import load_diagnostics

from .harness import DIAGNOSTICS, FIELD

REPO = FIELD.parents[1]
GUIDE_METER = FIELD / "microstar-guide" / DIAGNOSTICS
ENERGY_IMPORT = "1.1.1.8.0.255"


async def _run(*args: str, env: dict[str, str] | None = None) -> str:
    """One process to its end (a minute at most); its output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(60):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    return text


@pytest.fixture
async def replay_port() -> AsyncIterator[int]:
    """``scripts/simulator --replay`` of the guide meter's report, on an ephemeral port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "microstar_sim",
        "--replay",
        str(GUIDE_METER),
        "--port",
        "0",
        "--control-port",
        "-1",
        "--fast",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            banner = (await process.stdout.readline()).decode()
        found = re.search(r"socket://127\.0\.0\.1:(\d+)", banner)
        assert found is not None, banner
        yield int(found.group(1))
    finally:
        process.terminate()
        await process.wait()


async def test_meter_tool_reads_the_replayed_report(replay_port: int) -> None:
    """`test` (public client) prints the stand-in serial; `read` with the report's client SAP
    and a password the file never held prints the energy import the file shows."""
    diagnostics = load_diagnostics(GUIDE_METER)
    energy = next(o for o in diagnostics["meter"]["objects"] if o["obis"] == ENERGY_IMPORT)
    common = ["-m", "microstar_tools.meter"]
    where = ["--host", "127.0.0.1", "--port", str(replay_port)]

    tested = await _run(*common, "test", *where)
    assert f"serial number     {diagnostics['meter']['serial']}" in tested

    env = {**os.environ, "MICROSTAR_PASSWORD": "not-the-users-password"}
    read = await _run(*common, "read", *where, "--client-sap", "1", "1-1:1.8.0", env=env)
    assert read.splitlines()[-1].endswith(f"  {energy['value']} Wh")


def test_a_file_that_is_no_report_is_refused(tmp_path: Path) -> None:
    """A file without a meter's diagnostics stops the simulator with a one-line error."""
    not_a_report = tmp_path / "notes.json"
    not_a_report.write_text('{"data": {"hello": 1}}', "utf-8")
    assert main(["--replay", str(not_a_report)]) == 2
    assert main(["--replay", str(tmp_path / "missing.json")]) == 2
    assert main(["--replay", str(GUIDE_METER), "--meters", "2"]) == 2
