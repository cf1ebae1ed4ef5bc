"""What went over the meter line: exchanges from the simulator's record, and the protocol floor."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from custom_components.microstar_dlms.dlms.apdu import (
    Aarq,
    AttributeRef,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    ReleaseRequest,
    decode_apdu,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.errors import DlmsError
from custom_components.microstar_dlms.dlms.hdlc import FrameKind, decode_frame
from microstar_sim.record import Direction, FrameRecord

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit


@dataclass(frozen=True, slots=True)
class Exchange:
    """One client frame and what the meter answered to it (window 1: at most one frame)."""

    request: str  # SNRM, AARQ, GET, GET-list, GET-next, RLRQ, DISC, RR, other
    refs: tuple[AttributeRef, ...]
    sent: int  # bytes on the line towards the meter
    received: int  # bytes on the line from the meter

    @property
    def wire_bytes(self) -> int:
        """Both directions."""
        return self.sent + self.received

    def floor_seconds(self, baudrate: int, turnaround: float) -> float:
        """Line time of both frames plus the meter's turnaround."""
        return self.wire_bytes * BITS_PER_BYTE / baudrate + turnaround


def _classify(data: bytes) -> tuple[str, tuple[AttributeRef, ...]]:
    try:
        frame = decode_frame(data)
    except DlmsError:
        return "other", ()
    kind = frame.kind
    if kind is not FrameKind.I:
        return kind.value if kind.value in {"SNRM", "DISC", "RR"} else "other", ()
    try:
        apdu = decode_apdu(strip_llc(frame.information, response=False))
    except DlmsError:
        return "other", ()  # e.g. a middle segment of a long request
    match apdu:
        case Aarq():
            return "AARQ", ()
        case ReleaseRequest():
            return "RLRQ", ()
        case GetRequestNormal():
            return "GET", (apdu.attribute,)
        case GetRequestWithList():
            return "GET-list", tuple(apdu.attributes)
        case GetRequestNext():
            return "GET-next", ()
    return "other", ()


def exchanges(frames: Sequence[FrameRecord]) -> list[Exchange]:
    """Pair each client frame with the meter frames that follow it until the next client frame."""
    result: list[Exchange] = []
    current: tuple[bytes, int] | None = None

    def close() -> None:
        if current is not None:
            request, received = current
            kind, refs = _classify(request)
            result.append(Exchange(kind, refs, len(request), received))

    for record in frames:
        if record.direction is Direction.TO_METER:
            close()
            current = (record.data, 0)
        elif current is not None:
            current = (current[0], current[1] + len(record.data))
    close()
    return result


_SESSION = ("SNRM", "AARQ", "RLRQ", "DISC")


def unavoidable(exchanges_: Sequence[Exchange], values: Collection[AttributeRef]) -> list[Exchange]:
    """The exchanges the protocol cannot avoid for reading ``values`` in one session.

    One each of SNRM/UA, AARQ/AARE, RLRQ/RLRE, DISC/UA; the GETs (normal or with-list) that
    fetch a wanted value for the first time, with the RR and GET-next exchanges that complete
    them (segmentation and block transfer are not optional once a reply is long).
    """
    wanted = set(values)
    seen_session: set[str] = set()
    fetched: set[AttributeRef] = set()
    kept: list[Exchange] = []
    continuing = False
    for exchange in exchanges_:
        if exchange.request in _SESSION:
            continuing = False
            if exchange.request not in seen_session:
                seen_session.add(exchange.request)
                kept.append(exchange)
        elif exchange.request in ("GET", "GET-list"):
            new = [ref for ref in exchange.refs if ref in wanted and ref not in fetched]
            continuing = bool(new)
            if new:
                fetched.update(new)
                kept.append(exchange)
        elif exchange.request in ("RR", "GET-next") and continuing:
            kept.append(exchange)
        else:
            continuing = False
    return kept


def floor_seconds(exchanges_: Sequence[Exchange], baudrate: int, turnaround: float) -> float:
    """Sum of line time plus turnaround over exchanges."""
    return sum(e.floor_seconds(baudrate, turnaround) for e in exchanges_)
