"""Fault injection: the ways the field fails, as values a test or the command line can switch on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from custom_components.microstar_dlms.dlms.errors import DataAccessResult, DecodeError
from custom_components.microstar_dlms.dlms.obis import Obis


class ResponseKind(StrEnum):
    """Which meter answers a frame-level fault applies to."""

    ANY = "any"
    UA = "ua"
    DM = "dm"
    RR = "rr"
    AARE = "aare"
    GET = "get"
    RLRE = "rlre"
    OTHER = "other"


class RequestKind(StrEnum):
    """Which client requests an answer fault replaces the meter's answer to."""

    SNRM = "snrm"
    AARQ = "aarq"
    GET = "get"  # GET-Request-Normal
    GET_NEXT = "get-next"
    GET_LIST = "get-list"
    RLRQ = "rlrq"


@dataclass(frozen=True, slots=True)
class Silent:
    """The meter hangs: TCP works, it answers nothing until a power cycle (only that clears it)."""


@dataclass(frozen=True, slots=True)
class Busy:
    """Another client holds the gateway: every new TCP client gets ``text`` and is closed."""

    text: str = "Port already in use\r\n"


@dataclass(frozen=True, slots=True)
class DropMidResponse:
    """The gateway closes the TCP connection after ``after_bytes`` bytes of an answer."""

    after_bytes: int = 5
    on: ResponseKind = ResponseKind.GET
    count: int | None = 1


@dataclass(frozen=True, slots=True)
class CorruptFcs:
    """An answer goes out with a wrong FCS (a line error)."""

    on: ResponseKind = ResponseKind.GET
    count: int | None = 1


@dataclass(frozen=True, slots=True)
class NoiseBytes:
    """Line noise arrives just before an answer (default holds a false frame start)."""

    noise: bytes = b"\x00\x7e\xa0\x55\xff"
    on: ResponseKind = ResponseKind.ANY
    count: int | None = 1


@dataclass(frozen=True, slots=True)
class TruncateFrame:
    """Only the first ``keep`` bytes of an answer are sent; the rest is lost on the line."""

    keep: int = 6
    on: ResponseKind = ResponseKind.GET
    count: int | None = 1


@dataclass(frozen=True, slots=True)
class DelayResponse:
    """An answer comes ``seconds`` late (beyond the client's timeout); it still arrives."""

    seconds: float = 5.0
    on: ResponseKind = ResponseKind.GET
    count: int | None = 1


@dataclass(frozen=True, slots=True)
class RejectAssociation:
    """Every AARQ is answered with AARE rejected-permanent and this ACSE service-user diagnostic."""

    diagnostic: int = 1  # no-reason-given
    count: int | None = None


@dataclass(frozen=True, slots=True)
class StuckAssociation:
    """A previous client left link and association open: SNRM is ignored until DISC or timeout."""

    client_sap: int = 32


@dataclass(frozen=True, slots=True)
class DataAccessFailure:
    """GET of this object (one attribute, or all when None) answers a data-access error."""

    obis: str
    attribute: int | None = None
    result: DataAccessResult = DataAccessResult.HARDWARE_FAULT
    count: int | None = None

    def __post_init__(self) -> None:
        """The OBIS code must parse."""
        _check_obis(self.obis)


@dataclass(frozen=True, slots=True)
class EnergyGlitch:
    """One read of an energy register returns 0 (``zero``), a smaller value (``smaller``) or ten
    times the value (``larger``: garbage while the meter boots)."""

    obis: str = "1-1:1.8.0"
    mode: str = "zero"
    count: int | None = 1

    def __post_init__(self) -> None:
        """Zero and smaller are known from the field; larger guards the guard."""
        _check_obis(self.obis)
        if self.mode not in ("zero", "smaller", "larger"):
            raise ValueError(
                f"energy glitch mode must be 'zero', 'smaller' or 'larger', not {self.mode!r}"
            )


REFUSALS = ("exception", "service-error", "undecodable", "list")


@dataclass(frozen=True, slots=True)
class RefuseWithException:
    """GET of this object (one attribute, or all when None) is refused with an APDU that is no
    usable GET-Response: ``exception`` (ExceptionResponse ``D8 01 02``: service not allowed,
    service not supported), ``service-error`` (ConfirmedServiceError: read, access, object
    access violated), ``undecodable`` (``C4 09``: a GET-Response of no known kind) or ``list``
    (a GET-Response-With-List of no items)."""

    obis: str
    attribute: int | None = None
    answer: str = "exception"
    count: int | None = None

    def __post_init__(self) -> None:
        """The OBIS code must parse; the answer is one of the two refusals."""
        _check_obis(self.obis)
        if self.answer not in REFUSALS:
            raise ValueError(f"refusal answer must be one of {REFUSALS}, not {self.answer!r}")


@dataclass(frozen=True, slots=True)
class AnswerFromAddressSize:
    """The meter answers from its address encoded in ``size`` bytes, whatever form it was
    addressed in (a hand-set 2-byte address answered from the 4-byte form)."""

    size: int = 4

    def __post_init__(self) -> None:
        """Only the two forms with a physical part."""
        if self.size not in (2, 4):
            raise ValueError(f"answer address size must be 2 or 4, not {self.size}")


@dataclass(frozen=True, slots=True)
class ReceiveNotReady:
    """A GET is acknowledged with RNR (busy); the answer goes out when the client polls with RR,
    and a repeat of the request meanwhile is dropped."""

    count: int | None = 1


@dataclass(frozen=True, slots=True)
class ResponseLlc:
    """Answers carry this LLC header instead of ``E6 E7 00`` (``E6 E6 00``, or none at all)."""

    header: bytes = b"\xe6\xe6\x00"
    count: int | None = None


@dataclass(frozen=True, slots=True)
class IgnoreRelease:
    """RLRQ is never answered (no RLRE); the association ends with the link."""

    count: int | None = None


@dataclass(frozen=True, slots=True)
class IgnoreDisc:
    """DISC drops the link but is never answered (no UA, no DM)."""

    count: int | None = None


@dataclass(frozen=True, slots=True)
class ReceiveReadyFirst:
    """A GET is acknowledged with RR (nothing to send yet); the answer goes out when the client
    polls with RR, and a repeat of the request meanwhile is dropped."""

    count: int | None = None


@dataclass(frozen=True, slots=True)
class DatablocksFromZero:
    """GET answers in datablocks number the first block 0 instead of 1."""


@dataclass(frozen=True, slots=True)
class FixedInvokeId:
    """Every GET answer carries this invoke-id-and-priority byte instead of the request's."""

    invoke: int = 0xC1


@dataclass(frozen=True, slots=True)
class TrailingBytes:
    """Every GET answer carries these bytes after its APDU (padding)."""

    data: bytes = b"\x00\x00"


@dataclass(frozen=True, slots=True)
class OddAnswer:
    """A request of this kind is answered with this APDU instead of the meter's own (in an
    I-frame, in sequence); an empty APDU: it is not answered at all."""

    request: RequestKind
    apdu: bytes
    count: int | None = None


@dataclass(frozen=True, slots=True)
class OddFrame:
    """A request of this kind is answered with these bytes instead of the meter's frames (DM,
    FRMR, a UA of other parameters, a frame out of sequence, garbage); the meter itself goes
    on as if it had answered."""

    request: RequestKind
    frame: bytes
    count: int | None = None


def _check_obis(text: str) -> None:
    try:
        Obis.parse(text)
    except DecodeError as err:
        raise ValueError(str(err)) from None


type Fault = (
    Silent
    | Busy
    | DropMidResponse
    | CorruptFcs
    | NoiseBytes
    | TruncateFrame
    | DelayResponse
    | RejectAssociation
    | StuckAssociation
    | DataAccessFailure
    | EnergyGlitch
    | RefuseWithException
    | AnswerFromAddressSize
    | ReceiveNotReady
    | ResponseLlc
    | IgnoreRelease
    | IgnoreDisc
    | ReceiveReadyFirst
    | DatablocksFromZero
    | FixedInvokeId
    | TrailingBytes
    | OddAnswer
    | OddFrame
)

# Faults of the meter itself (each meter has its own book); the rest are the line's or the
# gateway's, or act on the meter at once (silent, stuck-association).
METER_FAULTS: tuple[type[Any], ...] = (
    RejectAssociation,
    DataAccessFailure,
    EnergyGlitch,
    RefuseWithException,
    AnswerFromAddressSize,
    ReceiveNotReady,
    ResponseLlc,
    IgnoreRelease,
    IgnoreDisc,
    ReceiveReadyFirst,
    DatablocksFromZero,
    FixedInvokeId,
    TrailingBytes,
    OddAnswer,
    OddFrame,
)

type FrameFault = DropMidResponse | CorruptFcs | NoiseBytes | TruncateFrame | DelayResponse

# Command-line / control-port names, with the field a bare first argument sets.
FAULT_NAMES: dict[str, tuple[type[Any], str | None]] = {
    "silent": (Silent, None),
    "busy": (Busy, "text"),
    "drop-mid-response": (DropMidResponse, "after_bytes"),
    "corrupt-fcs": (CorruptFcs, "on"),
    "noise": (NoiseBytes, "noise"),
    "truncate": (TruncateFrame, "keep"),
    "delay": (DelayResponse, "seconds"),
    "reject-association": (RejectAssociation, "diagnostic"),
    "stuck-association": (StuckAssociation, "client_sap"),
    "data-access-error": (DataAccessFailure, "obis"),
    "energy-glitch": (EnergyGlitch, "obis"),
    "refuse": (RefuseWithException, "obis"),
    "answer-address-size": (AnswerFromAddressSize, "size"),
    "rnr": (ReceiveNotReady, "count"),
    "llc": (ResponseLlc, "header"),
    "no-rlre": (IgnoreRelease, "count"),
    "no-ua-to-disc": (IgnoreDisc, "count"),
    "rr-first": (ReceiveReadyFirst, "count"),
    "blocks-from-zero": (DatablocksFromZero, None),
    "fixed-invoke-id": (FixedInvokeId, "invoke"),
    "padding": (TrailingBytes, "data"),
    "odd-answer": (OddAnswer, "request"),
    "odd-frame": (OddFrame, "request"),
}
_NAME_OF: dict[type[Any], str] = {cls: name for name, (cls, _) in FAULT_NAMES.items()}


def _count(text: str) -> int | None:
    if text in ("always", "forever", "none"):
        return None
    return int(text)


def _result(text: str) -> DataAccessResult:
    if text.isdigit():
        return DataAccessResult(int(text))
    return DataAccessResult[text.upper().replace("-", "_")]


def _text(text: str) -> str:
    return text.replace("\\r", "\r").replace("\\n", "\n")


_CONVERTERS: dict[str, Callable[[str], object]] = {
    "text": _text,
    "after_bytes": int,
    "keep": int,
    "seconds": float,
    "diagnostic": int,
    "client_sap": int,
    "attribute": int,
    "on": ResponseKind,
    "count": _count,
    "noise": bytes.fromhex,
    "result": _result,
    "obis": str,
    "mode": str,
    "answer": str,
    "size": int,
    "header": bytes.fromhex,
    "request": RequestKind,
    "apdu": bytes.fromhex,
    "frame": bytes.fromhex,
    "invoke": lambda text: int(text, 0),
    "data": bytes.fromhex,
}
_ALIASES = {"client": "client_sap", "bytes": "after_bytes", "hex": "noise"}


def parse_fault(spec: str) -> Fault:
    """Parse ``name[:arg][,key=value...]``, e.g. ``delay:10``, ``data-access-error:1-1:32.7.0``.

    Raises ValueError with a message naming the problem.
    """
    name, _, rest = spec.strip().partition(":")
    if name not in FAULT_NAMES:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
    cls, positional = FAULT_NAMES[name]
    allowed = {f.name for f in fields(cls)}
    values: dict[str, object] = {}
    # OBIS codes contain ':' themselves, so split arguments on ',' only.
    for index, part in enumerate(p for p in rest.split(",") if p) if rest else ():
        key, eq, raw = part.partition("=")
        if not eq:
            if index != 0 or positional is None:
                raise ValueError(f"fault {name!r}: argument {part!r} needs the form key=value")
            key, raw = positional, part
        key = _ALIASES.get(key, key).replace("-", "_")
        if key not in allowed:
            raise ValueError(f"fault {name!r} has no option {key!r}; options: {sorted(allowed)}")
        try:
            values[key] = _CONVERTERS[key](raw)
        except (KeyError, ValueError) as err:
            raise ValueError(f"fault {name!r}: bad value {raw!r} for {key}: {err}") from None
    try:
        fault: Fault = cls(**values)
    except TypeError as err:
        raise ValueError(f"fault {name!r}: {err}") from None
    return fault


def describe_fault(fault: Fault) -> str:
    """The fault in the command-line syntax ``parse_fault`` reads."""
    parts = []
    for f in fields(fault):
        value = getattr(fault, f.name)
        if isinstance(value, bytes):
            text = value.hex()
        elif value is None:
            text = "always"
        elif isinstance(value, DataAccessResult):
            text = value.name.lower().replace("_", "-")
        elif isinstance(value, str):
            text = value.encode("unicode_escape").decode()
        else:
            text = str(value)
        parts.append(f"{f.name}={text}")
    name = _NAME_OF[type(fault)]
    return f"{name}:{','.join(parts)}" if parts else name


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int | None


class FaultBook:
    """The faults switched on, each with how many more times it fires (None: until cleared)."""

    def __init__(self) -> None:
        """Start with no faults."""
        self._armed: list[_Armed] = []

    def add(self, fault: Fault) -> None:
        """Switch a fault on."""
        count = getattr(fault, "count", None)
        self._armed.append(_Armed(fault, count))

    def clear(self) -> None:
        """Switch every fault off."""
        self._armed.clear()

    def active(self) -> list[Fault]:
        """The faults still armed."""
        return [a.fault for a in self._armed]

    def peek[F](self, kind: type[F], match: Callable[[F], bool] = lambda _: True) -> F | None:
        """The first armed fault of ``kind`` that matches, without consuming it."""
        for armed in self._armed:
            if isinstance(armed.fault, kind) and match(armed.fault):
                return armed.fault
        return None

    def take[F](self, kind: type[F], match: Callable[[F], bool] = lambda _: True) -> F | None:
        """The first armed fault of ``kind`` that matches; one use is consumed."""
        for armed in self._armed:
            if isinstance(armed.fault, kind) and match(armed.fault):
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self._armed.remove(armed)
                return armed.fault
        return None
