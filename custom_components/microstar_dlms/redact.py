"""Keep the meter password out of everything the integration shows: session frames included."""

from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
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


def redact_frames(records: Iterable[Any], password: str | None) -> list[dict[str, Any]]:
    """Session trace records as JSON-friendly dicts, with the password redacted again.

    The core already redacts AARQ frames; this second pass makes sure no code path shows it.
    """
    frames: list[dict[str, Any]] = []
    for record in records:
        if is_dataclass(record) and not isinstance(record, type):
            fields = asdict(record)
        elif isinstance(record, dict):
            fields = dict(record)
        else:
            fields = {"record": str(record)}
        frames.append({key: _redact_value(value, password) for key, value in fields.items()})
    return frames


def _redact_value(value: Any, password: str | None) -> Any:
    """One field of a record, bytes as hex, text redacted."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).hex(" ")
    if isinstance(value, str):
        return redact_text(value, password)
    if hasattr(value, "value") and hasattr(value, "name"):  # enum members
        return str(value.name).lower()
    return value
