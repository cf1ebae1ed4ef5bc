"""Frame trace records for logs and diagnostics, with the LLS password masked."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import overload

from .axdr import Reader
from .errors import DlmsError
from .hdlc import FLAG, HdlcFrame, decode_frame

MASK = "**"


class Direction(StrEnum):
    """TX from us, RX from the peer."""

    TX = "TX"
    RX = "RX"


class TraceRecord:
    """One frame (or stretch of non-HDLC bytes), shown as spaced hex with secrets masked.

    The bytes are kept as they went over the wire and masked only when shown (``hex``,
    ``summary``, ``str``, ``shown``): a poll records every frame for the diagnostics, which are
    rarely read, so masking and describing each frame as it passed was a third of a poll's CPU.
    Nothing here shows the raw bytes or the secret (``repr`` included).
    """

    __slots__ = ("_data", "_note", "_secret", "direction", "monotonic")

    def __init__(
        self,
        direction: Direction,
        monotonic: float,
        data: bytes,
        *,
        note: str = "",
        secret: bytes | None = None,
    ) -> None:
        """``note`` replaces the frame's own summary (``not HDLC`` for noise)."""
        self.direction = direction
        self.monotonic = monotonic
        self._data = data
        self._note = note
        self._secret = secret

    @property
    def hex(self) -> str:
        """The bytes as spaced upper-case hex, the password masked."""
        return mask_frame(self._data, self._secret)[0]

    @property
    def summary(self) -> str:
        """One line on the frame (its HDLC control and length), or the note given."""
        return self._note or mask_frame(self._data, self._secret)[1]

    def shown(self) -> dict[str, str | float]:
        """The record as diagnostics show it."""
        hex_text, summary = mask_frame(self._data, self._secret)
        return {
            "direction": str(self.direction),
            "monotonic": self.monotonic,
            "hex": hex_text,
            "summary": self._note or summary,
        }

    def __str__(self) -> str:
        """``TX 12.345678 7E A0 ... (SNRM ...)``."""
        hex_text, summary = mask_frame(self._data, self._secret)
        summary = self._note or summary
        tail = f"  ({summary})" if summary else ""
        return f"{self.direction} {self.monotonic:.6f} {hex_text}{tail}"

    def __repr__(self) -> str:
        """Direction, time and size only: the raw bytes may hold the password."""
        return f"TraceRecord({self.direction}, {self.monotonic:.6f}, {len(self._data)} bytes)"


type TraceHook = Callable[[TraceRecord], None]


class SessionTrace(Sequence[TraceRecord]):
    """The records of one session, kept in a few flat buffers and rebuilt when read.

    A poll's trace is kept until the next poll for the diagnostics, and a learning poll's runs
    to hundreds of frames: as records, each was an object the garbage collector walks, 228 of
    a meter's ~1 550 objects alive after its setup (scripts/bench: objects_alive_per_meter).
    The buffers hold bytes and numbers only, which the collector does not track. ``append``
    is a client's trace hook.
    """

    __slots__ = ("_data", "_ends", "_notes", "_secret_of", "_secrets", "_times", "_tx")

    def __init__(self) -> None:
        """An empty trace."""
        self._tx = bytearray()  # 1: sent by us
        self._times = array("d")
        self._data = bytearray()  # every record's bytes, one after the other
        self._ends = array("Q")  # where each record's bytes end in _data
        self._secret_of = bytearray()  # per record: its index in _secrets
        self._secrets: tuple[bytes | None, ...] = ()  # distinct secrets (one per session)
        self._notes: tuple[tuple[int, str], ...] = ()  # (record index, note), noise only

    def append(self, record: TraceRecord) -> None:
        """Keep one record (a client's trace hook)."""
        index = len(self._times)
        self._tx.append(record.direction is Direction.TX)
        self._times.append(record.monotonic)
        self._data += record._data
        self._ends.append(len(self._data))
        secret = record._secret
        if secret not in self._secrets:
            self._secrets = (*self._secrets, secret)
        self._secret_of.append(self._secrets.index(secret))
        if record._note:
            self._notes = (*self._notes, (index, record._note))

    def clear(self) -> None:
        """Forget every record (a new session)."""
        for buffer in (self._tx, self._times, self._data, self._ends, self._secret_of):
            del buffer[:]
        self._secrets = ()
        self._notes = ()

    def copy(self) -> SessionTrace:
        """The records so far, in a trace of their own."""
        kept = SessionTrace()
        kept._tx[:] = self._tx
        kept._times[:] = self._times
        kept._data[:] = self._data
        kept._ends[:] = self._ends
        kept._secret_of[:] = self._secret_of
        kept._secrets = self._secrets
        kept._notes = self._notes
        return kept

    def __len__(self) -> int:
        """How many records."""
        return len(self._times)

    @overload
    def __getitem__(self, index: int) -> TraceRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[TraceRecord]: ...

    def __getitem__(self, index: int | slice) -> TraceRecord | list[TraceRecord]:
        """The record at ``index`` (rebuilt), or a list of them for a slice."""
        if isinstance(index, slice):
            return [self._record(i) for i in range(len(self))[index]]
        return self._record(range(len(self))[index])

    def _record(self, index: int) -> TraceRecord:
        start = self._ends[index - 1] if index else 0
        return TraceRecord(
            Direction.TX if self._tx[index] else Direction.RX,
            self._times[index],
            bytes(self._data[start : self._ends[index]]),
            note=next((note for at, note in self._notes if at == index), ""),
            secret=self._secrets[self._secret_of[index]],
        )

    def __repr__(self) -> str:
        """Its size only: the bytes may hold the password."""
        return f"SessionTrace({len(self)} records, {len(self._data)} bytes)"


def _hex(data: bytes, masked: set[int]) -> str:
    return " ".join(MASK if i in masked else f"{b:02X}" for i, b in enumerate(data))


def aarq_password_span(information: bytes) -> tuple[int, int] | None:
    """Offsets (start, end) of the calling-authentication-value bytes in an AARQ info field.

    ``information`` is an I-frame information field starting with the LLC header.
    """
    if information[:4] != b"\xe6\xe6\x00\x60":
        return None
    try:
        reader = Reader(information, 4)
        end = reader.length() + reader.pos
        while reader.pos < min(end, len(information)):
            tag = reader.byte()
            length = reader.length()
            if tag == 0xAC:
                inner = Reader(information, reader.pos)
                inner.byte()
                pw_len = inner.length()
                return inner.pos, min(inner.pos + pw_len, len(information))
            reader.take(length)
    except DlmsError:
        return None
    return None


def mask_frame(data: bytes, secret: bytes | None = None) -> tuple[str, str]:
    """Hex of one raw frame with the AARQ password masked, plus a one-line summary.

    With ``secret`` (what the session sent: its settings' password) every piece of it is
    masked wherever it lies (and a part of it cut by a segment boundary), so a password never
    leaks whatever the frame layout; without it (a capture read back) the AARQ is parsed to
    find the password.
    """
    masked: set[int] = set()
    summary = ""
    frame: HdlcFrame | None = None
    try:
        frame = decode_frame(data)
        summary = frame.describe()
    except DlmsError:
        summary = "not an HDLC frame" if FLAG not in data[:1] else "bad frame"
    if secret:
        masked.update(_secret_positions(data, secret))
        if frame is not None and frame.information:
            masked.update(_cut_secret_positions(data, frame, secret))
    elif frame is not None and frame.information:
        info_start = len(data) - 3 - len(frame.information)
        span = aarq_password_span(frame.information)
        if span is not None:
            masked.update(range(info_start + span[0], info_start + span[1]))
    return _hex(data, masked), summary


MIN_MASKED_RUN = 3


def _secret_positions(data: bytes, secret: bytes) -> set[int]:
    """Every run of 3+ bytes (the whole secret if shorter) that is a piece of the secret.

    Content-based, so it also covers echoed or noisy copies of an AARQ cut at any byte;
    masking a few bytes that only look alike is harmless in a trace.
    """
    positions: set[int] = set()
    run = min(MIN_MASKED_RUN, len(secret))
    i = 0
    while i <= len(data) - run:
        if data[i : i + run] in secret:
            end = i + run
            while end < len(data) and data[i : end + 1] in secret:
                end += 1
            positions.update(range(i, end))
            i = end - run + 1  # overlapping pieces are found too
        else:
            i += 1
    return positions


def _cut_secret_positions(data: bytes, frame: HdlcFrame, secret: bytes) -> set[int]:
    """A segment boundary may cut the password: mask an info tail that starts it and an
    info head that ends it (over-masking a byte that only looks alike is harmless)."""
    info = frame.information
    info_start = len(data) - 3 - len(info)
    positions: set[int] = set()
    if info in secret:  # a segment lying wholly inside the password
        return set(range(info_start, info_start + len(info)))
    for size in range(min(len(secret) - 1, len(info)), 0, -1):
        if frame.segmented and info.endswith(secret[:size]):
            positions.update(range(info_start + len(info) - size, info_start + len(info)))
            break
    for size in range(min(len(secret) - 1, len(info)), 0, -1):
        if info.startswith(secret[-size:]):
            positions.update(range(info_start, info_start + size))
            break
    return positions
