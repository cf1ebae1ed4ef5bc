"""The simulated field meter as the core's tests meet it: the objects they read, a simulator on
a clock that stands still (so a value read equals the meter's value), and client settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from custom_components.microstar_dlms.dlms import ConnectionSettings, ServerAddress
from custom_components.microstar_dlms.dlms.apdu import AttributeRef
from custom_components.microstar_dlms.dlms.obis import Obis
from microstar_sim import FAST, FakeClock, Fault, MeterConfig, Simulator, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory

SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
FIRMWARE = AttributeRef(1, Obis.parse("1-0:0.2.0"), 2)
CLOCK = AttributeRef(8, Obis.parse("0-0:1.0.0"), 2)
VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
VOLTAGE_SCALER = AttributeRef(3, Obis.parse("1-1:32.7.0"), 3)
VOLTAGE_L2 = AttributeRef(3, Obis.parse("1-1:52.7.0"), 2)  # none on a single-phase meter
OBJECT_LIST = AttributeRef(15, Obis.parse("0-0:40.0.0"), 2)  # 2.5 kB: datablocks, segments
SERIAL_NUMBER = b"21061234"  # the simulator's default meter
PASSWORD = "2222222222"  # its client SAP 1, as in the field
SINGLE_PHASE = "microstar-1p"


async def start(simulator: SimulatorFactory, *faults: Fault, **meter: Any) -> Simulator:
    """The field meter, changed by ``meter`` (MeterConfig fields), with ``faults`` on."""
    config = SimulatorConfig(
        meters=(MeterConfig(**meter),), timing=FAST, clock=FakeClock(), faults=faults
    )
    return await simulator(config)


def value_of(sim: Simulator, ref: AttributeRef) -> object:
    """What the meter holds in an attribute now, as the client's reads give it back."""
    return sim.meter().value(str(ref.obis), ref.attribute).to_python()


def settings_for(sim: Simulator, **changes: Any) -> ConnectionSettings:
    """Client SAP 1 with the field's password, 1-byte address, short test timeouts."""
    values: dict[str, Any] = {
        "endpoint": sim.endpoint,
        "client_sap": 1,
        "password": PASSWORD,
        "server": ServerAddress(1),
        "response_timeout": 0.5,
        "connect_timeout": 2.0,
        "lock_timeout": 5.0,
    }
    values.update(changes)
    return ConnectionSettings(**values)


async def wait_until(predicate: Callable[[], bool], within: float = 2.0) -> None:
    """Poll a condition the simulator's record shows asynchronously."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the record is a plain dataclass
            await asyncio.sleep(0.01)


async def closed(sim: Simulator) -> None:
    """Wait until the client closed its connection and the meter handled all it had sent."""
    await wait_until(lambda: not sim.record.open_connections, within=5.0)
    await sim.settle()
