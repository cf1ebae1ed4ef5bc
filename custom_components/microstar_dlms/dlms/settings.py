"""How to reach one meter: the one settings object the client holds and the session reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from .apdu import DEFAULT_CONFORMANCE, Conformance
from .hdlc import HdlcParameters, ServerAddress

__all__ = ["PROPOSED_CONFORMANCE", "ConnectionSettings", "display_endpoint", "endpoint_key"]

# Propose multiple-references on top of the field grant: a meter grants only what is proposed,
# so a meter that supports GET-with-list gets one request per poll instead of one per value.
PROPOSED_CONFORMANCE: Final = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
# A meter answers SNRM within one turnaround (field notes 1: at most 450 ms through an
# unhealthy gateway, plus 40 ms of frames at 9600 baud): one SNRM waits at least this long.
SNRM_ANSWER_WAIT: Final = 1.0


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything needed to reach one meter. ``password`` None means no authentication.

    Built once (the integration's ``MeterConfig.settings``), held by ``MeterClient`` and read
    as it is by the sans-IO ``DlmsSession`` (what it proposes, how often it repeats a frame,
    how messages name the meter); the IO loop reads the endpoint and the timeouts.
    """

    endpoint: str
    client_sap: int = 16
    password: str | bytes | None = field(default=None, repr=False)
    server: ServerAddress = field(default_factory=lambda: ServerAddress(1))
    baudrate: int = 9600
    response_timeout: float = 3.0
    connect_timeout: float = 5.0
    lock_timeout: float = 60.0
    retries: int = 2  # HDLC retransmissions of one frame before giving up
    # Probing an address that may not be this meter's: SNRM (and a DISC first) go once and are
    # waited for this long, as a meter that answers SNRM does so within one turnaround; once
    # the link is up the session goes on with response_timeout and retries. None: no probe.
    snrm_probe: float | None = None
    close_timeout: float | None = None  # RLRQ + DISC budget; default 2 x response_timeout + 0.5
    max_pdu_size: int = 0xFFFF
    conformance: Conformance = PROPOSED_CONFORMANCE
    hdlc_parameters: HdlcParameters | None = None  # None: SNRM without parameter group

    @property
    def snrm_wait(self) -> float:
        """How long one SNRM waits for its UA: the probe's wait, else the response timeout
        shared by the SNRM's sends, but at least SNRM_ANSWER_WAIT (and at most the response
        timeout). A meter answers SNRM within one turnaround, so three sends of a third each
        keep the retransmissions against a lost frame while a silent meter costs a shared line
        one response timeout per poll (3 s by default), not three."""
        if self.snrm_probe:
            return self.snrm_probe
        shared = max(self.response_timeout / (self.retries + 1), SNRM_ANSWER_WAIT)
        return min(shared, self.response_timeout)

    @property
    def password_bytes(self) -> bytes | None:
        """The password as sent in the AARQ."""
        if self.password is None or isinstance(self.password, bytes):
            return self.password
        return self.password.encode("utf-8")

    @property
    def peer(self) -> str:
        """How messages name the meter: its endpoint without secrets."""
        return display_endpoint(self.endpoint)


def endpoint_key(endpoint: str) -> str:
    """What the line's turns are keyed on: ``host:port`` for network URLs, else the device path.

    Two meters behind one gateway share a key, so they are never opened in parallel.
    """
    text = endpoint.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme in ("socket", "tcp", "rfc2217", "esphome") and parts.hostname:
            port = parts.port if parts.port is not None else ""
            return f"{parts.hostname.lower()}:{port}"
    return text


def display_endpoint(endpoint: str) -> str:
    """The endpoint as messages and logs show it: no user info, query or fragment.

    ESPHome serial proxy URLs may carry an encryption key; it must not reach a log line.
    """
    text = endpoint.strip()
    if "://" not in text:
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
