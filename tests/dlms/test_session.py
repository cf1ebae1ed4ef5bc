"""The sans-IO DLMS session, driven by plain function calls against a meter with no socket.

What these pin is the state machine itself (dlms/session.py): the frames it writes, the order of
association, reads and release, and that an interrupted session's next frame is DISC.
"""

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    AttributeRef,
    Conformance,
    ExceptionResponse,
    GetRequestNormal,
    decode_apdu,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.errors import (
    DataAccessResult,
    NoAnswer,
    ResponseTimeout,
)
from custom_components.microstar_dlms.dlms.hdlc import (
    FrameKind,
    ServerAddress,
    decode_frame,
    disc_frame,
    snrm_frame,
)
from custom_components.microstar_dlms.dlms.obis import Obis
from custom_components.microstar_dlms.dlms.session import (
    IDLE,
    NEED_DATA,
    AttributesRead,
    DlmsSession,
    Ended,
    FrameArrived,
    MeterMemory,
    Opened,
    Transmit,
)
from custom_components.microstar_dlms.dlms.settings import ConnectionSettings

from .vectors import AARQ_LLS_10, DISC_1BYTE, GET_32_7_0_ATTR3, SNRM_1BYTE
from .wire_meter import WireMeter, run

SERVER = ServerAddress(1)
SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
VOLTAGE_SCALER = AttributeRef(3, Obis.parse("1-1:32.7.0"), 3)
# 6300 bytes: with the LLC and GET header the answer is 6311 bytes, 50 segments of 128.
LONG = AttributeRef(1, Obis.parse("0-0:96.99.0"), 2)
OBJECTS = {
    SERIAL: Data.octet_string(b"12341234"),
    VOLTAGE: Data(DataType.LONG_UNSIGNED, 23001),
    VOLTAGE_SCALER: Data.structure(Data(DataType.INTEGER, -2), Data(DataType.ENUM, 35)),
    LONG: Data.octet_string(bytes(range(256)) * 24 + bytes(156)),
}
LIST_GRANT = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
DISC_16 = disc_frame(SERVER, 16).encode()


def field_settings(**changes: object) -> ConnectionSettings:
    """Public client 16, no password, the field grant 00 30 1D proposed."""
    values: dict[object, object] = {
        "endpoint": "socket://wire:3333",
        "server": SERVER,
        "client_sap": 16,
        "password": None,
        "conformance": DEFAULT_CONFORMANCE,
    }
    values.update(changes)
    return ConnectionSettings(**values)  # type: ignore[arg-type]  # test shorthand


def opened(meter: WireMeter, memory: MeterMemory | None = None, **changes: object) -> DlmsSession:
    """A session with its link and association up."""
    session = DlmsSession(field_settings(**changes), memory)
    session.open()
    result, _ = run(session, meter)
    assert isinstance(result, Opened)
    return session


def read(session: DlmsSession, meter: WireMeter, refs: list[AttributeRef]) -> AttributesRead:
    """One whole read."""
    session.read(refs)
    result, _ = run(session, meter)
    assert isinstance(result, AttributesRead)
    return result


def apdu_names(frames: list[bytes]) -> list[str]:
    """The APDUs in the information fields of frames the client sent."""
    names = []
    for data in frames:
        frame = decode_frame(data)
        if frame.kind is FrameKind.I:
            names.append(type(decode_apdu(strip_llc(frame.information, response=False))).__name__)
        else:
            names.append(frame.kind.value)
    return names


def test_a_poll_writes_the_field_frames_byte_for_byte() -> None:
    """SNRM, the LLS AARQ, the first GET and DISC are the field team's frames (field notes §4);
    a normal end is RLRQ then DISC, and the meter then holds nothing."""
    meter = WireMeter(OBJECTS)
    memory = MeterMemory()
    session = DlmsSession(field_settings(client_sap=1, password=b"0123456789"), memory)
    session.open()
    _, sent = run(session, meter)
    assert sent == [SNRM_1BYTE, AARQ_LLS_10]
    session.read([VOLTAGE_SCALER])
    result, sent = run(session, meter)
    assert sent == [GET_32_7_0_ATTR3]
    assert isinstance(result, AttributesRead)
    assert result.results[0].value == [-2, 35]
    session.release()
    result, sent = run(session, meter)
    assert apdu_names(sent) == ["ReleaseRequest", "DISC"]
    assert sent[-1] == DISC_1BYTE
    assert result == Ended(clean=True)
    assert not memory.unclean
    assert not meter.link.connected
    assert session.next_event() == IDLE


def test_after_an_unclean_end_the_session_opens_with_disc() -> None:
    """The last session to this meter did not end with an answered DISC: the next one says
    DISC before SNRM, and a DM answer clears the memory."""
    meter = WireMeter(OBJECTS)
    memory = MeterMemory(unclean=True)
    session = DlmsSession(field_settings(), memory)
    session.open()
    _, sent = run(session, meter)
    assert apdu_names(sent) == ["DISC", "SNRM", "Aarq"]
    assert meter.frames_heard()[:2] == ["DISC", "SNRM"]
    assert memory.unclean  # until this session's own DISC is answered


def test_a_silent_meter_is_no_answer_after_the_retries() -> None:
    """Three SNRMs, each waited out, then NoAnswer; the end writes DISC and waits for nothing."""
    session = DlmsSession(field_settings())
    session.open()
    sent = []
    for _ in range(3):
        event = session.next_event()
        assert isinstance(event, Transmit)
        sent.append(event.data)
        assert session.next_event() == NEED_DATA
        session.timed_out()
    with pytest.raises(NoAnswer, match="after 3 tries"):
        session.next_event()
    assert sent == [snrm_frame(SERVER, 16).encode()] * 3
    session.abort()
    assert session.next_event() == Transmit(DISC_16, starts_wait=False)
    assert session.next_event() == Ended(clean=False)


def test_list_reads_are_cut_to_the_meters_pdu() -> None:
    """A meter granting GET-with-list with a 46-byte PDU gets lists of four; results keep
    the order asked."""
    meter = WireMeter(OBJECTS, conformance=LIST_GRANT, max_pdu=46)
    session = opened(meter, conformance=LIST_GRANT)
    refs = [SERIAL, VOLTAGE, VOLTAGE_SCALER, SERIAL, VOLTAGE, VOLTAGE_SCALER, SERIAL]
    result = read(session, meter, refs)
    assert [r.ref for r in result.results] == refs
    assert [r.value for r in result.results][:3] == [b"12341234", 23001, [-2, 35]]
    assert meter.heard.count("GetRequestWithList") == 2  # 4 + 3


def test_a_failed_list_falls_back_and_the_meter_is_remembered() -> None:
    """Granted but rejected: the same read goes on one GET per attribute, and the next session
    to this meter does not try a list again."""
    meter = WireMeter(OBJECTS, conformance=LIST_GRANT, list_answer=ExceptionResponse(1, 2).encode())
    memory = MeterMemory()
    session = opened(meter, memory, conformance=LIST_GRANT)
    result = read(session, meter, [SERIAL, VOLTAGE])
    assert [r.value for r in result.results] == [b"12341234", 23001]
    assert memory.single_gets
    fresh = WireMeter(OBJECTS, conformance=LIST_GRANT)
    again = opened(fresh, memory, conformance=LIST_GRANT)
    read(again, fresh, [SERIAL, VOLTAGE])
    assert "GetRequestWithList" not in fresh.heard


def test_datablocks_numbered_from_zero_reassemble() -> None:
    """A meter numbering its first GET datablock 0 still gives the whole value."""
    meter = WireMeter(OBJECTS, block_size=100, first_block_number=0)
    session = opened(meter)
    result = read(session, meter, [LONG, SERIAL])
    assert result.results[0].data == OBJECTS[LONG]
    assert result.results[1].value == b"12341234"
    assert meter.heard.count("GetRequestNext") == 63


def test_invoke_ids_run_one_to_fifteen_and_wrap() -> None:
    """Each GET takes the next 4-bit invoke id with the high-priority bit: C1 ... CF, C1."""
    meter = WireMeter(OBJECTS)
    session = opened(meter)
    invokes = []
    for _ in range(16):
        session.read([SERIAL])
        _, sent = run(session, meter)
        request = decode_apdu(strip_llc(decode_frame(sent[0]).information, response=False))
        assert isinstance(request, GetRequestNormal)
        invokes.append(request.invoke_id_and_priority)
    assert invokes == [0xC0 | n for n in range(1, 16)] + [0xC1]


def test_the_long_answer_is_fifty_segments() -> None:
    """The transfer the abort property cuts: one GET answered in 50 HDLC segments."""
    meter = WireMeter(OBJECTS)
    session = opened(meter)
    result = read(session, meter, [LONG])
    assert result.results[0].data == OBJECTS[LONG]
    assert meter.heard.count("RR") == 49


def test_an_unanswered_read_ends_with_disc_not_rlrq() -> None:
    """The meter stops answering mid-session: after the retransmissions the read fails, and the
    end of that session is DISC alone (the association is out of step)."""
    meter = WireMeter(OBJECTS)
    session = opened(meter)
    session.read([SERIAL])
    first = session.next_event()
    assert isinstance(first, Transmit)
    retransmissions = []
    assert session.next_event() == NEED_DATA
    for _ in range(2):
        session.timed_out()
        event = session.next_event()
        assert isinstance(event, Transmit)
        retransmissions.append(event.data)
        assert session.next_event() == NEED_DATA
    assert retransmissions == [first.data, first.data]
    session.timed_out()
    with pytest.raises(ResponseTimeout):
        session.next_event()
    assert not session.in_step
    session.release()
    assert session.next_event() == Transmit(DISC_16)


def test_the_disc_of_an_abort_waits_one_response_timeout() -> None:
    """DISC is not repeated: one response timeout without UA ends the abort, and the meter is
    remembered as holding a link."""
    memory = MeterMemory()
    meter = WireMeter(OBJECTS)
    session = opened(meter, memory)
    session.abort()
    assert session.next_event() == Transmit(DISC_16)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    with pytest.raises(ResponseTimeout):
        session.next_event()
    assert session.next_event() == IDLE
    assert memory.unclean


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    delivered=st.integers(min_value=0, max_value=7200),
    chunk=st.integers(min_value=1, max_value=400),
    how=st.sampled_from(["cancelled", "failed"]),
)
def test_an_interrupted_transfer_ends_with_disc_and_nothing_else(
    delivered: int, chunk: int, how: str
) -> None:
    """Cancel (abort) or fail (release while out of step) at any byte of a 50-segment answer:
    the session's next frame is DISC, no RR for the rest of the answer and no RLRQ ever
    follows, and the meter's UA leaves nothing open."""
    memory = MeterMemory()
    meter = WireMeter(OBJECTS)
    session = opened(meter, memory)
    heard_before = len(meter.heard)
    session.read([LONG])
    wire = b""  # the meter's bytes not yet read by the client
    budget = delivered
    finished = False
    while True:
        event = session.next_event()
        if isinstance(event, Transmit):
            wire += meter.feed(event.data)
        elif event == NEED_DATA:
            if budget == 0:
                break
            piece = wire[: min(chunk, budget)]
            assert piece, "the meter owes the client nothing, yet the session waits"
            wire = wire[len(piece) :]
            budget -= len(piece)
            session.receive_data(piece)
        elif isinstance(event, AttributesRead):
            finished = True
            break
    assert session.in_step == finished  # an answer is pending until the whole of it is in
    heard_at_end = len(meter.heard)
    if how == "cancelled":
        session.abort()
    else:
        session.release()
    assert session.next_event() == Transmit(DISC_16)
    # The rest of what was on the line arrives: nothing is answered.
    session.receive_data(wire)
    while (event := session.next_event()) != NEED_DATA:
        assert isinstance(event, FrameArrived)
    answer = meter.feed(DISC_16)
    session.receive_data(answer)
    events = []
    while (event := session.next_event()) != IDLE:
        events.append(event)
    assert events[-1] == Ended(clean=True)
    assert not any(isinstance(e, Transmit) for e in events)
    assert not memory.unclean
    assert not meter.link.connected
    assert meter.heard[heard_at_end:] == ["DISC"]
    assert "ReleaseRequest" not in meter.heard[heard_before:]


def test_a_refused_value_is_an_item_error_not_a_failure() -> None:
    """An object the meter does not have fails only its own item."""
    meter = WireMeter(OBJECTS)
    session = opened(meter)
    missing = AttributeRef(3, Obis.parse("1-1:52.7.0"), 2)
    result = read(session, meter, [missing, SERIAL])
    assert result.results[0].error is not None
    assert result.results[0].error.result is DataAccessResult.OBJECT_UNDEFINED
    assert result.results[1].value == b"12341234"
