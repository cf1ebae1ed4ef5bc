"""What the simulator saw (frames, TCP connections, HDLC sessions, associations) for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import time

from custom_components.microstar_dlms.dlms.apdu import Apdu, decode_apdu, strip_llc
from custom_components.microstar_dlms.dlms.errors import DlmsError
from custom_components.microstar_dlms.dlms.hdlc import FrameKind, decode_frame


class Direction(StrEnum):
    """Which way bytes went, seen from the meter."""

    TO_METER = "to_meter"
    FROM_METER = "from_meter"


class CloseReason(StrEnum):
    """Why a TCP connection, HDLC session or association ended."""

    CLIENT = "client"  # the TCP client closed
    IDLE_TIMEOUT = "idle_timeout"  # the gateway's idle timeout
    DROPPED = "dropped"  # the drop-mid-response fault
    BUSY = "busy"  # refused with "Port already in use"
    SHUTDOWN = "shutdown"  # the simulator stopped
    DISC = "disc"
    SNRM = "snrm"  # a new SNRM replaced the link
    RLRQ = "rlrq"
    INACTIVITY = "inactivity"  # the meter's inactivity timeout
    POWER_CYCLE = "power_cycle"


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One frame (or stray bytes) on the meter's line."""

    at: float  # time.monotonic() when the last byte passed
    direction: Direction
    data: bytes
    summary: str  # e.g. "SNRM to [logical 1 (1 byte)] from [logical 1 (1 byte)]", "noise"
    connection: int | None  # TCP connection that carried it, None when nobody was connected


@dataclass(slots=True)
class ConnectionRecord:
    """One TCP connection to the gateway."""

    id: int
    peer: str
    opened_at: float
    closed_at: float | None = None
    closed_by: CloseReason | None = None
    refused: bool = False  # got the busy text instead of the meter


@dataclass(slots=True)
class SessionRecord:
    """One HDLC link (SNRM/UA until DISC, a new SNRM, inactivity or power cycle)."""

    meter: str
    client_sap: int
    connection: int | None
    opened_at: float
    closed_at: float | None = None
    closed_by: CloseReason | None = None


@dataclass(slots=True)
class AssociationRecord:
    """One AARQ and what became of it."""

    meter: str
    client_sap: int
    accepted: bool
    diagnostic: int
    connection: int | None
    opened_at: float
    closed_at: float | None = None
    closed_by: CloseReason | None = None


@dataclass(slots=True)
class SimulatorRecord:
    """Everything the gateway and the meters saw since start (or the last ``clear``)."""

    frames: list[FrameRecord] = field(default_factory=list)
    connections: list[ConnectionRecord] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    associations: list[AssociationRecord] = field(default_factory=list)
    disc_received: int = 0
    rlrq_received: int = 0
    bad_frames_received: int = 0
    busy_replies: int = 0
    max_concurrent_connections: int = 0
    concurrent_connections: int = 0

    @property
    def open_sessions(self) -> list[SessionRecord]:
        """HDLC links still up (a client that left without DISC leaves one)."""
        return [s for s in self.sessions if s.closed_at is None]

    @property
    def open_associations(self) -> list[AssociationRecord]:
        """Accepted associations never released."""
        return [a for a in self.associations if a.accepted and a.closed_at is None]

    @property
    def open_connections(self) -> list[ConnectionRecord]:
        """TCP connections not yet closed."""
        return [c for c in self.connections if c.closed_at is None]

    def frames_to_meter(self) -> list[FrameRecord]:
        """Frames the clients sent."""
        return [f for f in self.frames if f.direction is Direction.TO_METER]

    def frames_from_meter(self) -> list[FrameRecord]:
        """Frames the meters sent."""
        return [f for f in self.frames if f.direction is Direction.FROM_METER]

    def requests(self) -> list[Apdu]:
        """The APDUs the clients sent, in order (each in one I-frame; repeats included)."""
        found = []
        for record in self.frames_to_meter():
            try:
                frame = decode_frame(record.data)
                if frame.kind is FrameKind.I and not frame.segmented:
                    found.append(decode_apdu(strip_llc(frame.information, response=False)))
            except DlmsError:
                continue  # noise, or a segment of a longer request
        return found

    def heard(self) -> list[str]:
        """What the meters heard, in order: each frame's kind, and after an I-frame the name of
        the APDU it carried (``SNRM``, ``I``, ``Aarq``, ..., ``DISC``)."""
        names = []
        for record in self.frames_to_meter():
            try:
                frame = decode_frame(record.data)
                names.append(frame.kind.value)
                if frame.kind is FrameKind.I and not frame.segmented:
                    apdu = decode_apdu(strip_llc(frame.information, response=False))
                    names.append(type(apdu).__name__)
            except DlmsError:
                continue
        return names

    def summary(self) -> dict[str, object]:
        """Counts for the control port and logs."""
        return {
            "frames": len(self.frames),
            "connections": len(self.connections),
            "open_connections": len(self.open_connections),
            "sessions": len(self.sessions),
            "open_sessions": len(self.open_sessions),
            "associations": len(self.associations),
            "open_associations": len(self.open_associations),
            "disc_received": self.disc_received,
            "rlrq_received": self.rlrq_received,
            "bad_frames_received": self.bad_frames_received,
            "busy_replies": self.busy_replies,
            "max_concurrent_connections": self.max_concurrent_connections,
        }

    def clear(self) -> None:
        """Forget history; open connections, sessions and associations are kept."""
        self.frames.clear()
        self.connections[:] = self.open_connections
        self.sessions[:] = self.open_sessions
        self.associations[:] = self.open_associations
        self.disc_received = self.rlrq_received = self.bad_frames_received = 0
        self.busy_replies = 0
        self.max_concurrent_connections = self.concurrent_connections


def now() -> float:
    """The timestamp records carry."""
    return time.monotonic()
