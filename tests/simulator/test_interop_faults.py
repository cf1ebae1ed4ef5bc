"""The ways real meters refuse, shift and stall (issue 24) happen on the wire as they do in the
field: each fault mode seen by a client that writes every frame by hand."""

import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    AttributeRef,
    GetRequestNormal,
    ReleaseRequest,
    add_llc,
)
from custom_components.microstar_dlms.dlms.hdlc import (
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
    client_address,
    rnr_control,
    rr_control,
)
from custom_components.microstar_dlms.dlms.obis import Obis
from microstar_sim import (
    FAST,
    AnswerFromAddressSize,
    DatablocksFromZero,
    FixedInvokeId,
    IgnoreDisc,
    IgnoreRelease,
    MeterConfig,
    OddAnswer,
    OddFrame,
    ReceiveNotReady,
    ReceiveReadyFirst,
    RefuseWithException,
    RequestKind,
    ResponseLlc,
    SimulatorConfig,
    TrailingBytes,
    parse_fault,
)
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import CloseReason

from .wire_client import WireClient

VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
VOLTAGE_L2 = AttributeRef(3, Obis.parse("1-1:52.7.0"), 2)
OBJECT_LIST = AttributeRef(15, Obis.parse("0-0:40.0.0"), 2)


def _get(client: WireClient, ref: AttributeRef) -> HdlcFrame:
    return client.i_frame(add_llc(GetRequestNormal(0xC1, ref).encode()))


@pytest.mark.parametrize(
    ("answer", "apdu"),
    [("exception", "d8 01 02"), ("service-error", "0e 05 05 02")],
)
async def test_a_refused_object_is_answered_with_no_get_response(
    simulator: SimulatorFactory, answer: str, apdu: str
) -> None:
    """GET of the refused object gets ExceptionResponse or ConfirmedServiceError; the others
    read as before."""
    sim = await simulator()
    sim.set_fault(RefuseWithException("1-1:32.7.0", attribute=2, answer=answer))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        refusal = await client.exchange(GetRequestNormal(0xC1, VOLTAGE).encode())
        assert refusal.hex(" ") == apdu
        assert (await client.get(3, "1-1:52.7.0", 2)) is not None
        assert (await client.exchange(GetRequestNormal(0xC2, VOLTAGE).encode())).hex(" ") == apdu


async def test_an_answer_from_the_four_byte_form(simulator: SimulatorFactory) -> None:
    """A meter hand-set to logical 1, physical 17 is addressed in the 2-byte form and answers
    from the 4-byte form, as the vendor's UA does (00 02 00 23)."""
    meter = MeterConfig(physical=17, address_size=2)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    sim.set_fault(AnswerFromAddressSize(4))
    async with await WireClient.connect(sim.port, ServerAddress(1, 17, 2)) as client:
        ua = await client.snrm()
    assert ua.kind is FrameKind.UA
    assert ua.source.encode().hex(" ") == "00 02 00 23"


async def test_rnr_then_the_answer_when_polled(simulator: SimulatorFactory) -> None:
    """The GET is acknowledged with RNR; the request sent again is dropped; an RR poll gets
    the answer."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        sim.set_fault(ReceiveNotReady())
        request = _get(client, VOLTAGE)
        await client.send(request)
        busy = await client.read_frame()
        assert busy.kind is FrameKind.RNR
        assert busy.control == rnr_control(client.send_seq)
        await client.send(request)
        await client.expect_silence(0.2)
        poll = HdlcFrame(client.server, client_address(1), rr_control(client.recv_seq))
        await client.send(poll)
        answer = await client.read_frame()
    assert answer.kind is FrameKind.I
    assert answer.information.startswith(b"\xe6\xe7\x00\xc4\x01\xc1")


async def test_a_window_of_three(simulator: SimulatorFactory) -> None:
    """A meter allowed a window of 3 sends three segments in a row, P/F only on the third,
    and the next three on the client's RR."""
    meter = MeterConfig(hdlc_window=3, max_pdu_size=6400)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    async with await WireClient.connect(sim.port) as client:
        ua = await client.snrm(HdlcParameters(window_rx=3))
        assert HdlcParameters.decode(ua.information).window_tx == 3
        await client.associate()
        await client.send(_get(client, OBJECT_LIST))
        first = [await client.read_frame() for _ in range(3)]
        await client.expect_silence(0.2)
        poll = HdlcFrame(client.server, client_address(1), rr_control(first[-1].send_seq + 1))
        await client.send(poll)
        second = [await client.read_frame() for _ in range(3)]
    frames = first + second
    assert [frame.send_seq for frame in frames] == [1, 2, 3, 4, 5, 6]
    assert [frame.poll_final for frame in frames] == [False, False, True] * 2
    assert all(frame.segmented for frame in frames)


@pytest.mark.parametrize("header", [b"\xe6\xe6\x00", b""], ids=["request header", "none"])
async def test_answers_with_another_llc_header(simulator: SimulatorFactory, header: bytes) -> None:
    """Answers carry E6 E6 00 or no LLC header at all."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.snrm()
        sim.set_fault(ResponseLlc(header))
        await client.send(_get(client, VOLTAGE))  # no association yet: refused
        answer = await client.read_frame()
    assert answer.information == header + bytes.fromhex("d8 01 01")


async def test_rlrq_and_disc_go_unanswered(simulator: SimulatorFactory) -> None:
    """No RLRE to RLRQ, no UA to DISC; the DISC still ends the link."""
    sim = await simulator()
    sim.set_fault(IgnoreRelease())
    sim.set_fault(IgnoreDisc())
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        await client.send(client.i_frame(add_llc(ReleaseRequest().encode())))
        await client.expect_silence(0.2)
        await client.send(HdlcFrame(client.server, client_address(1), 0x53))  # DISC
        await client.expect_silence(0.2)
    await sim.settle()
    assert sim.record.sessions[-1].closed_by is CloseReason.DISC


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("refuse:1-1:32.7.0", RefuseWithException("1-1:32.7.0")),
        (
            "refuse:0-0:96.1.0,attribute=2,answer=service-error,count=1",
            RefuseWithException("0-0:96.1.0", 2, "service-error", 1),
        ),
        ("answer-address-size:2", AnswerFromAddressSize(2)),
        ("rnr", ReceiveNotReady()),
        ("rnr:3", ReceiveNotReady(count=3)),
        ("llc", ResponseLlc()),
        ("llc:header=", ResponseLlc(b"")),
        ("no-rlre", IgnoreRelease()),
        ("no-ua-to-disc:count=1", IgnoreDisc(count=1)),
        (
            "refuse:1-1:32.7.0,answer=undecodable",
            RefuseWithException("1-1:32.7.0", None, "undecodable"),
        ),
        ("rr-first", ReceiveReadyFirst()),
        ("blocks-from-zero", DatablocksFromZero()),
        ("fixed-invoke-id:0xc5", FixedInvokeId(0xC5)),
        ("padding", TrailingBytes()),
        ("padding:ff", TrailingBytes(b"\xff")),
        ("odd-answer:get-list,apdu=d80102", OddAnswer(RequestKind.GET_LIST, b"\xd8\x01\x02")),
        ("odd-answer:rlrq,apdu=,count=1", OddAnswer(RequestKind.RLRQ, b"", 1)),
        ("odd-frame:snrm,frame=7e7e", OddFrame(RequestKind.SNRM, b"\x7e\x7e")),
    ],
)
def test_the_new_fault_specs_parse(spec: str, expected: object) -> None:
    """The command-line / control-port syntax builds each of them."""
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["refuse:1-1:32.7.0,answer=shrug", "answer-address-size:1", "odd-answer:hello,apdu=00"],
)
def test_bad_new_fault_specs_are_refused(spec: str) -> None:
    """A refusal nobody sends, an address form without a physical part or a request nobody
    makes is an error."""
    with pytest.raises(ValueError, match=r"must be|bad value"):
        parse_fault(spec)
