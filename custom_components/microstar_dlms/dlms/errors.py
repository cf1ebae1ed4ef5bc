"""The one error hierarchy of the protocol core: nothing else escapes the decoders or the client."""

from __future__ import annotations

from enum import IntEnum


class DlmsError(Exception):
    """Base of every error raised by the protocol core."""


class FrameError(DlmsError):
    """Malformed HDLC: length, HCS, FCS, address, control field or parameter group."""


class DecodeError(DlmsError):
    """Malformed APDU or A-XDR data."""


class EncodeError(DlmsError):
    """A value cannot be encoded (out of range, password too long, ...)."""


class DataAccessResult(IntEnum):
    """Data-Access-Result codes of xDLMS GET/SET responses (IEC 62056-5-3)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250

    @classmethod
    def _missing_(cls, value: object) -> DataAccessResult | None:
        """Map unknown codes to OTHER_REASON rather than failing the decode."""
        if isinstance(value, int) and 0 <= value <= 255:
            return cls.OTHER_REASON
        return None


class DataAccessError(DlmsError):
    """One attribute could not be read; reported per item, the session goes on."""

    def __init__(self, result: DataAccessResult, detail: str = "") -> None:
        self.result = result
        text = f"data access failed: {result.name.lower().replace('_', ' ')} ({int(result)})"
        super().__init__(f"{text}: {detail}" if detail else text)


class RequestRefusedError(DataAccessError):
    """One attribute's GET was answered with no GET-Response: an ExceptionResponse, a
    ConfirmedServiceError or an APDU that cannot be decoded. Per item, like a data-access
    result; the link is in step and the session goes on."""

    def __init__(self, detail: str) -> None:
        super().__init__(DataAccessResult.OTHER_REASON, detail)


class ClientError(DlmsError):
    """A session failed; the message says why in words a field engineer can act on."""


class ConnectionFailed(ClientError):  # noqa: N818 - contract name (docs/architecture.md)
    """The byte stream could not be opened: TCP refused or unreachable, serial port missing."""


class Rfc2217NotNegotiated(ConnectionFailed):
    """The gateway accepted TCP but did not complete RFC 2217 negotiation (a raw TCP port?)."""


class GatewayBusy(ClientError):  # noqa: N818 - contract name (docs/architecture.md)
    """The gateway answered with text such as ``Port already in use`` instead of HDLC."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"gateway busy: it answered {text!r} (another client holds the port)")


class EndpointBusy(ClientError):  # noqa: N818 - contract name (docs/architecture.md)
    """Another caller in this process holds the endpoint and did not release it in time."""


class NoAnswer(ClientError):  # noqa: N818 - contract name (docs/architecture.md)
    """The stream is open but the meter does not answer SNRM (silent, wrong address or SAP)."""


class AssociationRejected(ClientError):  # noqa: N818 - contract name (docs/architecture.md)
    """The meter rejected the AARQ; ``diagnostic`` is the ACSE diagnostic code."""

    def __init__(self, message: str, diagnostic: int | None = None) -> None:
        self.diagnostic = diagnostic
        super().__init__(message)


class AuthenticationFailed(AssociationRejected):
    """The meter rejected the password or the authentication mechanism."""


class ProtocolError(ClientError):
    """Bad frames after retries, an unexpected APDU or an exception response."""


class SessionStateError(ProtocolError):
    """The session was asked for a move its state does not allow (``dlms/session_state.py``):
    the caller's mistake or the core's, never the meter's (h11's LocalProtocolError)."""


class ResponseTimeout(ClientError):  # noqa: N818 - contract name (docs/architecture.md)
    """The meter stopped answering in the middle of a session."""
