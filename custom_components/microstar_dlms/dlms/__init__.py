"""DLMS/COSEM protocol core for Microstar meters over HDLC: sans-IO codecs and an asyncio client.

No Home Assistant imports: this package can be published and tested on its own.
"""

from .apdu import AttributeRef, Conformance
from .axdr import CosemDateTime, Data, DataType
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
    ResponseTimeout,
)
from .hdlc import HdlcParameters, ServerAddress
from .obis import Obis, ScalerUnit, Unit

__all__ = [
    "AssociationRejected",
    "AttributeRef",
    "AuthenticationFailed",
    "ClientError",
    "Conformance",
    "ConnectionFailed",
    "CosemDateTime",
    "Data",
    "DataAccessError",
    "DataAccessResult",
    "DataType",
    "DecodeError",
    "DlmsError",
    "EncodeError",
    "EndpointBusy",
    "FrameError",
    "GatewayBusy",
    "HdlcParameters",
    "NoAnswer",
    "Obis",
    "ProtocolError",
    "ResponseTimeout",
    "ScalerUnit",
    "ServerAddress",
    "Unit",
]
