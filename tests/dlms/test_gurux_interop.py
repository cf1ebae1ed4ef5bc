"""Interop with gurux-dlms, a reference client written by others (test-only dependency).

Gurux must build byte-identical SNRM, AARQ (LLS) and GET frames for the same parameters, and
must parse the replies our server-side codecs (the simulator's building blocks) produce.
"""

from typing import Any

from gurux_dlms import GXDLMSClient, GXReplyData
from gurux_dlms.enums import Authentication, Conformance as GuruxConformance, InterfaceType
from gurux_dlms.objects import GXDLMSData, GXDLMSRegister
import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    Aare,
    Aarq,
    AssociationResult,
    AttributeRef,
    GetRequestNormal,
    GetResponseNormal,
    InitiateRequest,
    InitiateResponse,
    Mechanism,
    add_llc,
    decode_apdu,
    invoke_id_and_priority,
    split_into_blocks,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.hdlc import ServerAddress, decode_frame
from custom_components.microstar_dlms.dlms.hdlc_link import (
    Connected,
    HdlcLink,
    HdlcServerLink,
    MessageReceived,
)
from custom_components.microstar_dlms.dlms.obis import Obis

from .vectors import AARQ_LLS_10, SNRM_1BYTE, SNRM_2BYTE, SNRM_4BYTE_1234

PASSWORD = "0123456789"


def to_gurux_bits(value: int) -> int:
    """Gurux numbers conformance bits from the other end (its bit n is our bit 23 - n)."""
    return sum(1 << n for n in range(24) if value & (1 << (23 - n)))


def gurux_client(server: ServerAddress, client_sap: int, password: str | None) -> Any:
    """A gurux client set up like ours: LN, LLS or none, conformance 00 30 1D, PDU FFFF."""
    if server.size == 1:
        address = server.logical
    else:
        address = GXDLMSClient.getServerAddress(server.logical, server.physical, server.size)
    client = GXDLMSClient(
        True,
        client_sap,
        address,
        Authentication.LOW if password else Authentication.NONE,
        password,
        InterfaceType.HDLC,
    )
    client.serverAddressSize = server.size
    client.proposedConformance = GuruxConformance(to_gurux_bits(DEFAULT_CONFORMANCE))
    client.maxReceivePDUSize = 0xFFFF
    return client


def feed(client: Any, frame: bytes) -> GXReplyData:
    """Let gurux parse one frame from our server side."""
    reply = GXReplyData()
    client.getData(bytearray(frame), reply)
    return reply


def connect_both(
    server: ServerAddress, password: str | None
) -> tuple[Any, HdlcLink, HdlcServerLink, bytes]:
    """SNRM/UA and AARQ/AARE for gurux and for our link, answered by our server codecs."""
    gurux = gurux_client(server, 1, password)
    ours = HdlcLink(server, 1)
    meter = HdlcServerLink(server)
    gurux_snrm = bytes(gurux.snrmRequest())
    assert gurux_snrm == ours.connect()
    (ua,), _ = meter.receive(decode_frame(gurux_snrm))
    gurux.parseUAResponse(feed(gurux, ua).data)
    assert isinstance(ours.receive(decode_frame(ua)), Connected)

    secret = password.encode() if password else None
    aarq = Aarq(Mechanism.LOW if secret else None, secret, InitiateRequest(DEFAULT_CONFORMANCE))
    (gurux_aarq,) = (bytes(frame) for frame in gurux.aarqRequest())
    assert gurux_aarq == ours.send(add_llc(aarq.encode()))
    _, request = meter.receive(decode_frame(gurux_aarq))
    assert request is not None
    assert decode_apdu(strip_llc(request, response=False)) == aarq
    aare = Aare(
        AssociationResult.ACCEPTED,
        initiate=InitiateResponse(DEFAULT_CONFORMANCE, 0x01F4),
        mechanism=Mechanism.LOW if secret else None,
    )
    aare_frame = meter.respond(add_llc(aare.encode(), response=True))
    gurux.parseAareResponse(feed(gurux, aare_frame).data)
    assert isinstance(ours.receive(decode_frame(aare_frame)), MessageReceived)
    return gurux, ours, meter, gurux_aarq


@pytest.mark.parametrize(
    ("server", "field_snrm"),
    [
        (ServerAddress(1), SNRM_1BYTE),
        (ServerAddress(1, 1, 2), SNRM_2BYTE),
        (ServerAddress(1, 1234, 4), SNRM_4BYTE_1234),
    ],
)
def test_gurux_builds_the_same_snrm(server: ServerAddress, field_snrm: bytes) -> None:
    """1-, 2- and 4-byte server addresses: gurux, our link and the field agree."""
    gurux = gurux_client(server, 1, PASSWORD)
    assert bytes(gurux.snrmRequest()) == field_snrm
    assert HdlcLink(server, 1).connect() == field_snrm


def test_gurux_builds_the_same_lls_aarq_and_parses_our_aare() -> None:
    """The 10-character LLS AARQ from the field, from gurux and from us; gurux takes our AARE."""
    gurux, _, _, gurux_aarq = connect_both(ServerAddress(1), PASSWORD)
    assert gurux_aarq == AARQ_LLS_10
    assert int(gurux.negotiatedConformance) == to_gurux_bits(DEFAULT_CONFORMANCE)
    assert gurux.negotiatedConformance & GuruxConformance.GET
    assert gurux.maxReceivePDUSize == 0x01F4


@pytest.mark.parametrize("server", [ServerAddress(1), ServerAddress(1, 1234, 4)])
def test_gurux_builds_the_same_get_and_parses_our_response(server: ServerAddress) -> None:
    """GET attr 3 and 2 of 1-1:32.7.0: identical frames; gurux decodes our answers."""
    gurux, ours, meter, _ = connect_both(server, None)
    register = GXDLMSRegister("1.1.32.7.0.255")
    voltage = Obis.parse("1-1:32.7.0")
    for attribute, answer in (
        (3, Data.structure(Data(DataType.INTEGER, -2), Data(DataType.ENUM, 35))),
        (2, Data(DataType.LONG_UNSIGNED, 23001)),
    ):
        (gurux_get,) = (bytes(frame) for frame in gurux.read(register, attribute))
        request = GetRequestNormal(invoke_id_and_priority(1), AttributeRef(3, voltage, attribute))
        assert gurux_get == ours.send(add_llc(request.encode()))
        _, received = meter.receive(decode_frame(gurux_get))
        assert received is not None
        assert decode_apdu(strip_llc(received, response=False)) == request
        reply = meter.respond(add_llc(GetResponseNormal(0xC1, answer).encode(), response=True))
        gurux.updateValue(register, attribute, feed(gurux, reply).value)
        assert isinstance(ours.receive(decode_frame(reply)), MessageReceived)
    assert register.scaler == pytest.approx(0.01)
    assert register.value == pytest.approx(230.01)


def test_gurux_reads_our_segmented_block_transfer() -> None:
    """A long value in GET datablocks, each HDLC-segmented by our server link: gurux
    acknowledges each segment with RR, asks for each block, and reassembles the value."""
    gurux, _, meter, _ = connect_both(ServerAddress(1), None)
    item = GXDLMSData("0.0.96.1.0.255")
    value = bytes(range(256)) * 3
    blocks = split_into_blocks(0xC1, Data.octet_string(value).encode(), 300)
    (request,) = (bytes(frame) for frame in gurux.read(item, 2))
    reply = GXReplyData()
    sent_blocks = segments_acknowledged = 0
    for _ in range(100):
        answers, complete = meter.receive(decode_frame(request))
        if complete is not None:  # GET-Request-Normal, then GET-Request-Next per block
            answers = [meter.respond(add_llc(blocks[sent_blocks].encode(), response=True))]
            sent_blocks += 1
        else:
            segments_acknowledged += 1
        (frame,) = answers
        gurux.getData(bytearray(frame), reply)
        if not reply.isMoreData():
            break
        request = bytes(gurux.receiverReady(reply))
    assert sent_blocks == len(blocks) == 3
    assert segments_acknowledged == 2 + 2 + 1  # 128-byte segments of 315, 315, 186 bytes
    assert bytes(reply.value) == value
