"""Keep what identifies a home out of everything the integration shows: the meter password is
redacted, and the meter's serial number replaced by a stand-in, session frames included.

The stand-in is derived from the serial (the same for every download of one meter, so reports
agree) and has its shape, so the frames that carried the serial still decode, with their FCS
made right again: a report replays as a meter (``scripts/simulator --replay``) that answers the
stand-in as its serial.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum, Flag
import hashlib
from typing import Any

from .dlms.crc import crc_bytes
from .dlms.errors import DlmsError
from .dlms.hdlc import FLAG, decode_frame

REDACTED = "**REDACTED**"
# A serial shorter than this is replaced where it is a field of its own (the entry's unique id,
# the meter's serial), not inside text and frames: so short a run of characters could be part
# of anything. The family's serial numbers have 8 digits.
MIN_SUBSTITUTED_SERIAL = 6


def redact_text(text: str, password: str | None) -> str:
    """Replace the password, as text or as hex in any spacing or case, in ``text``."""
    if not password:
        return text
    return _replace_forms(text, password, REDACTED)


def _ascii(text: str) -> bytes:
    return text.encode("ascii", errors="replace")


def _text_forms(text: str) -> tuple[str, ...]:
    """A text and its bytes as hex in the spellings a trace or a log uses."""
    raw = _ascii(text)
    return (text, raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper())


def _replace_forms(text: str, secret: str, replacement: str) -> str:
    """Replace each form of ``secret`` by the same form of ``replacement`` (REDACTED: by it)."""
    forms = _text_forms(replacement) if replacement != REDACTED else (REDACTED,) * 5
    for pattern, stand_in in zip(_text_forms(secret), forms, strict=True):
        text = text.replace(pattern, stand_in)
    return text


def stand_in_serial(serial: str) -> str:
    """The serial's stand-in: the same length, each digit and letter replaced by one derived
    from a hash of the serial, other characters kept."""
    digest = hashlib.shake_256(f"microstar_dlms serial {serial}".encode()).digest(len(serial))
    chars = [_stand_in_char(char, byte) for char, byte in zip(serial, digest, strict=True)]
    stand_in = "".join(chars)
    if stand_in == serial:  # by chance, or a serial without digits and letters
        stand_in = "".join(str((int(char) + 1) % 10) if char.isdigit() else "0" for char in serial)
    return stand_in


def _stand_in_char(char: str, byte: int) -> str:
    if char.isdigit():
        return str(byte % 10)
    if char.isascii() and char.isalpha():
        base = "A" if char.isupper() else "a"
        return chr(ord(base) + byte % 26)
    return char


def plain(value: Any) -> Any:
    """A value as diagnostics show it: dataclasses as dicts, flags as their member names,
    other enums by name (text enums as their text), bytes as spaced hex."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, Flag):
        return sorted(member.name or str(member.value) for member in type(value) if member in value)
    if isinstance(value, Enum) and not isinstance(value, str):
        return value.name.lower()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex(" ")
    return value


@dataclass(frozen=True, slots=True)
class Redaction:
    """What diagnostics keep out: the password (redacted) and the serial (its stand-in)."""

    password: str | None
    serial: str | None

    @property
    def stand_in(self) -> str | None:
        """What the serial is shown as."""
        return None if not self.serial else stand_in_serial(self.serial)

    def serial_shown(self, serial: str | None) -> str | None:
        """A field holding the serial, shown as the stand-in."""
        return self.stand_in if serial and serial == self.serial else serial

    def text(self, text: str) -> str:
        """``text`` with the password redacted and the serial replaced, as text or hex."""
        text = redact_text(text, self.password)
        if (substituted := self._substituted()) is not None:
            serial, stand_in = substituted
            text = _replace_forms(text, serial, stand_in)
        return text

    def value(self, value: Any) -> Any:
        """A JSON-friendly value with every text in it through ``text``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def frames(self, records: Iterable[Any]) -> list[dict[str, Any]]:
        """Session trace records as JSON-friendly dicts: the password redacted again (the core
        masks it already; this second pass makes sure no code path shows it), the serial's
        bytes replaced by the stand-in's wherever they lie (across segments too), each frame
        changed given its FCS again."""
        shown = [_shown(record) for record in records]
        if (substituted := self._substituted()) is not None:
            serial, stand_in = substituted
            _replace_in_frames(shown, _ascii(serial), _ascii(stand_in))
        return [{key: self._field(item) for key, item in frame.items()} for frame in shown]

    def _substituted(self) -> tuple[str, str] | None:
        """(serial, stand-in) where text and frames are searched for the serial."""
        stand_in = self.stand_in
        if self.serial is None or stand_in is None or len(self.serial) < MIN_SUBSTITUTED_SERIAL:
            return None
        return self.serial, stand_in

    def _field(self, value: Any) -> Any:
        value = plain(value)
        return self.text(value) if isinstance(value, str) else value


def redact_frames(records: Iterable[Any], password: str | None) -> list[dict[str, Any]]:
    """Session trace records as JSON-friendly dicts, with the password redacted again."""
    return Redaction(password, None).frames(records)


def _shown(record: Any) -> dict[str, Any]:
    """One trace record as diagnostics show it (its own ``shown()``, else its fields)."""
    shown = record.shown() if hasattr(record, "shown") else plain(record)
    return dict(shown) if isinstance(shown, dict) else {"record": str(record)}


@dataclass(slots=True)
class _Frame:
    """A shown frame's bytes, editable; where its information field starts (None: the whole
    frame is searched, it did not decode)."""

    shown: dict[str, Any]
    data: bytearray
    info_start: int | None
    changed: bool = False


def _replace_in_frames(shown: list[dict[str, Any]], serial: bytes, stand_in: bytes) -> None:
    """Replace ``serial`` by ``stand_in`` in the frames' bytes, across the segments of one
    direction, and give each frame changed its FCS again (its header, and so its HCS, is
    untouched). Frames with masked bytes (the AARQ) are left as they are."""
    frames = [frame for item in shown if (frame := _frame(item)) is not None]
    streams: dict[str, list[tuple[_Frame, int]]] = {}
    for frame in frames:
        if frame.info_start is None:
            _replace_positions([(frame, i) for i in range(len(frame.data))], serial, stand_in)
        else:
            stream = streams.setdefault(str(frame.shown.get("direction")), [])
            stream.extend((frame, i) for i in range(frame.info_start, len(frame.data) - 3))
    for stream in streams.values():
        _replace_positions(stream, serial, stand_in)
    for frame in frames:
        if frame.changed:
            if frame.info_start is not None:
                frame.data[-3:-1] = crc_bytes(frame.data[1:-3])
            frame.shown["hex"] = frame.data.hex(" ").upper()


def _frame(shown: dict[str, Any]) -> _Frame | None:
    """The bytes of a shown frame; None when some are masked or its hex does not parse."""
    try:
        data = bytearray(bytes.fromhex(str(shown.get("hex", ""))))
    except ValueError:
        return None
    try:
        frame = decode_frame(bytes(data))
    except DlmsError:
        return _Frame(shown, data, None)
    if not frame.information or data[:1] != bytes([FLAG]):
        return _Frame(shown, data, None)
    return _Frame(shown, data, len(data) - 3 - len(frame.information))


def _replace_positions(positions: list[tuple[_Frame, int]], serial: bytes, stand_in: bytes) -> None:
    """Each run of ``serial`` in the bytes at ``positions`` (in order) becomes ``stand_in``."""
    stream = bytes(frame.data[i] for frame, i in positions)
    start = stream.find(serial)
    while start >= 0:
        for offset, byte in enumerate(stand_in):
            frame, i = positions[start + offset]
            frame.data[i] = byte
            frame.changed = True
        start = stream.find(serial, start + len(serial))
