"""HDLC frames of IEC 62056-46: addresses, frame format type 3, SNRM/UA parameters, a deframer."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from .crc import crc16_x25, crc_bytes
from .errors import FrameError

FLAG = 0x7E
FORMAT_TYPE_3 = 0xA000
SEGMENTATION_BIT = 0x0800
MAX_FRAME_LENGTH = 0x07FF  # 11-bit length field
MIN_FRAME_LENGTH = 7  # format(2) + address(1) + address(1) + control(1) + FCS(2)

AddressSize = Literal[1, 2, 4]


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """An HDLC address: upper (logical) part and optional lower (physical) part.

    Size 1 carries only the 7-bit logical part (this is also the form of every client address);
    size 2 carries 7 + 7 bits; size 4 carries 14 + 14 bits (IEC 62056-46 6.4.2).
    """

    logical: int
    physical: int | None = None
    size: AddressSize = 1

    def __post_init__(self) -> None:
        """Reject addresses that cannot be encoded in the chosen size."""
        if self.size not in (1, 2, 4):
            raise FrameError(f"HDLC address size must be 1, 2 or 4 bytes, not {self.size}")
        limit = 0x7F if self.size in (1, 2) else 0x3FFF
        if not 0 <= self.logical <= limit:
            raise FrameError(
                f"logical address {self.logical} does not fit a {self.size}-byte address"
            )
        if self.size == 1:
            if self.physical is not None:
                raise FrameError("a 1-byte HDLC address has no physical part; use size 2 or 4")
        elif self.physical is None or not 0 <= self.physical <= limit:
            hint = " (above 127 needs the 4-byte form)" if self.size == 2 else ""
            raise FrameError(
                f"physical address {self.physical} does not fit a {self.size}-byte address{hint}"
            )

    def encode(self) -> bytes:
        """Return the address bytes: 7 bits per byte, end bit (LSB) set on the last byte."""
        if self.size == 1:
            return bytes([(self.logical << 1) | 1])
        physical = self.physical or 0
        if self.size == 2:
            return bytes([self.logical << 1, (physical << 1) | 1])
        return bytes(
            [
                (self.logical >> 7) << 1,
                (self.logical & 0x7F) << 1,
                (physical >> 7) << 1,
                ((physical & 0x7F) << 1) | 1,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> ServerAddress:
        """Decode 1, 2 or 4 address bytes (end bit only on the last one)."""
        if len(data) not in (1, 2, 4):
            raise FrameError(f"HDLC address of {len(data)} bytes (only 1, 2 or 4 are valid)")
        if any(b & 1 for b in data[:-1]) or not data[-1] & 1:
            raise FrameError(f"HDLC address {data.hex(' ')} has a misplaced end bit")
        parts = [b >> 1 for b in data]
        if len(data) == 1:
            return cls(parts[0])
        if len(data) == 2:
            return cls(parts[0], parts[1], 2)
        return cls((parts[0] << 7) | parts[1], (parts[2] << 7) | parts[3], 4)

    def same_station(self, other: ServerAddress) -> bool:
        """Whether ``other`` names the same station, in whichever size it is encoded.

        A meter addressed in the 2-byte form may answer from the 4-byte form (the vendor's UA
        comes from ``00 02 00 23``); Gurux compares the logical and physical parts too.
        """
        return self.logical == other.logical and self.physical == other.physical

    def __str__(self) -> str:
        """Show the address as a field engineer writes it."""
        if self.physical is None:
            return f"logical {self.logical} (1 byte)"
        return f"logical {self.logical}, physical {self.physical} ({self.size} bytes)"


def client_address(sap: int) -> ServerAddress:
    """Return the 1-byte HDLC address of a client SAP (e.g. 1, 16 public, 32 LLS)."""
    return ServerAddress(sap)


class FrameKind(Enum):
    """What a control field says the frame is."""

    I = "I"  # noqa: E741 - the standard's name for an information frame
    RR = "RR"
    RNR = "RNR"
    SNRM = "SNRM"
    DISC = "DISC"
    UA = "UA"
    DM = "DM"
    FRMR = "FRMR"
    UI = "UI"


_UNNUMBERED = {
    0x83: FrameKind.SNRM,
    0x43: FrameKind.DISC,
    0x63: FrameKind.UA,
    0x0F: FrameKind.DM,
    0x87: FrameKind.FRMR,
    0x03: FrameKind.UI,
}
_UNNUMBERED_CODES = {kind: code for code, kind in _UNNUMBERED.items()}
POLL_FINAL = 0x10


def control_kind(control: int) -> FrameKind:
    """Classify a control byte; raise FrameError for codes HDLC does not define here."""
    if not control & 1:
        return FrameKind.I
    if control & 0x0F == 0x01:
        return FrameKind.RR
    if control & 0x0F == 0x05:
        return FrameKind.RNR
    kind = _UNNUMBERED.get(control & ~POLL_FINAL & 0xFF)
    if kind is None:
        raise FrameError(f"unknown HDLC control field 0x{control:02X}")
    return kind


def i_control(send_seq: int, recv_seq: int, poll: bool = True) -> int:
    """Control byte of an I-frame: N(R) << 5 | P/F << 4 | N(S) << 1."""
    return ((recv_seq & 7) << 5) | (POLL_FINAL if poll else 0) | ((send_seq & 7) << 1)


def rr_control(recv_seq: int, poll: bool = True) -> int:
    """Control byte of a receive-ready frame."""
    return ((recv_seq & 7) << 5) | (POLL_FINAL if poll else 0) | 0x01


def rnr_control(recv_seq: int, poll: bool = True) -> int:
    """Control byte of a receive-not-ready frame."""
    return ((recv_seq & 7) << 5) | (POLL_FINAL if poll else 0) | 0x05


def unnumbered_control(kind: FrameKind, poll: bool = True) -> int:
    """Control byte of SNRM, DISC, UA, DM, FRMR or UI."""
    return _UNNUMBERED_CODES[kind] | (POLL_FINAL if poll else 0)


@dataclass(frozen=True, slots=True)
class HdlcFrame:
    """One HDLC frame of format type 3 (flags and CRCs are added by ``encode``)."""

    destination: ServerAddress
    source: ServerAddress
    control: int
    information: bytes = b""
    segmented: bool = False

    @property
    def kind(self) -> FrameKind:
        """The frame type the control field encodes."""
        return control_kind(self.control)

    @property
    def poll_final(self) -> bool:
        """The P/F bit."""
        return bool(self.control & POLL_FINAL)

    @property
    def send_seq(self) -> int:
        """N(S) of an I-frame."""
        return (self.control >> 1) & 7

    @property
    def recv_seq(self) -> int:
        """N(R) of an I, RR or RNR frame."""
        return (self.control >> 5) & 7

    def encode(self) -> bytes:
        """Return the frame with flags, length, HCS (when there is information) and FCS."""
        addresses = self.destination.encode() + self.source.encode()
        header_len = 2 + len(addresses) + 1
        length = header_len + 2 + (len(self.information) + 2 if self.information else 0)
        if length > MAX_FRAME_LENGTH:
            raise FrameError(f"HDLC frame of {length} bytes exceeds the 11-bit length field")
        fmt = FORMAT_TYPE_3 | (SEGMENTATION_BIT if self.segmented else 0) | length
        header = fmt.to_bytes(2, "big") + addresses + bytes([self.control & 0xFF])
        body = header + crc_bytes(header) + self.information if self.information else header
        return bytes([FLAG]) + body + crc_bytes(body) + bytes([FLAG])

    def describe(self) -> str:
        """One line for logs: kind, sequence numbers, addresses, sizes."""
        kind = self.kind
        parts = [kind.value]
        if kind is FrameKind.I:
            parts.append(f"N(S)={self.send_seq} N(R)={self.recv_seq}")
        elif kind in (FrameKind.RR, FrameKind.RNR):
            parts.append(f"N(R)={self.recv_seq}")
        parts.append("P/F=1" if self.poll_final else "P/F=0")
        if self.segmented:
            parts.append("segmented")
        parts.append(f"to [{self.destination}] from [{self.source}]")
        if self.information:
            parts.append(f"info {len(self.information)} bytes")
        return " ".join(parts)


def _split_address(data: bytes, start: int, end: int) -> tuple[ServerAddress, int]:
    """Read one address starting at ``start`` (up to 4 bytes, ends at the end bit)."""
    pos = start
    while pos < end and pos - start < 4:
        if data[pos] & 1:
            return ServerAddress.decode(data[start : pos + 1]), pos + 1
        pos += 1
    raise FrameError("HDLC address has no end bit within 4 bytes")


def parse_header(body: bytes) -> tuple[int, bool, ServerAddress, ServerAddress, int, int]:
    """Parse format, addresses and control of a frame body (no flags).

    Returns (length, segmented, destination, source, control, header_length).
    """
    if len(body) < 2:
        raise FrameError("HDLC frame too short for a format field")
    fmt = int.from_bytes(body[:2], "big")
    if fmt & 0xF000 != FORMAT_TYPE_3:
        raise FrameError(f"HDLC format field 0x{fmt:04X} is not frame format type 3")
    length = fmt & MAX_FRAME_LENGTH
    if length < MIN_FRAME_LENGTH:
        raise FrameError(f"HDLC length field {length} is below the minimum of 7")
    limit = min(len(body), length)
    destination, pos = _split_address(body, 2, limit)
    source, pos = _split_address(body, pos, limit)
    if pos >= limit:
        raise FrameError("HDLC frame ends before its control field")
    return length, bool(fmt & SEGMENTATION_BIT), destination, source, body[pos], pos + 1


def decode_body(body: bytes) -> HdlcFrame:
    """Decode a frame without its flags: checks length, addresses, control, HCS and FCS."""
    length, segmented, destination, source, control, header_len = parse_header(body)
    if len(body) != length:
        raise FrameError(f"HDLC length field says {length} bytes but the frame has {len(body)}")
    control_kind(control)
    if crc16_x25(body[:-2]) != int.from_bytes(body[-2:], "little"):
        raise FrameError("HDLC FCS mismatch")  # no frame bytes: they may hold a password
    if length == header_len + 2:
        return HdlcFrame(destination, source, control, b"", segmented)
    if length < header_len + 4:
        raise FrameError(f"HDLC length {length} leaves no room for HCS and FCS")
    if crc16_x25(body[:header_len]) != int.from_bytes(body[header_len : header_len + 2], "little"):
        raise FrameError("HDLC HCS mismatch")
    information = bytes(body[header_len + 2 : -2])
    return HdlcFrame(destination, source, control, information, segmented)


def decode_frame(data: bytes) -> HdlcFrame:
    """Decode exactly one frame with its opening and closing flags."""
    if len(data) < 2 or data[0] != FLAG or data[-1] != FLAG:
        raise FrameError("an HDLC frame must start and end with the 0x7E flag")
    return decode_body(data[1:-1])


# -- SNRM / UA parameter negotiation (IEC 62056-46 6.4.4.4.3.2) -----------------------------

_FORMAT_ID = 0x81
_GROUP_ID = 0x80
_MAX_INFO_TX = 0x05
_MAX_INFO_RX = 0x06
_WINDOW_TX = 0x07
_WINDOW_RX = 0x08
DEFAULT_MAX_INFO = 128
DEFAULT_WINDOW = 1


@dataclass(frozen=True, slots=True)
class HdlcParameters:
    """HDLC link parameters as seen by the sender of the SNRM or UA that carries them."""

    max_info_tx: int = DEFAULT_MAX_INFO
    max_info_rx: int = DEFAULT_MAX_INFO
    window_tx: int = DEFAULT_WINDOW
    window_rx: int = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        """Keep values in the ranges the standard allows."""
        for name in ("max_info_tx", "max_info_rx"):
            value = getattr(self, name)
            if not 1 <= value <= 2030:
                raise FrameError(f"{name}={value} is outside 1..2030")
        for name in ("window_tx", "window_rx"):
            value = getattr(self, name)
            if not 1 <= value <= 7:
                raise FrameError(f"{name}={value} is outside 1..7")

    def encode(self, *, omit_defaults: bool = False) -> bytes:
        """Return the information field: format id, group id, group length, parameters.

        Max-info values take 1 byte below 256 else 2; windows take 4 bytes (as the meter's UA).
        With ``omit_defaults`` parameters equal to the default are left out (absent means
        default, IEC 62056-46 6.4.4.4.3.2) and an all-default group is the empty field.
        """
        params = b""
        for pid, value in (
            (_MAX_INFO_TX, self.max_info_tx),
            (_MAX_INFO_RX, self.max_info_rx),
        ):
            if omit_defaults and value == DEFAULT_MAX_INFO:
                continue
            width = 1 if value < 0x100 else 2
            params += bytes([pid, width]) + value.to_bytes(width, "big")
        for pid, value in ((_WINDOW_TX, self.window_tx), (_WINDOW_RX, self.window_rx)):
            if omit_defaults and value == DEFAULT_WINDOW:
                continue
            params += bytes([pid, 4]) + value.to_bytes(4, "big")
        if omit_defaults and not params:
            return b""
        return bytes([_FORMAT_ID, _GROUP_ID, len(params)]) + params

    @classmethod
    def decode(cls, information: bytes) -> HdlcParameters:
        """Parse a parameter group strictly; an empty field means the defaults."""
        if not information:
            return cls()
        if len(information) < 3 or information[0] != _FORMAT_ID or information[1] != _GROUP_ID:
            raise FrameError(
                f"HDLC parameter field {information.hex(' ')} lacks format id 81 / group id 80"
            )
        declared = information[2]
        actual = len(information) - 3
        if declared != actual:
            raise FrameError(
                f"HDLC parameter group length byte says {declared} (0x{declared:02X}) but "
                f"{actual} bytes follow: malformed parameter group"
            )
        values: dict[int, int] = {}
        pos = 3
        while pos < len(information):
            if pos + 2 > len(information):
                raise FrameError("HDLC parameter group ends inside a parameter header")
            pid, plen = information[pos], information[pos + 1]
            value_bytes = information[pos + 2 : pos + 2 + plen]
            if plen == 0 or plen > 4 or len(value_bytes) != plen:
                raise FrameError(f"HDLC parameter 0x{pid:02X} has a bad length {plen}")
            if pid in values:
                raise FrameError(f"HDLC parameter 0x{pid:02X} appears twice")
            values[pid] = int.from_bytes(value_bytes, "big")
            pos += 2 + plen
        try:
            return cls(
                max_info_tx=values.get(_MAX_INFO_TX, DEFAULT_MAX_INFO),
                max_info_rx=values.get(_MAX_INFO_RX, DEFAULT_MAX_INFO),
                window_tx=values.get(_WINDOW_TX, DEFAULT_WINDOW),
                window_rx=values.get(_WINDOW_RX, DEFAULT_WINDOW),
            )
        except FrameError as err:
            raise FrameError(f"HDLC parameter out of range: {err}") from None

    @classmethod
    def decode_lenient(cls, information: bytes) -> HdlcParameters:
        """Parse a UA's parameter group as a client: use what parses, clamp what is too big.

        A meter whose group length byte disagrees, or that offers more than the standard allows,
        still opened a link; refusing its UA would leave no session at all. The server side
        (the simulator) stays strict with ``decode``.
        """
        try:
            return cls.decode(information)
        except FrameError:
            if information[:2] != bytes([_FORMAT_ID, _GROUP_ID]):
                return cls()
        values: dict[int, int] = {}
        pos = 3
        while pos + 2 <= len(information):
            pid, plen = information[pos], information[pos + 1]
            value_bytes = information[pos + 2 : pos + 2 + plen]
            if plen == 0 or plen > 4 or len(value_bytes) != plen:
                break
            values.setdefault(pid, int.from_bytes(value_bytes, "big"))
            pos += 2 + plen

        def clamp(pid: int, default: int, high: int) -> int:
            return min(max(values.get(pid, default), 1), high)

        return cls(
            max_info_tx=clamp(_MAX_INFO_TX, DEFAULT_MAX_INFO, 2030),
            max_info_rx=clamp(_MAX_INFO_RX, DEFAULT_MAX_INFO, 2030),
            window_tx=clamp(_WINDOW_TX, DEFAULT_WINDOW, 7),
            window_rx=clamp(_WINDOW_RX, DEFAULT_WINDOW, 7),
        )


# -- Frame builders ---------------------------------------------------------------------------


def snrm_frame(
    server: ServerAddress, client_sap: int, parameters: HdlcParameters | None = None
) -> HdlcFrame:
    """SNRM from a client; only non-default parameters are sent, so defaults (or None) give
    the field's form without a parameter group."""
    info = parameters.encode(omit_defaults=True) if parameters is not None else b""
    return HdlcFrame(server, client_address(client_sap), unnumbered_control(FrameKind.SNRM), info)


def disc_frame(server: ServerAddress, client_sap: int) -> HdlcFrame:
    """DISC from a client."""
    return HdlcFrame(server, client_address(client_sap), unnumbered_control(FrameKind.DISC))


def ua_frame(
    client_sap: int, server: ServerAddress, parameters: HdlcParameters | None = None
) -> HdlcFrame:
    """UA from a server, with the negotiated parameters (answer to SNRM) or without (to DISC)."""
    info = parameters.encode() if parameters is not None else b""
    return HdlcFrame(client_address(client_sap), server, unnumbered_control(FrameKind.UA), info)


def dm_frame(client_sap: int, server: ServerAddress) -> HdlcFrame:
    """DM from a server (disconnected mode)."""
    return HdlcFrame(client_address(client_sap), server, unnumbered_control(FrameKind.DM))


# -- Stream deframer -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Noise:
    """Bytes skipped while looking for a frame (stale input, line noise, gateway text)."""

    data: bytes


@dataclass(slots=True)
class Deframer:
    """Turn a byte stream into frames using the length field, never by splitting on flags.

    ``feed`` bytes, then call ``next_event`` until it returns None. It returns an HdlcFrame or
    Noise, or raises FrameError for a bad frame after dropping its opening flag, so the next
    call resynchronises. Work per call is bounded by the bytes buffered.
    """

    max_length: int = MAX_FRAME_LENGTH
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes waiting for more input."""
        return len(self._buffer)

    def peek(self) -> bytes:
        """A copy of the buffered bytes (for diagnostics such as ``scripts/meter decode``)."""
        return bytes(self._buffer)

    def clear(self) -> bytes:
        """Drop and return everything buffered."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _drop(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def next_event(self) -> HdlcFrame | Noise | None:
        """Return the next frame or noise, None when more bytes are needed."""
        buf = self._buffer
        start = buf.find(FLAG)
        if start < 0:
            return Noise(self._drop(len(buf))) if buf else None
        if start > 0:
            return Noise(self._drop(start))
        # buf[0] is a flag. Consecutive flags are inter-frame fill (or a shared closing flag).
        while len(buf) >= 2 and buf[1] == FLAG:
            del buf[0]
        if len(buf) < 3:
            return None
        if buf[1] & 0xF0 != 0xA0:
            # Not the start of a type-3 frame: the flag was a stray byte or a closing flag.
            return Noise(self._drop(1))
        length = ((buf[1] << 8) | buf[2]) & MAX_FRAME_LENGTH
        if length < MIN_FRAME_LENGTH or length > self.max_length:
            self._drop(1)
            raise FrameError(f"HDLC length field {length} is out of range")
        try:
            self._check_header_early(length)
        except FrameError:
            self._drop(1)
            raise
        if len(buf) < length + 2:
            return None
        if buf[length + 1] != FLAG:
            self._drop(1)
            raise FrameError(
                f"HDLC length field says {length} bytes but no closing flag follows them"
            )
        body = bytes(buf[1 : length + 1])
        try:
            frame = decode_body(body)
        except FrameError:
            self._drop(1)
            raise
        # Keep the closing flag: it may also open the next frame.
        del buf[: length + 1]
        return frame

    def _check_header_early(self, length: int) -> None:
        """Reject a frame by its HCS as soon as the header is in, without waiting for it all."""
        body = bytes(self._buffer[1 : length + 1])
        try:
            _, _, _, _, _, header_len = parse_header(body)
        except FrameError:
            if len(body) >= length or len(body) >= 2 + 4 + 4 + 1:
                raise
            return  # address may still be incomplete
        if length > header_len + 2 and len(body) >= header_len + 2:
            hcs = int.from_bytes(body[header_len : header_len + 2], "little")
            if crc16_x25(body[:header_len]) != hcs:
                raise FrameError("HDLC HCS mismatch")
