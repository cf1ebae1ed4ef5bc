"""Fixtures with the real gateway: socat's pty pair as the serial line, the simulated meter on one
end, ser2net (raw TCP or RFC 2217) on the other; every process stopped on every exit path."""

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from homeassistant.util import dt as dt_util
import pytest

from microstar_sim import FAST, FunctionClock, Simulator, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory, simulator

from .processes import PtyPair, Ser2net, Ser2netBuild, debian12_ser2net, tool

__all__ = ["simulator"]

type Ser2netFactory = Callable[..., Ser2net]
type MeterFactory = Callable[..., Awaitable[Simulator]]


@pytest.fixture
def line(tmp_path: Path) -> Iterator[PtyPair]:
    """A serial line: socat's pty pair (``meter_end`` for the meter, ``client_end`` for ser2net)."""
    pair = PtyPair(tmp_path)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def start_meter(line: PtyPair, simulator: SimulatorFactory) -> MeterFactory:
    """Start the simulated meter on the line's meter end (fast timing unless told otherwise)."""

    async def start(**changes: Any) -> Simulator:
        changes.setdefault("timing", FAST)
        changes.setdefault("clock", FunctionClock(dt_util.utcnow))
        return await simulator(SimulatorConfig(serial_device=str(line.meter_end), **changes))

    return start


@pytest.fixture
async def meter(start_meter: MeterFactory) -> Simulator:
    """The field meter (serial 21061234, client 1 password 2222222222) on the line."""
    return await start_meter()


@pytest.fixture
def start_ser2net(line: PtyPair, tmp_path: Path) -> Iterator[Ser2netFactory]:
    """Start ser2net in front of the line: ``start_ser2net(rfc2217=True, timeout=2)``."""
    started: list[Ser2net] = []

    def start(**options: Any) -> Ser2net:
        gateway = Ser2net(line.client_end, tmp_path, name=f"ser2net-{len(started)}", **options)
        started.append(gateway)
        gateway.start()
        return gateway

    try:
        yield start
    finally:
        for gateway in started:
            gateway.stop()


@pytest.fixture(params=["current", "debian12"])
def ser2net_build(request: pytest.FixtureRequest) -> Ser2netBuild:
    """The environment's ser2net (4.6 and later) and Debian 12's (4.3.11, bookworm gateways)."""
    name = str(request.param)
    return Ser2netBuild(name, debian12_ser2net() if name == "debian12" else tool("ser2net"))


@pytest.fixture(params=["raw", "rfc2217"])
def ser2net(request: pytest.FixtureRequest, start_ser2net: Ser2netFactory) -> Ser2net:
    """ser2net fronting the line, raw TCP and RFC 2217 (``telnet(rfc2217)`` accepter)."""
    return start_ser2net(rfc2217=request.param == "rfc2217")
