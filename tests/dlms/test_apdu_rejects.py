"""Malformed APDUs a broken meter (or line) could deliver: each is one named DecodeError, and
what we would send wrongly is an EncodeError before it leaves."""

import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    Aare,
    Aarq,
    AccessSelection,
    AcseDiagnostic,
    AssociationResult,
    AttributeRef,
    ConfirmedServiceError,
    Conformance,
    DatablockAssembler,
    ExceptionResponse,
    GetRequestWithList,
    GetResponseWithDatablock,
    InitiateRequest,
    InitiateResponse,
    Mechanism,
    SetResponseNormal,
    decode_apdu,
    decode_list_payload,
    split_into_blocks,
)
from custom_components.microstar_dlms.dlms.errors import (
    DataAccessResult,
    DecodeError,
    EncodeError,
)
from custom_components.microstar_dlms.dlms.obis import Obis

CONTEXT = bytes.fromhex("A1 09 06 07 60 85 74 05 08 01 01")
INITIATE_REQ = InitiateRequest().encode()
INITIATE_RSP = InitiateResponse(Conformance.GET, 500).encode()


def tlv(tag: int, content: bytes) -> bytes:
    """One short-form BER element."""
    return bytes([tag, len(content)]) + content


def aarq(*elements: bytes) -> bytes:
    """An AARQ APDU made of the given elements."""
    return tlv(0x60, b"".join(elements))


def aare(*elements: bytes) -> bytes:
    """An AARE APDU made of the given elements."""
    return tlv(0x61, b"".join(elements))


USER_REQ = tlv(0xBE, tlv(0x04, INITIATE_REQ))
RESULT_OK = tlv(0xA2, tlv(0x02, b"\x00"))
DIAG_OK = tlv(0xA3, tlv(0xA1, tlv(0x02, b"\x00")))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (aarq(CONTEXT, b"\x1f\x00"), "multi-byte BER tag"),
        (aarq(CONTEXT, CONTEXT, USER_REQ), "appears twice"),
        (aarq(CONTEXT, tlv(0x8B, bytes.fromhex("60 85 74 05 08 02 09")), USER_REQ), "mechanism id"),
        (aarq(CONTEXT, tlv(0x8B, b"\x01\x02"), USER_REQ), "unknown mechanism name"),
        (aarq(CONTEXT, tlv(0xAC, b"\x81\x01x"), USER_REQ), "not a charstring"),
        (aarq(CONTEXT, tlv(0xAC, b"\x80\x01xy"), USER_REQ), "trailing bytes"),
        (aarq(CONTEXT), "without user-information"),
        (aarq(CONTEXT, tlv(0xBE, tlv(0x04, b"\x02" + INITIATE_REQ[1:]))), "not an xDLMS Init"),
        (
            aarq(CONTEXT, tlv(0xBE, tlv(0x04, INITIATE_REQ + b"\x00"))),
            "InitiateRequest has 1 trailing",
        ),
        (
            aarq(CONTEXT, tlv(0xBE, tlv(0x04, INITIATE_REQ.replace(b"\x5f\x1f", b"\x5f\x1e")))),
            "tag 5F 1F missing",
        ),
        (
            aarq(
                CONTEXT,
                tlv(0xBE, tlv(0x04, INITIATE_REQ.replace(b"\x5f\x1f\x04", b"\x5f\x1f\x03"))),
            ),
            "24-bit string",
        ),
        (aare(CONTEXT, DIAG_OK), "without result"),
        (aare(CONTEXT, tlv(0xA2, tlv(0x02, b"\x07")), DIAG_OK), "not 0, 1 or 2"),
        (aare(CONTEXT, tlv(0xA2, tlv(0x02, b"")), DIAG_OK), "INTEGER of 0 bytes"),
        (aare(CONTEXT, RESULT_OK, tlv(0xA3, tlv(0xA5, tlv(0x02, b"\x00")))), "source tag 0xA5"),
        (
            aare(CONTEXT, RESULT_OK, tlv(0xA3, tlv(0xA1, tlv(0x02, b"\x00")) + b"\x00")),
            "diagnostic has trailing",
        ),
        (aare(CONTEXT, RESULT_OK, DIAG_OK, tlv(0xBE, tlv(0x04, b"\x0a"))), "starts with 0a"),
        (aare(CONTEXT, RESULT_OK, DIAG_OK), "without an InitiateResponse"),
        (
            aare(CONTEXT, RESULT_OK, DIAG_OK, tlv(0xBE, tlv(0x04, INITIATE_RSP + b"\x00"))),
            "InitiateResponse has 1 trailing",
        ),
        (
            aare(CONTEXT, RESULT_OK, DIAG_OK, tlv(0xBE, tlv(0x04, b"\x09" + INITIATE_RSP[1:]))),
            "starts with 09",
        ),
        (tlv(0x62, tlv(0x80, b"\x00\x00")), "release reason must be one byte"),
        (b"\x0e\x01\x06\x02\x00", "ConfirmedServiceError has trailing"),
        (b"\xc0\x03\xc1\x05" + bytes(10), "GET list of 5"),
        (b"\xc4\x03\xc1\x05\x00", "GET list response of 5"),
        (b"\xc5\x02\xc1\x00", "SET-Response choice 2"),
    ],
)
def test_malformed_apdus_are_named(data: bytes, match: str) -> None:
    """One DecodeError naming what is wrong."""
    with pytest.raises(DecodeError, match=match):
        decode_apdu(data)


def test_initiate_response_without_qos_byte_set_and_with_it() -> None:
    """A negotiated quality of service byte is skipped."""
    with_qos = b"\x08\x01\x05" + INITIATE_RSP[2:]
    apdu = decode_apdu(aare(CONTEXT, RESULT_OK, DIAG_OK, tlv(0xBE, tlv(0x04, with_qos))))
    assert isinstance(apdu, Aare)
    assert apdu.initiate == InitiateResponse(Conformance.GET, 500)


def test_initiate_request_with_every_optional_field() -> None:
    """Dedicated key, response-allowed and QoS are read past."""
    request = b"\x01\x01\x02ab\x01\x00\x01\x05" + INITIATE_REQ[4:]
    apdu = decode_apdu(aarq(CONTEXT, tlv(0xBE, tlv(0x04, request))))
    assert isinstance(apdu, Aarq)
    assert apdu.initiate == InitiateRequest()


def test_wrong_things_to_send_are_refused() -> None:
    """Encoding errors before anything leaves."""
    with pytest.raises(EncodeError, match="max PDU size"):
        InitiateRequest(max_pdu_size=0x10000).encode()
    with pytest.raises(EncodeError, match="needs the LLS mechanism"):
        Aarq(None, b"secret").encode()
    with pytest.raises(EncodeError, match="out of range"):
        AttributeRef(0x10000, Obis(1, 1, 1, 1, 1), 2).encode()
    with pytest.raises(EncodeError, match="one access selection per attribute"):
        GetRequestWithList(
            0xC1,
            (AttributeRef(3, Obis(1, 1, 1, 1, 1), 2),),
            (AccessSelection(1, b"\x00"), AccessSelection(1, b"\x00")),
        ).encode()
    with pytest.raises(EncodeError, match="block size must be positive"):
        split_into_blocks(0xC1, b"x", 0)


def test_rejections_read_as_text() -> None:
    """AARE rejections, service errors and exception responses explain themselves."""
    provider = Aare(AssociationResult.REJECTED_TRANSIENT, 2, diagnostic_from_provider=True)
    assert "ACSE provider diagnostic 2" in provider.describe_rejection()
    unknown = Aare(AssociationResult.REJECTED_PERMANENT, 99)
    assert "diagnostic 99" in unknown.describe_rejection()
    with_error = Aare(
        AssociationResult.REJECTED_PERMANENT,
        AcseDiagnostic.NO_REASON_GIVEN,
        service_error=ConfirmedServiceError(1, 6, 2),
    )
    assert "incompatible conformance" in with_error.describe_rejection()
    assert str(ConfirmedServiceError(5, 5, 3)) == "service 5 error 5 value 3"
    assert str(ExceptionResponse(9, 99)) == "exception response: 9, 99"
    assert decode_apdu(b"\xd8\x01\x06\x00\x00\x00\x01") == ExceptionResponse(1, 6)
    mechanism = Aare(AssociationResult.ACCEPTED, initiate=InitiateResponse(Conformance.GET, 9))
    lls = Aare(
        AssociationResult.ACCEPTED,
        initiate=InitiateResponse(Conformance.GET, 9),
        mechanism=Mechanism.LOW,
    )
    assert decode_apdu(lls.encode()) == lls
    assert decode_apdu(mechanism.encode()) == mechanism


def test_set_response_round_trip() -> None:
    """SET-Response-Normal, as the guide's SET example answers."""
    response = SetResponseNormal(0xC1, DataAccessResult.SUCCESS)
    assert decode_apdu(response.encode()) == response


def test_block_assembly_limits() -> None:
    """A refused block, an oversized transfer and trailing list bytes are DecodeErrors."""
    with pytest.raises(DecodeError, match="aborted"):
        DatablockAssembler().add(
            GetResponseWithDatablock(0xC1, True, 1, DataAccessResult.OTHER_REASON)
        )
    small = DatablockAssembler(max_size=3)
    with pytest.raises(DecodeError, match="exceeds 3 bytes"):
        small.add(GetResponseWithDatablock(0xC1, False, 1, b"abcd"))
    with pytest.raises(DecodeError, match="bytes after the list"):
        decode_list_payload(b"\x01\x00\x11\x05\x00")
    zero_based = DatablockAssembler()
    assert zero_based.add(GetResponseWithDatablock(0xC1, False, 0, b"ab")) is None
    assert zero_based.add(GetResponseWithDatablock(0xC1, True, 1, b"cd")) == b"abcd"
