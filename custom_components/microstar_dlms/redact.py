"""Keep the meter password out of everything the integration shows: session frames included."""

from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from enum import Enum, Flag
from typing import Any

REDACTED = "**REDACTED**"


def redact_text(text: str, password: str | None) -> str:
    """Replace the password, as text or as hex in any spacing or case, in ``text``."""
    if not password:
        return text
    secret = password.encode("ascii", errors="replace")
    for pattern in {
        password,
        secret.hex(),
        secret.hex().upper(),
        secret.hex(" "),
        secret.hex(" ").upper(),
    }:
        text = text.replace(pattern, REDACTED)
    return text


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


def redact_frames(records: Iterable[Any], password: str | None) -> list[dict[str, Any]]:
    """Session trace records as JSON-friendly dicts, with the password redacted again.

    The core already redacts AARQ frames; this second pass makes sure no code path shows it.
    """
    frames: list[dict[str, Any]] = []
    for record in records:
        shown = record.shown() if hasattr(record, "shown") else plain(record)
        if not isinstance(shown, dict):
            shown = {"record": str(record)}
        frames.append({key: _redacted(item, password) for key, item in shown.items()})
    return frames


def _redacted(value: Any, password: str | None) -> Any:
    """One shown field, text redacted."""
    value = plain(value)
    return redact_text(value, password) if isinstance(value, str) else value
