"""DLMS/COSEM core for Microstar meters over HDLC: sans-IO codecs and session, an asyncio client.

No Home Assistant imports: this package is tested on its own and builds into the wheel
``microstar_dlms_core`` (pyproject.toml; docs/architecture.md).
"""

from .apdu import AttributeRef, Conformance
from .axdr import CosemDateTime, Data, DataType
from .client import (
    ConnectionSettings,
    MeterClient,
    MeterSession,
    NegotiatedParameters,
    ReadResult,
)
from .errors import (
    AssociationRejected,
    AuthenticationFailed,
    ClientError,
    ConnectionFailed,
    DataAccessError,
    DataAccessResult,
    DecodeError,
    DlmsError,
    EncodeError,
    EndpointBusy,
    FrameError,
    GatewayBusy,
    NoAnswer,
    ProtocolError,
    RequestRefusedError,
    ResponseTimeout,
    Rfc2217NotNegotiated,
)
from .hdlc import HdlcParameters, ServerAddress
from .interface_classes import MeterObject
from .obis import Obis, ScalerUnit, Unit
from .session import DlmsSession
from .trace import TraceRecord

__all__ = [
    "AssociationRejected",
    "AttributeRef",
    "AuthenticationFailed",
    "ClientError",
    "Conformance",
    "ConnectionFailed",
    "ConnectionSettings",
    "CosemDateTime",
    "Data",
    "DataAccessError",
    "DataAccessResult",
    "DataType",
    "DecodeError",
    "DlmsError",
    "DlmsSession",
    "EncodeError",
    "EndpointBusy",
    "FrameError",
    "GatewayBusy",
    "HdlcParameters",
    "MeterClient",
    "MeterObject",
    "MeterSession",
    "NegotiatedParameters",
    "NoAnswer",
    "Obis",
    "ProtocolError",
    "ReadResult",
    "RequestRefusedError",
    "ResponseTimeout",
    "Rfc2217NotNegotiated",
    "ScalerUnit",
    "ServerAddress",
    "TraceRecord",
    "Unit",
]
