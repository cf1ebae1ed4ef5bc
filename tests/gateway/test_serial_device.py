"""``scripts/simulator --serial-device PATH``: the meter on a serial line of its own (a pty the
simulator links at PATH), any profile and the meter's faults, the control port still there;
the gateway's own faults are refused, as a serial line has no gateway."""

import asyncio
from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
import re
import signal
import sys

import pytest

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    ConnectionSettings,
    MeterClient,
    NoAnswer,
    Obis,
    ServerAddress,
)
from microstar_sim import FAST, Busy, DropMidResponse, MeterConfig, SimulatorConfig
from microstar_sim.cli import main
from microstar_sim.pytest_plugin import SimulatorFactory

REPO = Path(__file__).parents[2]
SERIAL_NUMBER = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
VOLTAGE_L2 = AttributeRef(3, Obis.parse("1-1:52.7.0"), 2)


def public_client(device: Path) -> MeterClient:
    """The public client (SAP 16, no password) on a serial device path."""
    return MeterClient(
        ConnectionSettings(
            endpoint=str(device),
            client_sap=16,
            password=None,
            server=ServerAddress(1),
            response_timeout=0.5,
            connect_timeout=2.0,
            retries=0,
        )
    )


async def test_own_pty_with_the_single_phase_profile(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    """A new path gets a pty linked there; the profile is the meter's (no phase L2 here); the
    link goes away with the simulator."""
    device = tmp_path / "meter"
    sim = await simulator(
        SimulatorConfig(
            timing=FAST,
            meters=(MeterConfig(profile="microstar-1p"),),
            serial_device=str(device),
        )
    )
    assert sim.endpoint == str(device)
    assert device.is_symlink()
    async with public_client(device).session() as session:
        assert await session.get(SERIAL_NUMBER) == b"21061234"
        [voltage_l2] = await session.read_attributes([VOLTAGE_L2])
    assert voltage_l2.error is not None  # object undefined on a single-phase meter
    await sim.stop()
    assert not device.exists()


async def test_gateway_faults_are_refused_on_a_serial_line(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    """Busy and drop-mid-response belong to the gateway; there is none on a serial line."""
    sim = await simulator(SimulatorConfig(timing=FAST, serial_device=str(tmp_path / "meter")))
    for fault in (Busy(), DropMidResponse()):
        with pytest.raises(ValueError, match="gateway fault"):
            sim.set_fault(fault)
    assert sim.faults == []


@contextlib.asynccontextmanager
async def simulator_process(*args: str) -> AsyncIterator[tuple[str, int]]:
    """``python -m microstar_sim ARGS``; yields (banner, control port); always stopped."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "microstar_sim",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        banner = ""
        async with asyncio.timeout(60):
            while "Ctrl-C stops." not in banner:
                line = await process.stdout.readline()
                assert line, f"the simulator exited: {banner}"
                banner += line.decode()
        port = re.search(r"control port: 127\.0\.0\.1:(\d+)", banner)
        assert port is not None, banner
        yield banner, int(port.group(1))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def control(port: int, command: str) -> str:
    """One control-port command and its answer line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"{command}\n".encode())
        async with asyncio.timeout(5):
            return (await reader.readline()).decode().strip()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_cli_serial_device_with_faults_and_control_port(tmp_path: Path) -> None:
    """The command line: the meter on its own pty, a fault switched on and off through the
    control port, busy refused there; SIGTERM removes the link."""
    device = tmp_path / "meter"
    async with simulator_process(
        "--serial-device", str(device), "--fast", "--control-port", "0"
    ) as (banner, port):
        assert f"serial device on {device}" in banner
        async with public_client(device).session() as session:
            assert await session.get(SERIAL_NUMBER) == b"21061234"
        assert (await control(port, "fault silent")).startswith("ok")
        with pytest.raises(NoAnswer):
            async with public_client(device).session():
                pass
        assert (await control(port, "power-cycle")).startswith("ok")
        assert (await control(port, "fault busy")).startswith("error Busy is a gateway fault")
        async with public_client(device).session() as session:
            assert await session.get(SERIAL_NUMBER) == b"21061234"
    assert not device.exists()


def test_cli_refuses_gateway_faults_on_a_serial_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--serial-device`` with ``--fault busy`` exits 2 with a clear message."""
    assert main(["--serial-device", str(tmp_path / "meter"), "--fault", "busy"]) == 2
    assert "Busy is a gateway fault; a serial line has none" in capsys.readouterr().err
    assert not (tmp_path / "meter").exists()
