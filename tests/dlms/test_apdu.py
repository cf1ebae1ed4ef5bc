"""ACSE and xDLMS APDUs: field vectors, both sides, round trips."""

import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
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
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    InitiateRequest,
    InitiateResponse,
    Mechanism,
    ReleaseRequest,
    ReleaseResponse,
    add_llc,
    decode_apdu,
    decode_list_payload,
    invoke_id_and_priority,
    split_into_blocks,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.errors import DataAccessResult, DecodeError, EncodeError
from custom_components.microstar_dlms.dlms.hdlc import (
    HdlcFrame,
    ServerAddress,
    client_address,
    decode_frame,
    i_control,
)
from custom_components.microstar_dlms.dlms.obis import Obis, ScalerUnit, Unit

from .vectors import (
    AARQ_LLS_10,
    AARQ_VENDOR_NO_AUTH,
    GET_31_7_0_ATTR2,
    GET_32_7_0_ATTR3,
    SCALER_UNIT_FCS,
    SCALER_UNIT_INFO,
)

VOLTAGE_L1 = Obis.parse("1-1:32.7.0")
CURRENT_L1 = Obis.parse("1-1:31.7.0")


def _client_i_frame(server: ServerAddress, client: int, ns: int, nr: int, apdu: bytes) -> bytes:
    return HdlcFrame(server, client_address(client), i_control(ns, nr), add_llc(apdu)).encode()


def test_conformance_of_the_microstar() -> None:
    """00 30 1D grants GET, block transfer, SET, ACTION, selective access; no multiple-refs."""
    assert DEFAULT_CONFORMANCE.to_bytes3() == bytes.fromhex("00 30 1D")
    assert Conformance.GET in DEFAULT_CONFORMANCE
    assert Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ in DEFAULT_CONFORMANCE
    assert Conformance.MULTIPLE_REFERENCES not in DEFAULT_CONFORMANCE
    assert Conformance.MULTIPLE_REFERENCES.to_bytes3() == bytes.fromhex("00 02 00")


def test_lls_aarq_with_ten_character_password() -> None:
    """The field AARQ: LLS, password 0123456789, conformance 00 30 1D, max PDU FFFF."""
    aarq = Aarq(Mechanism.LOW, b"0123456789", InitiateRequest(DEFAULT_CONFORMANCE, 0xFFFF))
    assert _client_i_frame(ServerAddress(1), 1, 0, 0, aarq.encode()) == AARQ_LLS_10
    decoded = decode_apdu(strip_llc(decode_frame(AARQ_LLS_10).information, response=False))
    assert decoded == aarq
    assert "0123456789" not in repr(decoded)


def test_vendor_aarq_without_authentication() -> None:
    """The vendor example AARQ (client 16, 4-byte address of physical 17)."""
    frame = _client_i_frame(ServerAddress(1, 17, 4), 16, 0, 0, Aarq().encode())
    assert frame == AARQ_VENDOR_NO_AUTH


@pytest.mark.parametrize("length", [1, 8, 127, 128, 255])
def test_aarq_password_lengths(length: int) -> None:
    """Any password of 1..255 bytes encodes with correct BER lengths and decodes back."""
    aarq = Aarq(Mechanism.LOW, bytes(range(48, 58)) * 26)
    aarq = Aarq(Mechanism.LOW, (b"x" * length))
    decoded = decode_apdu(aarq.encode())
    assert isinstance(decoded, Aarq)
    assert decoded.password == b"x" * length


@pytest.mark.parametrize("password", [b"", b"x" * 256])
def test_aarq_password_out_of_range(password: bytes) -> None:
    """Empty or over-long passwords are refused before anything is sent."""
    with pytest.raises(EncodeError):
        Aarq(Mechanism.LOW, password).encode()


def test_get_requests_match_field_frames() -> None:
    """GET attr 2 of 1-1:31.7.0 (N(S)=N(R)=4) and attr 3 of 1-1:32.7.0 (N(S)=N(R)=1)."""
    invoke = invoke_id_and_priority(1)
    assert invoke == 0xC1
    current = GetRequestNormal(invoke, AttributeRef(3, CURRENT_L1, 2))
    scaler = GetRequestNormal(invoke, AttributeRef(3, VOLTAGE_L1, 3))
    assert _client_i_frame(ServerAddress(1), 1, 4, 4, current.encode()) == GET_31_7_0_ATTR2
    assert _client_i_frame(ServerAddress(1), 1, 1, 1, scaler.encode()) == GET_32_7_0_ATTR3
    info = decode_frame(GET_32_7_0_ATTR3).information
    assert decode_apdu(strip_llc(info, response=False)) == scaler


def test_scaler_unit_response() -> None:
    """E6 E7 00 C4 01 01 00 02 02 0F FD 16 21 is {-3, A}; framed, its FCS is 4D C0."""
    apdu = decode_apdu(strip_llc(SCALER_UNIT_INFO, response=True))
    assert isinstance(apdu, GetResponseNormal)
    assert isinstance(apdu.result, Data)
    assert ScalerUnit.from_value(apdu.result.to_python()) == ScalerUnit(-3, Unit.AMPERE)
    assert apdu.encode() == SCALER_UNIT_INFO[3:]
    frame = HdlcFrame(client_address(1), ServerAddress(1), i_control(1, 2), SCALER_UNIT_INFO)
    assert frame.encode()[-3:-1] == SCALER_UNIT_FCS


def test_llc_direction_checked() -> None:
    """The meter's side takes only the request header; a client takes a response with either
    header or none (as Gurux does), but not a damaged one."""
    with pytest.raises(DecodeError):
        strip_llc(b"\xe6\xe7\x00\xc0", response=False)
    for header in (b"\xe6\xe7\x00", b"\xe6\xe6\x00", b""):
        assert strip_llc(header + b"\xc4\x01", response=True) == b"\xc4\x01"
    with pytest.raises(DecodeError):
        strip_llc(b"\xe6\xe7\x01\xc4", response=True)


def test_aare_accepted_round_trip() -> None:
    """Accepted AARE with negotiated conformance and server max PDU."""
    aare = Aare(
        AssociationResult.ACCEPTED,
        initiate=InitiateResponse(DEFAULT_CONFORMANCE, 0x01F4),
        mechanism=Mechanism.LOW,
    )
    decoded = decode_apdu(aare.encode())
    assert decoded == aare
    assert isinstance(decoded, Aare)
    assert decoded.accepted
    assert decoded.initiate is not None
    assert decoded.initiate.max_pdu_size == 500


def test_aare_vendor_bytes() -> None:
    """An AARE as Microstar meters send it (accepted, LLS, 00 30 1D, PDU 0x01F4)."""
    raw = bytes.fromhex(
        "61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00"
        " BE 10 04 0E 08 00 06 5F 1F 04 00 00 30 1D 01 F4 00 07"
    )
    aare = decode_apdu(raw)
    assert isinstance(aare, Aare)
    assert aare.accepted
    assert aare.initiate == InitiateResponse(DEFAULT_CONFORMANCE, 500)


def test_aare_rejected_authentication_failure() -> None:
    """Wrong password: rejected-permanent, diagnostic 13."""
    aare = Aare(
        AssociationResult.REJECTED_PERMANENT,
        AcseDiagnostic.AUTHENTICATION_FAILURE,
        service_error=ConfirmedServiceError(1, 6, 0),
    )
    decoded = decode_apdu(aare.encode())
    assert isinstance(decoded, Aare)
    assert not decoded.accepted
    assert decoded.authentication_failed
    assert "authentication failure" in decoded.describe_rejection()


def test_aare_rejected_other_reason_is_not_auth() -> None:
    """Application context not supported is a rejection, not an authentication failure."""
    aare = Aare(AssociationResult.REJECTED_PERMANENT, 2)
    decoded = decode_apdu(aare.encode())
    assert isinstance(decoded, Aare)
    assert not decoded.authentication_failed


def test_release_round_trip() -> None:
    """RLRQ 62 03 80 01 00 and RLRE 63 03 80 01 00 (and the empty forms)."""
    assert ReleaseRequest().encode() == bytes.fromhex("62 03 80 01 00")
    assert decode_apdu(bytes.fromhex("63 03 80 01 00")) == ReleaseResponse()
    assert decode_apdu(bytes.fromhex("63 00")) == ReleaseResponse(None)
    assert decode_apdu(bytes.fromhex("62 00")) == ReleaseRequest(None)


def test_get_with_list_and_next_round_trip() -> None:
    """Server side decodes what the client encodes."""
    refs = (AttributeRef(3, VOLTAGE_L1, 2), AttributeRef(3, CURRENT_L1, 2))
    for apdu in (
        GetRequestWithList(0xC2, refs),
        GetRequestNext(0xC3, 7),
        GetRequestNormal(
            0xC1,
            AttributeRef(7, Obis.parse("1-0:99.1.0"), 2),
            AccessSelection(1, Data.structure(Data(DataType.UNSIGNED, 1))),
        ),
        GetResponseWithList(
            0xC2, (Data(DataType.LONG_UNSIGNED, 23001), DataAccessResult.OBJECT_UNDEFINED)
        ),
        GetResponseNormal(0xC1, DataAccessResult.READ_WRITE_DENIED),
        GetResponseWithDatablock(0xC1, False, 1, b"\x01\x02"),
        GetResponseWithDatablock(0xC1, True, 2, DataAccessResult.LONG_GET_ABORTED),
        ExceptionResponse(1, 2),
        ConfirmedServiceError(5, 5, 3),
    ):
        assert decode_apdu(apdu.encode()) == apdu


def test_block_transfer_reassembly() -> None:
    """A long octet string split into blocks reassembles exactly."""
    payload = Data.octet_string(bytes(range(256)) * 3).encode()
    blocks = split_into_blocks(0xC1, payload, 200)
    assert [b.block_number for b in blocks] == [1, 2, 3, 4]
    assembler = DatablockAssembler()
    result = None
    for block in blocks:
        decoded = decode_apdu(block.encode())
        assert isinstance(decoded, GetResponseWithDatablock)
        result = assembler.add(decoded)
    assert result == payload


def test_block_number_out_of_sequence() -> None:
    """A skipped or repeated block is a DecodeError."""
    assembler = DatablockAssembler()
    assembler.add(GetResponseWithDatablock(0xC1, False, 1, b"a"))
    with pytest.raises(DecodeError, match="3 received, 2 expected"):
        assembler.add(GetResponseWithDatablock(0xC1, False, 3, b"b"))


def test_list_payload_of_a_block_transfer() -> None:
    """Block data of a GET-with-list is count + results."""
    response = GetResponseWithList(
        0xC1, (Data(DataType.UNSIGNED, 5), DataAccessResult.HARDWARE_FAULT)
    )
    assert decode_list_payload(response.encode()[3:]) == response.results


def test_unknown_data_access_result_maps_to_other() -> None:
    """A vendor code does not crash the decoder."""
    apdu = decode_apdu(bytes.fromhex("C4 01 C1 01 77"))
    assert isinstance(apdu, GetResponseNormal)
    assert apdu.result is DataAccessResult.OTHER_REASON


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "C0",
        "C0 09 C1",
        "C4 01 C1 02",
        "C4 02 C1 02 00 00 00 01 00 00",
        "61 03 A1 01 00",
        "60 02 BE 00",
        "62 03 80 01 07",
        "D8 01",
        "AA",
        "C4 03 C1 FF",
    ],
)
def test_malformed_apdus(wire: str) -> None:
    """Each raises DecodeError."""
    with pytest.raises(DecodeError):
        decode_apdu(bytes.fromhex(wire))


def test_invoke_id_range() -> None:
    """Only 4 bits of invoke id."""
    with pytest.raises(EncodeError):
        invoke_id_and_priority(16)
