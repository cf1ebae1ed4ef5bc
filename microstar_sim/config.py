"""Configuration of the simulated gateway, meters and line timing; defaults match the field."""

from __future__ import annotations

from dataclasses import dataclass, field
import random
from typing import TYPE_CHECKING, Literal

from custom_components.microstar_dlms.dlms.hdlc import AddressSize, ServerAddress

from .clock import Clock
from .faults import Fault

if TYPE_CHECKING:
    from .replay import Replay

FIRMWARE = "MS-DLMS 2.31"


@dataclass(frozen=True, slots=True)
class ClientAccess:
    """One client SAP the meter accepts: LLS password (None: no authentication) and rights."""

    client_sap: int
    password: str | None
    read_only: bool = False
    # A replayed meter: its file masks the password, so any password is taken for this SAP.
    any_password: bool = False


# Field: client 1 with LLS `2222222222` worked; 16 is public; 32 is the LLS SAP of the
# vendor guide (8-character passwords were also seen in the field).
DEFAULT_CLIENTS: tuple[ClientAccess, ...] = (
    ClientAccess(16, None, read_only=True),
    ClientAccess(1, "2222222222"),
    ClientAccess(32, "12345678"),
)

SnrmWhenConnected = Literal["accept", "ignore"]


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """One meter on the gateway's RS-485 line."""

    profile: str = "microstar-3p"
    serial_number: str = "21061234"
    logical: int = 1
    physical: int | None = None  # default for 2/4-byte addressing: last 4 digits of the serial
    address_size: AddressSize = 1
    clients: tuple[ClientAccess, ...] = DEFAULT_CLIENTS
    grant_multiple_references: bool = False
    inactivity_timeout: float = 180.0
    max_info_length: int = 128  # HDLC max information field, both directions
    # HDLC window, both directions: up to this many I-frames before the peer's RR, when the
    # client's SNRM proposes as many (the field meter's UA says 1).
    hdlc_window: int = 1
    max_pdu_size: int = 512  # xDLMS server max receive PDU size
    # A real link answers SNRM while connected with UA; "ignore" models meters that stay silent
    # until DISC or the inactivity timeout (see field notes §6).
    snrm_when_connected: SnrmWhenConnected = "accept"
    utc_offset_minutes: int = 0
    # Date-times carry the deviation with the sign opposite to IEC 62056-6-2 (local = UTC +
    # deviation), as many meters write it.
    inverted_deviation: bool = False
    load_profile_period: int = 900  # seconds between load-profile captures
    load_profile_history_days: float = 2.0  # entries already in the buffer at start
    load_profile_capacity: int = 960
    initial_import_wh: int = 12_345_678
    seed: int = 1
    firmware: str = FIRMWARE
    # A meter replayed from a diagnostics file (replay.py): its objects, answers and UA.
    replay: Replay | None = None

    @property
    def address(self) -> ServerAddress:
        """The HDLC server address this meter answers to."""
        if self.address_size == 1:
            return ServerAddress(self.logical, None, 1)
        physical = self.physical if self.physical is not None else int(self.serial_number[-4:])
        return ServerAddress(self.logical, physical, self.address_size)

    def client(self, sap: int) -> ClientAccess | None:
        """The access of a client SAP, None when the meter does not know it."""
        return next((c for c in self.clients if c.client_sap == sap), None)


@dataclass(frozen=True, slots=True)
class TimingConfig:
    """Line timing: bytes take 10 bit times at ``baudrate``; the meter waits a turnaround."""

    baudrate: int = 9600
    turnaround_min: float = 0.030
    turnaround_max: float = 0.250
    fast: bool = False  # no line or turnaround delay (unit tests)

    @property
    def byte_time(self) -> float:
        """Seconds per byte on the serial line (8N1: 10 bits)."""
        return 0.0 if self.fast else 10.0 / self.baudrate

    def turnaround(self, rng: random.Random) -> float:
        """Seconds between the end of a request and the start of the answer."""
        if self.fast:
            return 0.0
        return rng.uniform(self.turnaround_min, self.turnaround_max)


FAST = TimingConfig(fast=True)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The ser2net-like TCP side."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port (tests)
    # Close a client when no byte went either way for this long (ser2net "timeout": meter
    # output counts as activity too). ser2net closes 1-2 s later (measured: timeout 1 -> 2.0 s,
    # timeout 3 -> 4.0 s); the model closes on time.
    idle_timeout: float | None = None
    stale_bytes: bytes = b""  # waiting in the gateway buffer for the first client
    # Bytes the meter sends while nobody is connected wait for the next client (field §3, and
    # ser2net in front of a pty: the line keeps them until the next client opens it).
    keep_output_while_disconnected: bool = True


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """A gateway with one or more meters behind it."""

    meters: tuple[MeterConfig, ...] = (MeterConfig(),)
    gateway: GatewayConfig = GatewayConfig()
    timing: TimingConfig = TimingConfig()
    faults: tuple[Fault, ...] = ()
    control_port: int | None = None  # None: no control port; 0: an ephemeral one
    clock: Clock | None = field(default=None, compare=False)  # None: the system clock
    seed: int = 1
    # The meter line on this serial device instead of behind the gateway model: an existing
    # pty end (socat's pair) or a path where the simulator links a pty of its own.
    serial_device: str | None = None

    def __post_init__(self) -> None:
        """Refuse configurations a real bus could not have."""
        if not self.meters:
            raise ValueError("a simulator needs at least one meter")
        addresses = [m.address for m in self.meters]
        if len(set(addresses)) != len(addresses):
            raise ValueError("two meters on one line share an HDLC address")
