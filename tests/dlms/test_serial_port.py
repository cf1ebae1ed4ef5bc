"""The client over a serial device path (a pseudo-terminal standing in for RS-485)."""

import os
from pathlib import Path

import pytest

from custom_components.microstar_dlms.dlms import ConnectionSettings, MeterClient, ServerAddress
from custom_components.microstar_dlms.dlms.transport import endpoint_key
from microstar_sim import FAST, FakeClock, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory

from .simulated import VOLTAGE, value_of, wait_until


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
async def test_session_over_a_serial_device_path(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    """Same session over a device path: SNRM ... DISC, and the port is released afterwards."""
    device = str(tmp_path / "meter")
    sim = await simulator(SimulatorConfig(timing=FAST, clock=FakeClock(), serial_device=device))
    settings = ConnectionSettings(
        endpoint=sim.endpoint, client_sap=16, server=ServerAddress(1), response_timeout=1.0
    )
    for _ in range(2):  # the second session proves the port was closed and reopened
        async with MeterClient(settings).session() as session:
            assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
    await wait_until(lambda: sim.record.heard()[-1:] == ["DISC"])
    heard = sim.record.heard()
    assert heard.count("SNRM") == 2
    assert heard[-2:] == ["ReleaseRequest", "DISC"]
    assert endpoint_key(device) == device


def test_endpoint_keys() -> None:
    """Meters behind one gateway share a lock key; serial paths key on the path."""
    assert endpoint_key("socket://GW.local:3333") == "gw.local:3333"
    assert endpoint_key("rfc2217://gw.local:3333") == "gw.local:3333"
    assert endpoint_key("/dev/ttyUSB0") == "/dev/ttyUSB0"
