"""xDLMS/ACSE APDUs for logical-name referencing: association, release, GET, errors.

Client and server sides: every APDU class can ``encode()`` itself and ``decode_apdu`` parses any
of them, so the simulator uses the same code as the client (IEC 62056-5-3, Green Book ACSE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar

from .axdr import Data, Reader, decode_data, encode_length
from .errors import DataAccessResult, DecodeError, EncodeError
from .obis import Obis

LLC_REQUEST = b"\xe6\xe6\x00"  # client -> server (IEC 62056-46 8.4)
LLC_RESPONSE = b"\xe6\xe7\x00"  # server -> client

# 2.16.756.5.8.1.1 (LN referencing, no ciphering) and 2.16.756.5.8.2.x (mechanisms)
CONTEXT_LN_NO_CIPHERING = bytes.fromhex("60857405080101")
_MECHANISM_PREFIX = bytes.fromhex("608574050802")
DLMS_VERSION = 6


def add_llc(apdu: bytes, *, response: bool = False) -> bytes:
    """Prefix the LLC header: ``E6 E6 00`` for requests, ``E6 E7 00`` for responses."""
    return (LLC_RESPONSE if response else LLC_REQUEST) + apdu


def strip_llc(information: bytes, *, response: bool) -> bytes:
    """Remove and check the LLC header of a reassembled information field.

    A response may carry ``E6 E7 00``, the request header ``E6 E6 00`` or no header at all:
    meters send all three and Gurux accepts them (no xDLMS or ACSE APDU tag is ``E6``). The
    meter's side (a request) stays strict.
    """
    if response:
        if information[:3] in (LLC_RESPONSE, LLC_REQUEST):
            return information[3:]
        if information[:1] != LLC_RESPONSE[:1]:
            return information
        expected = LLC_RESPONSE
    else:
        if information[:3] == LLC_REQUEST:
            return information[3:]
        expected = LLC_REQUEST
    raise DecodeError(
        f"LLC header {information[:3].hex(' ')} is not {expected.hex(' ')}"
        f" ({'response' if response else 'request'} expected)"
    )


class Conformance(IntFlag):
    """xDLMS conformance block bits; bit 0 is the MSB of the 24-bit string (5-3 7.3.1)."""

    GENERAL_PROTECTION = 1 << 22
    GENERAL_BLOCK_TRANSFER = 1 << 21
    READ = 1 << 20
    WRITE = 1 << 19
    UNCONFIRMED_WRITE = 1 << 18
    DELTA_VALUE_ENCODING = 1 << 17
    ATTRIBUTE0_SUPPORTED_WITH_SET = 1 << 15
    PRIORITY_MGMT_SUPPORTED = 1 << 14
    ATTRIBUTE0_SUPPORTED_WITH_GET = 1 << 13
    BLOCK_TRANSFER_WITH_GET_OR_READ = 1 << 12
    BLOCK_TRANSFER_WITH_SET_OR_WRITE = 1 << 11
    BLOCK_TRANSFER_WITH_ACTION = 1 << 10
    MULTIPLE_REFERENCES = 1 << 9
    INFORMATION_REPORT = 1 << 8
    DATA_NOTIFICATION = 1 << 7
    ACCESS = 1 << 6
    PARAMETERIZED_ACCESS = 1 << 5
    GET = 1 << 4
    SET = 1 << 3
    SELECTIVE_ACCESS = 1 << 2
    EVENT_NOTIFICATION = 1 << 1
    ACTION = 1 << 0

    def to_bytes3(self) -> bytes:
        """The three octets of the bit string."""
        return int(self).to_bytes(3, "big")

    @classmethod
    def from_bytes3(cls, data: bytes) -> Conformance:
        """Parse the three octets (unknown bits are kept)."""
        return cls(int.from_bytes(data, "big"))


# What the Microstar grants (field notes §1): GET, block transfer, selective access, no
# multiple-references. The simulator grants it; tests pin the field AARQ with it.
DEFAULT_CONFORMANCE = Conformance.from_bytes3(bytes.fromhex("00301D"))


class Mechanism(IntEnum):
    """Authentication mechanism, the last arc of 2.16.756.5.8.2.x."""

    NONE = 0
    LOW = 1
    HIGH = 2
    HIGH_MD5 = 3
    HIGH_SHA1 = 4
    HIGH_GMAC = 5
    HIGH_SHA256 = 6
    HIGH_ECDSA = 7


class AssociationResult(IntEnum):
    """AARE result."""

    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class AcseDiagnostic(IntEnum):
    """ACSE service-user diagnostics of an AARE."""

    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AP_TITLE_NOT_RECOGNIZED = 3
    CALLING_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 4
    CALLING_AE_QUALIFIER_NOT_RECOGNIZED = 5
    CALLING_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 6
    CALLED_AP_TITLE_NOT_RECOGNIZED = 7
    CALLED_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 8
    CALLED_AE_QUALIFIER_NOT_RECOGNIZED = 9
    CALLED_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 10
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


AUTHENTICATION_DIAGNOSTICS = frozenset(
    {
        AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED,
        AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED,
        AcseDiagnostic.AUTHENTICATION_FAILURE,
        AcseDiagnostic.AUTHENTICATION_REQUIRED,
    }
)


def invoke_id_and_priority(invoke_id: int, *, high_priority: bool = True) -> int:
    """The Invoke-Id-And-Priority byte: 4-bit id, confirmed service class, priority bit.

    ``0xC1`` for id 1: the field's earlier reader put a raw counter here and set reserved bits.
    """
    if not 0 <= invoke_id <= 15:
        raise EncodeError(f"invoke id {invoke_id} is outside 0..15")
    return (0x80 if high_priority else 0) | 0x40 | invoke_id


# -- BER helpers for the ACSE part ------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def _parse_tlvs(data: bytes) -> dict[int, bytes]:
    reader = Reader(data)
    items: dict[int, bytes] = {}
    while reader.remaining:
        tag = reader.byte()
        if tag & 0x1F == 0x1F:
            raise DecodeError(f"multi-byte BER tag 0x{tag:02X} is not used by DLMS ACSE")
        value = reader.sized()
        if tag in items:
            raise DecodeError(f"ACSE element 0x{tag:02X} appears twice")
        items[tag] = value
    return items


def _single_tlv(data: bytes, tag: int, what: str) -> bytes:
    reader = Reader(data)
    got = reader.byte()
    if got != tag:
        raise DecodeError(f"{what}: expected tag 0x{tag:02X}, got 0x{got:02X}")
    value = reader.sized()
    if reader.remaining:
        raise DecodeError(f"{what}: {reader.remaining} trailing bytes")
    return value


def _ber_integer(data: bytes, what: str) -> int:
    value = _single_tlv(data, 0x02, what)
    if not 1 <= len(value) <= 4:
        raise DecodeError(f"{what}: INTEGER of {len(value)} bytes")
    return int.from_bytes(value, "big", signed=True)


# -- xDLMS initiate -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitiateRequest:
    """xDLMS-Initiate.request carried in the AARQ user-information."""

    conformance: Conformance = DEFAULT_CONFORMANCE
    max_pdu_size: int = 0xFFFF
    dlms_version: int = DLMS_VERSION

    def encode(self) -> bytes:
        """No dedicated key, default response-allowed, no QoS (the field's byte layout)."""
        if not 0 <= self.max_pdu_size <= 0xFFFF:
            raise EncodeError(f"max PDU size {self.max_pdu_size} outside 0..65535")
        return b"\x01\x00\x00\x00" + _encode_negotiation(
            self.dlms_version, self.conformance, self.max_pdu_size
        )

    @classmethod
    def decode(cls, data: bytes) -> InitiateRequest:
        """Parse the A-XDR InitiateRequest."""
        reader = Reader(data)
        if reader.byte() != 0x01:
            raise DecodeError("user-information is not an xDLMS InitiateRequest")
        if reader.byte():  # dedicated-key present
            reader.sized()
        if reader.byte():  # response-allowed present
            reader.byte()
        if reader.byte():  # proposed-quality-of-service present
            reader.byte()
        version, conformance, max_pdu = _decode_negotiation(reader)
        if reader.remaining:
            raise DecodeError(f"InitiateRequest has {reader.remaining} trailing bytes")
        return cls(conformance, max_pdu, version)


@dataclass(frozen=True, slots=True)
class InitiateResponse:
    """xDLMS-Initiate.response carried in the AARE user-information."""

    conformance: Conformance
    max_pdu_size: int
    dlms_version: int = DLMS_VERSION
    vaa_name: int = 0x0007  # LN referencing

    def encode(self) -> bytes:
        """No negotiated QoS."""
        negotiation = _encode_negotiation(self.dlms_version, self.conformance, self.max_pdu_size)
        return b"\x08\x00" + negotiation + self.vaa_name.to_bytes(2, "big")

    @classmethod
    def decode(cls, data: bytes) -> InitiateResponse:
        """Parse the A-XDR InitiateResponse."""
        reader = Reader(data)
        if reader.byte() != 0x08:
            raise DecodeError("user-information is not an xDLMS InitiateResponse")
        if reader.byte():  # negotiated-quality-of-service present
            reader.byte()
        version, conformance, max_pdu = _decode_negotiation(reader)
        vaa = reader.uint(2)
        if reader.remaining:
            raise DecodeError(f"InitiateResponse has {reader.remaining} trailing bytes")
        return cls(conformance, max_pdu, version, vaa)


def _encode_negotiation(version: int, conformance: Conformance, max_pdu_size: int) -> bytes:
    """DLMS version, conformance block and max PDU size: what both initiate PDUs carry."""
    return (
        bytes([version])
        + b"\x5f\x1f\x04\x00"
        + conformance.to_bytes3()
        + max_pdu_size.to_bytes(2, "big")
    )


def _decode_negotiation(reader: Reader) -> tuple[int, Conformance, int]:
    """DLMS version, conformance and max PDU size, as ``_encode_negotiation`` writes them."""
    version = reader.byte()
    if reader.take(2) != b"\x5f\x1f":
        raise DecodeError("conformance block tag 5F 1F missing")
    if reader.byte() != 4 or reader.byte() != 0:
        raise DecodeError("conformance block must be a 24-bit string (04 00 xx xx xx)")
    return version, Conformance.from_bytes3(reader.take(3)), reader.uint(2)


# -- ACSE: AARQ / AARE / RLRQ / RLRE ----------------------------------------------------------


def _application_context_name(oid: bytes) -> bytes:
    """An AARQ's or AARE's application-context-name ([1], an object identifier)."""
    return _tlv(0xA1, _tlv(0x06, oid))


def _user_information(pdu: bytes) -> bytes:
    """The xDLMS PDU an AARQ or AARE carries: its user-information ([30], an octet string)."""
    return _tlv(0xBE, _tlv(0x04, pdu))


def _acse_fields(body: bytes) -> tuple[dict[int, bytes], bytes]:
    """An AARQ's or AARE's fields by tag, and its application-context-name."""
    items = _parse_tlvs(body)
    return items, _single_tlv(items.get(0xA1, b""), 0x06, "application-context-name")


@dataclass(frozen=True, slots=True)
class Aarq:
    """AARQ for LN referencing with no authentication or LLS (password)."""

    mechanism: Mechanism | None = None
    password: bytes | None = field(default=None, repr=False)
    initiate: InitiateRequest = InitiateRequest()
    application_context: bytes = CONTEXT_LN_NO_CIPHERING

    def encode(self) -> bytes:
        """BER-encode; LLS needs a password of 1..255 bytes."""
        body = _application_context_name(self.application_context)
        if self.mechanism not in (None, Mechanism.NONE):
            body += _tlv(0x8A, b"\x07\x80")  # sender-acse-requirements: authentication
            body += _tlv(0x8B, _MECHANISM_PREFIX + bytes([self.mechanism]))
            if self.mechanism is Mechanism.LOW:
                if self.password is None or not 1 <= len(self.password) <= 255:
                    raise EncodeError("an LLS password must be 1 to 255 bytes")
                body += _tlv(0xAC, _tlv(0x80, self.password))
        elif self.password is not None:
            raise EncodeError("a password needs the LLS mechanism")
        body += _user_information(self.initiate.encode())
        return _tlv(0x60, body)

    @classmethod
    def decode_body(cls, body: bytes) -> Aarq:
        """Parse the contents of the 0x60 TLV."""
        items, context = _acse_fields(body)
        mechanism: Mechanism | None = None
        if 0x8B in items:
            oid = items[0x8B]
            if len(oid) != 7 or oid[:6] != _MECHANISM_PREFIX:
                raise DecodeError(f"unknown mechanism name {oid.hex(' ')}")
            try:
                mechanism = Mechanism(oid[6])
            except ValueError:
                raise DecodeError(f"unknown mechanism id {oid[6]}") from None
        password = None
        if 0xAC in items:
            auth = Reader(items[0xAC])
            if auth.byte() != 0x80:
                raise DecodeError("calling-authentication-value is not a charstring")
            password = auth.sized()
            if auth.remaining:
                raise DecodeError("calling-authentication-value has trailing bytes")
        if 0xBE not in items:
            raise DecodeError("AARQ without user-information (InitiateRequest)")
        initiate = InitiateRequest.decode(_single_tlv(items[0xBE], 0x04, "user-information"))
        return cls(mechanism, password, initiate, context)


@dataclass(frozen=True, slots=True)
class ConfirmedServiceError:
    """ConfirmedServiceError (tag 0x0E): which service failed and the ServiceError."""

    service: int  # 1 initiateError, 2 getStatus, 5 read, 6 write ...
    error: int  # ServiceError choice: 6 initiate, 5 access ...
    value: int

    def encode(self) -> bytes:
        """Four bytes."""
        return bytes([0x0E, self.service, self.error, self.value])

    def __str__(self) -> str:
        """A readable summary."""
        if self.service == 1 and self.error == 6:
            reasons = {
                0: "other",
                1: "DLMS version too low",
                2: "incompatible conformance",
                3: "PDU size too short",
                4: "refused by the VDE handler",
            }
            return f"initiate error: {reasons.get(self.value, self.value)}"
        return f"service {self.service} error {self.error} value {self.value}"


@dataclass(frozen=True, slots=True)
class Aare:
    """AARE: accepted (with InitiateResponse) or rejected with an ACSE diagnostic."""

    result: AssociationResult
    diagnostic: int = 0
    diagnostic_from_provider: bool = False
    initiate: InitiateResponse | None = None
    service_error: ConfirmedServiceError | None = None
    mechanism: Mechanism | None = None
    application_context: bytes = CONTEXT_LN_NO_CIPHERING

    @property
    def accepted(self) -> bool:
        """True when the association is open."""
        return self.result is AssociationResult.ACCEPTED

    @property
    def authentication_failed(self) -> bool:
        """True when the meter rejected the password or mechanism."""
        return (
            not self.accepted
            and not self.diagnostic_from_provider
            and self.diagnostic in AUTHENTICATION_DIAGNOSTICS
        )

    def describe_rejection(self) -> str:
        """Human text for a rejected AARE."""
        if self.diagnostic_from_provider:
            text = f"ACSE provider diagnostic {self.diagnostic}"
        else:
            try:
                text = AcseDiagnostic(self.diagnostic).name.lower().replace("_", " ")
            except ValueError:
                text = f"diagnostic {self.diagnostic}"
        if self.service_error is not None:
            text += f"; {self.service_error}"
        return f"association rejected ({self.result.name.lower().replace('_', ' ')}): {text}"

    def encode(self) -> bytes:
        """BER-encode."""
        body = _application_context_name(self.application_context)
        body += _tlv(0xA2, _tlv(0x02, bytes([self.result])))
        source = 0xA2 if self.diagnostic_from_provider else 0xA1
        body += _tlv(0xA3, _tlv(source, _tlv(0x02, bytes([self.diagnostic]))))
        if self.mechanism not in (None, Mechanism.NONE):
            body += _tlv(0x88, b"\x07\x80")
            body += _tlv(0x89, _MECHANISM_PREFIX + bytes([self.mechanism]))
        if self.initiate is not None:
            body += _user_information(self.initiate.encode())
        elif self.service_error is not None:
            body += _user_information(self.service_error.encode())
        return _tlv(0x61, body)

    @classmethod
    def decode_body(cls, body: bytes) -> Aare:
        """Parse the contents of the 0x61 TLV."""
        items, context = _acse_fields(body)
        if 0xA2 not in items or 0xA3 not in items:
            raise DecodeError("AARE without result or result-source-diagnostic")
        try:
            result = AssociationResult(_ber_integer(items[0xA2], "AARE result"))
        except ValueError:
            raise DecodeError("AARE result is not 0, 1 or 2") from None
        diag = Reader(items[0xA3])
        source = diag.byte()
        if source not in (0xA1, 0xA2):
            raise DecodeError(f"AARE diagnostic source tag 0x{source:02X}")
        diagnostic = _ber_integer(diag.sized(), "AARE diagnostic")
        if diag.remaining:
            raise DecodeError("AARE diagnostic has trailing bytes")
        mechanism: Mechanism | None = None
        oid = items.get(0x89)
        if oid is not None and len(oid) == 7 and oid[:6] == _MECHANISM_PREFIX and oid[6] < 8:
            mechanism = Mechanism(oid[6])
        initiate = None
        service_error = None
        if 0xBE in items:
            user = _single_tlv(items[0xBE], 0x04, "user-information")
            if user[:1] == b"\x08":
                initiate = InitiateResponse.decode(user)
            elif user[:1] == b"\x0e":
                service_error = _decode_confirmed_service_error(Reader(user[1:]))
            else:
                raise DecodeError(f"AARE user-information starts with {user[:1].hex()}")
        if result is AssociationResult.ACCEPTED and initiate is None:
            raise DecodeError("accepted AARE without an InitiateResponse")
        return cls(result, diagnostic, source == 0xA2, initiate, service_error, mechanism, context)


class ReleaseReason(IntEnum):
    """RLRQ/RLRE reason."""

    NORMAL = 0
    URGENT = 1
    USER_DEFINED = 30


@dataclass(frozen=True, slots=True)
class _Release:
    """RLRQ or RLRE: its tag, then the reason (``[0]``) when there is one."""

    TAG: ClassVar[int]
    reason: ReleaseReason | None = ReleaseReason.NORMAL

    def encode(self) -> bytes:
        """BER-encode."""
        body = b"" if self.reason is None else _tlv(0x80, bytes([self.reason]))
        return _tlv(self.TAG, body)


@dataclass(frozen=True, slots=True)
class ReleaseRequest(_Release):
    """RLRQ (reason normal, ``62 03 80 01 00``)."""

    TAG: ClassVar[int] = 0x62


@dataclass(frozen=True, slots=True)
class ReleaseResponse(_Release):
    """RLRE."""

    TAG: ClassVar[int] = 0x63


def _release_reason(body: bytes) -> ReleaseReason | None:
    items = _parse_tlvs(body)
    raw = items.get(0x80)
    if raw is None:
        return None
    if len(raw) != 1:
        raise DecodeError("release reason must be one byte")
    try:
        return ReleaseReason(raw[0])
    except ValueError:
        raise DecodeError(f"unknown release reason {raw[0]}") from None


# -- GET ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """A COSEM attribute: interface class, logical name (OBIS) and attribute index."""

    class_id: int
    obis: Obis
    attribute: int

    def encode(self) -> bytes:
        """Cosem-Attribute-Descriptor: class-id(2) instance-id(6) attribute-id(1)."""
        if not 0 <= self.class_id <= 0xFFFF or not -128 <= self.attribute <= 127:
            raise EncodeError(f"attribute reference out of range: {self}")
        return (
            self.class_id.to_bytes(2, "big")
            + self.obis.to_bytes()
            + self.attribute.to_bytes(1, "big", signed=True)
        )

    @classmethod
    def read(cls, reader: Reader) -> AttributeRef:
        """Read a Cosem-Attribute-Descriptor."""
        class_id = reader.uint(2)
        obis = Obis.from_bytes(reader.take(6))
        attribute = int.from_bytes(reader.take(1), "big", signed=True)
        return cls(class_id, obis, attribute)

    def __str__(self) -> str:
        """E.g. ``3/1-1:32.7.0/2``."""
        return f"{self.class_id}/{self.obis}/{self.attribute}"


@dataclass(frozen=True, slots=True)
class AccessSelection:
    """Selective access: selector and its parameters (e.g. a profile range)."""

    selector: int
    parameters: Data


def _encode_selection(selection: AccessSelection | None) -> bytes:
    if selection is None:
        return b"\x00"
    return bytes([0x01, selection.selector]) + selection.parameters.encode()


def _read_selection(reader: Reader) -> AccessSelection | None:
    if not reader.byte():
        return None
    selector = reader.byte()
    return AccessSelection(selector, decode_data(reader))


@dataclass(frozen=True, slots=True)
class GetRequestNormal:
    """GET-Request-Normal."""

    invoke_id_and_priority: int
    attribute: AttributeRef
    access_selection: AccessSelection | None = None

    def encode(self) -> bytes:
        """A-XDR."""
        return (
            bytes([0xC0, 0x01, self.invoke_id_and_priority])
            + self.attribute.encode()
            + _encode_selection(self.access_selection)
        )


@dataclass(frozen=True, slots=True)
class GetRequestNext:
    """GET-Request-Next: ask for the block after ``block_number``."""

    invoke_id_and_priority: int
    block_number: int

    def encode(self) -> bytes:
        """A-XDR."""
        return bytes([0xC0, 0x02, self.invoke_id_and_priority]) + self.block_number.to_bytes(
            4, "big"
        )


@dataclass(frozen=True, slots=True)
class GetRequestWithList:
    """GET-Request-With-List (needs the multiple-references conformance bit)."""

    invoke_id_and_priority: int
    attributes: tuple[AttributeRef, ...]
    access_selections: tuple[AccessSelection | None, ...] = ()

    def encode(self) -> bytes:
        """A-XDR."""
        out = bytes([0xC0, 0x03, self.invoke_id_and_priority]) + encode_length(len(self.attributes))
        selections = self.access_selections or (None,) * len(self.attributes)
        if len(selections) != len(self.attributes):
            raise EncodeError("one access selection per attribute")
        for ref, selection in zip(self.attributes, selections, strict=True):
            out += ref.encode() + _encode_selection(selection)
        return out


type GetResult = Data | DataAccessResult


def _encode_result(result: GetResult) -> bytes:
    if isinstance(result, DataAccessResult):
        return bytes([0x01, result])
    return b"\x00" + result.encode()


def _read_result(reader: Reader) -> GetResult:
    choice = reader.byte()
    if choice == 0x00:
        return decode_data(reader)
    if choice == 0x01:
        return DataAccessResult(reader.byte())
    raise DecodeError(f"Get-Data-Result choice {choice} is neither data nor result")


@dataclass(frozen=True, slots=True)
class GetResponseNormal:
    """GET-Response-Normal: data or a data-access-result."""

    invoke_id_and_priority: int
    result: GetResult

    def encode(self) -> bytes:
        """A-XDR."""
        return bytes([0xC4, 0x01, self.invoke_id_and_priority]) + _encode_result(self.result)


@dataclass(frozen=True, slots=True)
class GetResponseWithDatablock:
    """GET-Response-With-Datablock: one block of the encoded result, or a failure."""

    invoke_id_and_priority: int
    last_block: bool
    block_number: int
    raw_data: bytes | DataAccessResult

    def encode(self) -> bytes:
        """A-XDR."""
        head = bytes([0xC4, 0x02, self.invoke_id_and_priority, 1 if self.last_block else 0])
        head += self.block_number.to_bytes(4, "big")
        if isinstance(self.raw_data, DataAccessResult):
            return head + bytes([0x01, self.raw_data])
        return head + b"\x00" + encode_length(len(self.raw_data)) + self.raw_data


@dataclass(frozen=True, slots=True)
class GetResponseWithList:
    """GET-Response-With-List: one result per requested attribute."""

    invoke_id_and_priority: int
    results: tuple[GetResult, ...]

    def encode(self) -> bytes:
        """A-XDR."""
        out = bytes([0xC4, 0x03, self.invoke_id_and_priority]) + encode_length(len(self.results))
        return out + b"".join(_encode_result(r) for r in self.results)


@dataclass(frozen=True, slots=True)
class SetResponseNormal:
    """SET-Response-Normal (0xC5 0x01): the outcome of writing one attribute."""

    invoke_id_and_priority: int
    result: DataAccessResult

    def encode(self) -> bytes:
        """A-XDR."""
        return bytes([0xC5, 0x01, self.invoke_id_and_priority, self.result])


def split_into_blocks(
    invoke_id_and_priority: int, payload: bytes, block_size: int
) -> list[GetResponseWithDatablock]:
    """Server side: cut an encoded result into numbered blocks starting at 1."""
    if block_size < 1:
        raise EncodeError("block size must be positive")
    chunks = [payload[i : i + block_size] for i in range(0, len(payload), block_size)] or [b""]
    return [
        GetResponseWithDatablock(invoke_id_and_priority, i == len(chunks) - 1, i + 1, chunk)
        for i, chunk in enumerate(chunks)
    ]


def decode_list_payload(payload: bytes) -> tuple[GetResult, ...]:
    """Decode reassembled block data of a GET-with-list: count then Get-Data-Results."""
    reader = Reader(payload)
    count = reader.length()
    if count > reader.remaining:
        raise DecodeError(f"list of {count} results in {reader.remaining} bytes")
    results = tuple(_read_result(reader) for _ in range(count))
    if reader.remaining:
        raise DecodeError(f"{reader.remaining} bytes after the list of results")
    return results


class DatablockAssembler:
    """Client side: collect GET datablocks, checking invoke id and block numbers.

    ``add`` returns the complete payload after the last block, else None; the caller then sends
    GET-Request-Next for ``block_number``.
    """

    def __init__(self, max_size: int = 1 << 20) -> None:
        self.block_number = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._max_size = max_size

    def add(self, block: GetResponseWithDatablock) -> bytes | None:
        """Take the next block; raise DecodeError if it is out of sequence.

        The standard numbers the first block 1; meters that start at 0 exist (Gurux accepts
        them), so the first block's number is the base and each next one must add 1.
        """
        if isinstance(block.raw_data, DataAccessResult):
            raise DecodeError(f"datablock transfer aborted: {block.raw_data.name}")
        if self._parts and block.block_number != self.block_number + 1:
            raise DecodeError(
                f"datablock {block.block_number} received, {self.block_number + 1} expected"
            )
        self.block_number = block.block_number
        self._size += len(block.raw_data)
        if self._size > self._max_size:
            raise DecodeError(f"block transfer exceeds {self._max_size} bytes")
        self._parts.append(block.raw_data)
        return b"".join(self._parts) if block.last_block else None


# -- errors ---------------------------------------------------------------------------------


class StateError(IntEnum):
    """ExceptionResponse state-error."""

    SERVICE_NOT_ALLOWED = 1
    SERVICE_UNKNOWN = 2


class ServiceErrorCode(IntEnum):
    """ExceptionResponse service-error."""

    OPERATION_NOT_POSSIBLE = 1
    SERVICE_NOT_SUPPORTED = 2
    OTHER_REASON = 3
    PDU_TOO_LONG = 4
    DECIPHERING_ERROR = 5
    INVOCATION_COUNTER_ERROR = 6


@dataclass(frozen=True, slots=True)
class ExceptionResponse:
    """ExceptionResponse (0xD8): the server could not process the request at all."""

    state_error: int
    service_error: int

    def encode(self) -> bytes:
        """Three bytes."""
        return bytes([0xD8, self.state_error, self.service_error])

    def __str__(self) -> str:
        """Readable names where known."""
        try:
            state = StateError(self.state_error).name.lower()
        except ValueError:
            state = str(self.state_error)
        try:
            service = ServiceErrorCode(self.service_error).name.lower()
        except ValueError:
            service = str(self.service_error)
        return f"exception response: {state}, {service}".replace("_", " ")


def _decode_confirmed_service_error(reader: Reader) -> ConfirmedServiceError:
    service = reader.byte()
    error = reader.byte()
    value = reader.byte()
    if reader.remaining:
        raise DecodeError("ConfirmedServiceError has trailing bytes")
    return ConfirmedServiceError(service, error, value)


# -- dispatch -----------------------------------------------------------------------------------

type Apdu = (
    Aarq
    | Aare
    | ReleaseRequest
    | ReleaseResponse
    | GetRequestNormal
    | GetRequestNext
    | GetRequestWithList
    | GetResponseNormal
    | GetResponseWithDatablock
    | GetResponseWithList
    | SetResponseNormal
    | ExceptionResponse
    | ConfirmedServiceError
)


def decode_apdu(data: bytes, *, trailing_ok: bool = False) -> Apdu:
    """Decode one APDU (without LLC header); only DecodeError escapes.

    ``trailing_ok`` ignores bytes after a complete APDU: some meters pad their answers, and
    neither Gurux nor u9n refuses them. The meter's side (a request) stays strict.
    """
    reader = Reader(data)
    tag = reader.byte()
    if tag in (0x60, 0x61, 0x62, 0x63):
        body = reader.sized()
        if reader.remaining and not trailing_ok:
            raise DecodeError(f"{reader.remaining} bytes after the ACSE APDU")
        if tag == 0x60:
            return Aarq.decode_body(body)
        if tag == 0x61:
            return Aare.decode_body(body)
        if tag == 0x62:
            return ReleaseRequest(_release_reason(body))
        return ReleaseResponse(_release_reason(body))
    apdu = _decode_xdlms(tag, reader, trailing_ok=trailing_ok)
    if reader.remaining and not trailing_ok:
        raise DecodeError(f"{reader.remaining} unexpected bytes after the APDU")
    return apdu


def _decode_xdlms(tag: int, reader: Reader, *, trailing_ok: bool = False) -> Apdu:
    if tag == 0xD8:
        state, service = reader.byte(), reader.byte()
        if service == ServiceErrorCode.INVOCATION_COUNTER_ERROR and reader.remaining == 4:
            reader.take(4)  # the expected invocation counter
        return ExceptionResponse(state, service)
    if tag == 0x0E:
        return _decode_confirmed_service_error(Reader(reader.take(3)) if trailing_ok else reader)
    if tag == 0xC0:
        kind = reader.byte()
        invoke = reader.byte()
        if kind == 0x01:
            ref = AttributeRef.read(reader)
            return GetRequestNormal(invoke, ref, _read_selection(reader))
        if kind == 0x02:
            return GetRequestNext(invoke, reader.uint(4))
        if kind == 0x03:
            count = reader.length()
            if count * 10 > reader.remaining:
                raise DecodeError(f"GET list of {count} in {reader.remaining} bytes")
            refs: list[AttributeRef] = []
            selections: list[AccessSelection | None] = []
            for _ in range(count):
                refs.append(AttributeRef.read(reader))
                selections.append(_read_selection(reader))
            keep = tuple(selections) if any(s is not None for s in selections) else ()
            return GetRequestWithList(invoke, tuple(refs), keep)
        raise DecodeError(f"unknown GET-Request choice {kind}")
    if tag == 0xC4:
        kind = reader.byte()
        invoke = reader.byte()
        if kind == 0x01:
            return GetResponseNormal(invoke, _read_result(reader))
        if kind == 0x02:
            last = reader.byte()
            if last > 1:
                raise DecodeError(f"last-block flag {last} is not a boolean")
            number = reader.uint(4)
            choice = reader.byte()
            if choice == 0x00:
                return GetResponseWithDatablock(invoke, bool(last), number, reader.sized())
            if choice == 0x01:
                return GetResponseWithDatablock(
                    invoke, bool(last), number, DataAccessResult(reader.byte())
                )
            raise DecodeError(f"DataBlock-G result choice {choice}")
        if kind == 0x03:
            count = reader.length()
            if count * 2 > reader.remaining:
                raise DecodeError(f"GET list response of {count} in {reader.remaining} bytes")
            return GetResponseWithList(invoke, tuple(_read_result(reader) for _ in range(count)))
        raise DecodeError(f"unknown GET-Response choice {kind}")
    if tag == 0xC5:
        kind = reader.byte()
        invoke = reader.byte()
        if kind == 0x01:
            return SetResponseNormal(invoke, DataAccessResult(reader.byte()))
        raise DecodeError(f"unsupported SET-Response choice {kind}")
    raise DecodeError(f"unsupported APDU tag 0x{tag:02X}")
