"""The simulator: gateway, line and meters, with faults, a record and an optional control port."""

from __future__ import annotations

import random
from types import TracebackType
from typing import Self

from .clock import Clock, SystemClock
from .config import SimulatorConfig, TimingConfig
from .control import ControlServer
from .faults import (
    METER_FAULTS,
    Busy,
    CorruptFcs,
    DelayResponse,
    DropMidResponse,
    Fault,
    FaultBook,
    NoiseBytes,
    Silent,
    StuckAssociation,
    TruncateFrame,
)
from .gateway import Gateway
from .line import SerialLine
from .meter import SimulatedMeter
from .record import SimulatorRecord
from .serial_device import SerialDevice

_LINE_FAULTS = (Busy, CorruptFcs, DelayResponse, DropMidResponse, NoiseBytes, TruncateFrame)
_GATEWAY_FAULTS = (Busy, DropMidResponse)  # need the gateway model's TCP side


class Simulator:
    """Microstar meter(s) behind a ser2net-like gateway on 127.0.0.1.

    ``async with Simulator(SimulatorConfig(...)) as sim:`` then connect to ``sim.endpoint``.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        """Nothing listens before ``start`` (or ``async with``)."""
        self.config = config or SimulatorConfig()
        self.clock: Clock = self.config.clock or SystemClock()
        self._record = SimulatorRecord()
        self.line_faults = FaultBook()
        self.meters = [
            SimulatedMeter(meter, self.clock, self._record) for meter in self.config.meters
        ]
        self.gateway = Gateway(self.config.gateway, self.line_faults, self._record)
        self.serial = SerialDevice(self.config.serial_device) if self.config.serial_device else None
        self.line = SerialLine(
            self.meters,
            timing=self.config.timing,
            faults=self.line_faults,
            record=self._record,
            output=self.serial or self.gateway,
            rng=random.Random(self.config.seed),  # noqa: S311 - timing jitter, not crypto
        )
        self.gateway.attach(self.line)
        if self.serial is not None:
            self.serial.attach(self.line)
        self.control: ControlServer | None = None
        for fault in self.config.faults:
            self.set_fault(fault)

    async def start(self) -> None:
        """Listen on the gateway port or open the serial device (and the control port)."""
        self.line.start()
        try:
            if self.serial is not None:
                await self.serial.start()
            else:
                await self.gateway.start()
            if self.config.control_port is not None:
                self.control = ControlServer(self, self.config.gateway.host)
                await self.control.start(self.config.control_port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close all sockets and tasks; meters keep their state until the object is dropped."""
        if self.control is not None:
            await self.control.stop()
            self.control = None
        await self.gateway.stop()
        if self.serial is not None:
            await self.serial.stop()
        await self.line.stop()

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    # -- where to connect -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The gateway's listening address."""
        return self.config.gateway.host

    @property
    def port(self) -> int:
        """The gateway's TCP port (the ephemeral one when configured as 0)."""
        return self.gateway.port

    @property
    def endpoint(self) -> str:
        """``socket://127.0.0.1:PORT`` for serialx and the integration (the device path with
        ``serial_device``; of a pty pair, clients open the other end)."""
        if self.serial is not None:
            return str(self.serial.client_path)
        return f"socket://{self.host}:{self.port}"

    @property
    def control_port(self) -> int | None:
        """The control port, when one is open."""
        return self.control.port if self.control else None

    def meter(self, index: int = 0) -> SimulatedMeter:
        """One meter on the line (in configuration order)."""
        return self.meters[index]

    # -- what happened --------------------------------------------------------------------------

    @property
    def record(self) -> SimulatorRecord:
        """What the simulator saw; inactivity timeouts due by the clock are applied first."""
        for meter in self.meters:
            meter.expire()
        return self._record

    async def settle(self) -> None:
        """Wait until the line has handled (and answered) every byte received so far."""
        await self.line.settled()

    # -- faults and power -----------------------------------------------------------------------

    def set_fault(self, fault: Fault, meter: int | None = None) -> None:
        """Switch a fault on; meter-level faults go to ``meter`` (index) or to every meter."""
        targets = self.meters if meter is None else [self.meters[meter]]
        if self.serial is not None and isinstance(fault, _GATEWAY_FAULTS):
            raise ValueError(f"{type(fault).__name__} is a gateway fault; a serial line has none")
        if isinstance(fault, Silent):
            for target in targets:
                target.hang()
        elif isinstance(fault, StuckAssociation):
            for target in targets:
                target.leave_stuck_association(fault.client_sap)
        elif isinstance(fault, _LINE_FAULTS):
            self.line_faults.add(fault)
        elif isinstance(fault, METER_FAULTS):
            for target in targets:
                target.faults.add(fault)

    def clear_faults(self) -> None:
        """Switch every injected fault off. A silent meter stays silent until ``power_cycle``."""
        self.line_faults.clear()
        for meter in self.meters:
            meter.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Faults still armed (line first, then per meter); silent meters are in ``meters``."""
        active = self.line_faults.active()
        for meter in self.meters:
            active += [f for f in meter.faults.active() if f not in active]
        return active

    def power_cycle(self, meter: int | None = None) -> None:
        """Supply off and on: links and associations gone, a silent meter answers again."""
        for target in self.meters if meter is None else [self.meters[meter]]:
            target.power_cycle()
        self.line.forget_input()

    def set_timing(self, timing: TimingConfig) -> None:
        """Line timing from the next frame on (a benchmark learns its meters fast, then
        measures them at the field's speed)."""
        self.line.timing = timing

    def set_load(self, watts: float | None, meter: int | None = None) -> None:
        """Hold a meter's (or every meter's) net power at ``watts`` (None: its household's)."""
        for target in self.meters if meter is None else [self.meters[meter]]:
            target.set_load(watts)

    def set_password(self, client_sap: int, password: str | None, meter: int = 0) -> None:
        """Change the LLS password a meter expects from a client SAP (None: no authentication)."""
        self.meters[meter].set_password(client_sap, password)

    def add_stale_bytes(self, data: bytes) -> None:
        """Leave bytes waiting in the gateway (or the serial device) for the next client."""
        (self.serial or self.gateway).add_stale_bytes(data)

    def describe(self) -> list[str]:
        """Lines for a start banner: address, client SAPs and passwords of each meter."""
        lines = []
        for meter in self.meters:
            config = meter.config
            kind = f"profile {config.profile}"
            if config.replay is not None:
                kind = f"replay of {config.replay.source or 'a diagnostics file'}"
            lines.append(
                f"{meter}: {kind}, serial {config.serial_number}, "
                f"max info {config.max_info_length}, inactivity {config.inactivity_timeout:g} s"
            )
            for access in meter.clients.values():
                auth = "no authentication" if access.password is None else "LLS"
                rights = "read-only" if access.read_only else "read-write"
                password = f" password {access.password!r}" if access.password else ""
                if access.any_password:
                    password = " any password (the file masks it)"  # noqa: S105 - words
                lines.append(f"  client SAP {access.client_sap}: {auth}{password}, {rights}")
        return lines
