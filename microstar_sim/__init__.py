"""Microstar DLMS meter + ser2net gateway simulator for tests, the demo and the benchmark.

Not shipped with the integration. Start one with ``async with Simulator() as sim:`` (tests:
the ``simulator`` fixture of ``microstar_sim.pytest_plugin``) or ``scripts/simulator``.
"""

from .clock import Clock, FakeClock, FunctionClock, SystemClock
from .config import (
    FAST,
    ClientAccess,
    GatewayConfig,
    MeterConfig,
    SimulatorConfig,
    TimingConfig,
)
from .faults import (
    AnswerFromAddressSize,
    Busy,
    CorruptFcs,
    DataAccessFailure,
    DelayResponse,
    DropMidResponse,
    EnergyGlitch,
    Fault,
    IgnoreDisc,
    IgnoreRelease,
    NoiseBytes,
    ReceiveNotReady,
    RefuseWithException,
    RejectAssociation,
    ResponseKind,
    ResponseLlc,
    Silent,
    StuckAssociation,
    TruncateFrame,
    parse_fault,
)
from .profiles import GUIDE_PROFILE, profile_meter
from .record import CloseReason, Direction, SimulatorRecord
from .simulator import Simulator

__all__ = [
    "FAST",
    "GUIDE_PROFILE",
    "AnswerFromAddressSize",
    "Busy",
    "ClientAccess",
    "Clock",
    "CloseReason",
    "CorruptFcs",
    "DataAccessFailure",
    "DelayResponse",
    "Direction",
    "DropMidResponse",
    "EnergyGlitch",
    "FakeClock",
    "Fault",
    "FunctionClock",
    "GatewayConfig",
    "IgnoreDisc",
    "IgnoreRelease",
    "MeterConfig",
    "NoiseBytes",
    "ReceiveNotReady",
    "RefuseWithException",
    "RejectAssociation",
    "ResponseKind",
    "ResponseLlc",
    "Silent",
    "Simulator",
    "SimulatorConfig",
    "SimulatorRecord",
    "StuckAssociation",
    "SystemClock",
    "TimingConfig",
    "TruncateFrame",
    "parse_fault",
    "profile_meter",
]
