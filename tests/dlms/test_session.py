"""The sans-IO DLMS session, driven by plain function calls against the simulator's meter on a
direct line (no socket, no clock).

What these pin is the state machine itself (dlms/session.py): the frames it writes, the order of
association, reads and release, and that an interrupted session's next frame is DISC.
"""

from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    LLC_RESPONSE,
    AttributeRef,
    Conformance,
    ExceptionResponse,
    GetRequestNormal,
    GetResponseNormal,
    decode_apdu,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data
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
    Idle,
    MeterMemory,
    NeedData,
    NoiseArrived,
    Opened,
    OperationResult,
    Transmit,
)
from custom_components.microstar_dlms.dlms.settings import ConnectionSettings
from microstar_sim import (
    ClientAccess,
    DatablocksFromZero,
    Fault,
    MeterConfig,
    OddAnswer,
    RequestKind,
)
from microstar_sim.line import DirectLine

from .simulated import OBJECT_LIST, SERIAL, SERIAL_NUMBER, VOLTAGE, VOLTAGE_SCALER
from .vectors import AARQ_LLS_10, DISC_1BYTE, GET_32_7_0_ATTR3, SNRM_1BYTE

SERVER = ServerAddress(1)
LIST_GRANT = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
DISC_16 = disc_frame(SERVER, 16).encode()
ONE_APDU = 0xFFFF  # a meter PDU that takes the object list whole: one answer, many segments


def meter_line(*faults: Fault, **meter: Any) -> DirectLine:
    """The field meter (changed by ``meter``, MeterConfig fields) on a direct line."""
    return DirectLine.to_meter(MeterConfig(load_profile_history_days=0, **meter), faults=faults)


def value_of(line: DirectLine, ref: AttributeRef) -> Data:
    """The attribute as the meter holds it now."""
    return line.meter.value(str(ref.obis), ref.attribute)


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


def run(session: DlmsSession, line: DirectLine) -> tuple[OperationResult, list[bytes]]:
    """Drive the session's running operation against the meter; its result and what it sent."""
    sent: list[bytes] = []
    while True:
        event = session.next_event()
        if isinstance(event, Transmit):
            sent.append(event.data)
            if answer := line.feed(event.data):
                session.receive_data(answer)
        elif isinstance(event, NeedData):
            raise AssertionError("the meter answered everything, yet the session waits")
        elif isinstance(event, Idle):
            raise AssertionError("no operation is running")
        elif not isinstance(event, FrameArrived | NoiseArrived):
            return event, sent


def opened(line: DirectLine, memory: MeterMemory | None = None, **changes: object) -> DlmsSession:
    """A session with its link and association up."""
    session = DlmsSession(field_settings(**changes), memory)
    session.open()
    result, _ = run(session, line)
    assert isinstance(result, Opened)
    return session


def read(session: DlmsSession, line: DirectLine, refs: list[AttributeRef]) -> AttributesRead:
    """One whole read."""
    session.read(refs)
    result, _ = run(session, line)
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


def segments_of(line: DirectLine, ref: AttributeRef) -> tuple[int, int]:
    """How many 128-byte segments the meter's answer to one GET of ``ref`` takes, and how many
    bytes they are on the wire (11 of each frame are flags, header and checks)."""
    answer = LLC_RESPONSE + GetResponseNormal(0xC1, value_of(line, ref)).encode()
    segments = -(-len(answer) // 128)
    return segments, len(answer) + 11 * segments


def test_a_poll_writes_the_field_frames_byte_for_byte() -> None:
    """SNRM, the LLS AARQ, the first GET and DISC are the field team's frames (field notes §4);
    a normal end is RLRQ then DISC, and the meter then holds nothing."""
    line = meter_line(clients=(ClientAccess(1, "0123456789"),))
    memory = MeterMemory()
    session = DlmsSession(field_settings(client_sap=1, password=b"0123456789"), memory)
    session.open()
    _, sent = run(session, line)
    assert sent == [SNRM_1BYTE, AARQ_LLS_10]
    session.read([VOLTAGE_SCALER])
    result, sent = run(session, line)
    assert sent == [GET_32_7_0_ATTR3]
    assert isinstance(result, AttributesRead)
    assert result.results[0].value == [-2, 35]
    session.release()
    result, sent = run(session, line)
    assert apdu_names(sent) == ["ReleaseRequest", "DISC"]
    assert sent[-1] == DISC_1BYTE
    assert result == Ended(clean=True)
    assert not memory.unclean
    assert line.meter.link is None
    assert session.next_event() == IDLE


def test_after_an_unclean_end_the_session_opens_with_disc() -> None:
    """The last session to this meter did not end with an answered DISC: the next one says
    DISC before SNRM, and a DM answer clears the memory."""
    line = meter_line()
    memory = MeterMemory(unclean=True)
    session = DlmsSession(field_settings(), memory)
    session.open()
    _, sent = run(session, line)
    assert apdu_names(sent) == ["DISC", "SNRM", "Aarq"]
    assert line.record.heard()[:2] == ["DISC", "SNRM"]
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


def _snrm_sends(session: DlmsSession) -> tuple[list[Transmit], str]:
    """Open ``session`` against silence: the SNRMs it sends, and the NoAnswer that ends it
    (then the abort's DISC, written, as the client does)."""
    session.open()
    sent = []
    while True:
        try:
            event = session.next_event()
        except NoAnswer as err:
            session.abort()
            assert session.next_event() == Transmit(DISC_16, starts_wait=False)
            assert session.next_event() == Ended(clean=False)
            return sent, str(err)
        assert isinstance(event, Transmit)
        sent.append(event)
        assert session.next_event() == NEED_DATA
        session.timed_out()


def test_each_snrm_waits_a_third_of_the_response_timeout_and_a_silent_meter_gets_one() -> None:
    """The response timeout (3 s) is shared by the three SNRMs (1 s each: a meter answers
    within one turnaround); a meter whose last SNRM went unanswered gets one SNRM per session,
    so a silent meter costs a shared line 1 s per poll, not 9 s. An answer restores the three."""
    memory = MeterMemory()
    snrm = Transmit(snrm_frame(SERVER, 16).encode(), wait=1.0)
    sent, error = _snrm_sends(DlmsSession(field_settings(), memory))
    assert [e.data for e in sent] == [snrm.data] * 3
    assert sent[0] == snrm
    assert "after 3 tries of 1 s" in error
    assert memory.snrm_unanswered
    sent, error = _snrm_sends(DlmsSession(field_settings(), memory))
    assert sent == [snrm]
    assert "within 1 s" in error

    back = DlmsSession(field_settings(), memory)
    back.open()
    result, sent_back = run(back, meter_line())
    assert isinstance(result, Opened)
    assert apdu_names(sent_back) == ["SNRM", "Aarq"]
    assert not memory.snrm_unanswered


@pytest.mark.parametrize(
    ("response_timeout", "wait"), [(3.0, 1.0), (9.0, 3.0), (2.0, 1.0), (0.5, 0.5)]
)
def test_the_snrm_wait_is_a_third_of_the_response_timeout_at_least_one_turnaround(
    response_timeout: float, wait: float
) -> None:
    """Never under SNRM_ANSWER_WAIT (1 s: one turnaround doubled) unless the response timeout
    itself is shorter; a slow link's longer timeout lengthens it."""
    assert field_settings(response_timeout=response_timeout).snrm_wait == wait


def test_a_probe_sends_one_snrm_waited_briefly_and_the_session_keeps_its_retries() -> None:
    """Probing an address (automatic address size): one SNRM with its own short wait, no
    repeat, NoAnswer at once; a DISC first is bounded alike. Once the meter's UA is in, the
    AARQ goes with the response timeout and is repeated as any request."""
    memory = MeterMemory(unclean=True)
    silent = DlmsSession(field_settings(snrm_probe=0.8), memory)
    silent.open()
    assert silent.next_event() == Transmit(DISC_16, wait=0.8)
    assert silent.next_event() == NEED_DATA
    silent.timed_out()
    assert silent.next_event() == Transmit(snrm_frame(SERVER, 16).encode(), wait=0.8)
    assert silent.next_event() == NEED_DATA
    silent.timed_out()
    with pytest.raises(NoAnswer, match=r"within 0\.8 s"):
        silent.next_event()
    silent.abort()
    assert silent.next_event() == Transmit(DISC_16, starts_wait=False)  # written, not waited

    line = meter_line()
    answering = DlmsSession(field_settings(snrm_probe=0.8))
    answering.open()
    snrm = answering.next_event()
    assert snrm == Transmit(snrm_frame(SERVER, 16).encode(), wait=0.8)
    answering.receive_data(line.feed(snrm.data))
    while isinstance(aarq := answering.next_event(), FrameArrived):
        pass
    assert isinstance(aarq, Transmit)
    assert aarq.wait is None  # the settings' response timeout
    assert answering.next_event() == NEED_DATA
    answering.timed_out()  # the AARE lost on the line
    again = answering.next_event()
    assert isinstance(again, Transmit)
    assert again.data == aarq.data
    result, _ = run_after(answering, line, again)
    assert isinstance(result, Opened)


def run_after(
    session: DlmsSession, line: DirectLine, pending: Transmit
) -> tuple[OperationResult, list[bytes]]:
    """``run``, with ``pending`` (taken from the session already) written to the meter first."""
    if answer := line.feed(pending.data):
        session.receive_data(answer)
    return run(session, line)


def test_list_reads_are_cut_to_the_meters_pdu() -> None:
    """A meter granting GET-with-list with a 46-byte PDU gets lists of four; results keep
    the order asked."""
    line = meter_line(grant_multiple_references=True, max_pdu_size=46)
    session = opened(line, conformance=LIST_GRANT)
    refs = [SERIAL, VOLTAGE, VOLTAGE_SCALER, SERIAL, VOLTAGE, VOLTAGE_SCALER, SERIAL]
    result = read(session, line, refs)
    assert [r.ref for r in result.results] == refs
    assert [r.data for r in result.results] == [value_of(line, ref) for ref in refs]
    assert line.record.heard().count("GetRequestWithList") == 2  # 4 + 3


def test_a_failed_list_falls_back_and_the_meter_is_remembered() -> None:
    """Granted but rejected: the same read goes on one GET per attribute, and the next session
    to this meter does not try a list again."""
    refused = OddAnswer(RequestKind.GET_LIST, ExceptionResponse(1, 2).encode())
    line = meter_line(refused, grant_multiple_references=True)
    memory = MeterMemory()
    session = opened(line, memory, conformance=LIST_GRANT)
    result = read(session, line, [SERIAL, VOLTAGE])
    assert [r.data for r in result.results] == [value_of(line, SERIAL), value_of(line, VOLTAGE)]
    assert memory.single_gets
    fresh = meter_line(grant_multiple_references=True)
    again = opened(fresh, memory, conformance=LIST_GRANT)
    read(again, fresh, [SERIAL, VOLTAGE])
    assert "GetRequestWithList" not in fresh.record.heard()


def test_datablocks_numbered_from_zero_reassemble() -> None:
    """A meter numbering its first GET datablock 0 still gives the whole value."""
    line = meter_line(DatablocksFromZero(), max_pdu_size=116)  # datablocks of 100 bytes
    session = opened(line)
    result = read(session, line, [OBJECT_LIST, SERIAL])
    listed = value_of(line, OBJECT_LIST)
    assert result.results[0].data == listed
    assert result.results[1].value == SERIAL_NUMBER
    blocks = -(-len(listed.encode()) // 100)
    assert line.record.heard().count("GetRequestNext") == blocks - 1


def test_invoke_ids_run_one_to_fifteen_and_wrap() -> None:
    """Each GET takes the next 4-bit invoke id with the high-priority bit: C1 ... CF, C1."""
    line = meter_line()
    session = opened(line)
    invokes = []
    for _ in range(16):
        session.read([SERIAL])
        _, sent = run(session, line)
        request = decode_apdu(strip_llc(decode_frame(sent[0]).information, response=False))
        assert isinstance(request, GetRequestNormal)
        invokes.append(request.invoke_id_and_priority)
    assert invokes == [0xC0 | n for n in range(1, 16)] + [0xC1]


def test_the_long_answer_comes_in_segments() -> None:
    """The transfer the abort property cuts: one GET answered in 20 HDLC segments."""
    line = meter_line(max_pdu_size=ONE_APDU)
    session = opened(line)
    result = read(session, line, [OBJECT_LIST])
    assert result.results[0].data == value_of(line, OBJECT_LIST)
    assert segments_of(line, OBJECT_LIST)[0] == 20
    assert line.record.heard().count("RR") == 19
    assert "GetRequestNext" not in line.record.heard()


def test_an_unanswered_read_ends_with_disc_not_rlrq() -> None:
    """The meter stops answering mid-session: after the retransmissions the read fails, and the
    end of that session is DISC alone (the association is out of step)."""
    line = meter_line()
    session = opened(line)
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
    line = meter_line()
    session = opened(line, memory)
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
    share=st.integers(min_value=0, max_value=9_999),  # of 10,000: always short of the whole
    chunk=st.integers(min_value=1, max_value=400),
    how=st.sampled_from(["cancelled", "failed"]),
)
def test_an_interrupted_transfer_ends_with_disc_and_nothing_else(
    share: int, chunk: int, how: str
) -> None:
    """Cancel (abort) or fail (release while out of step) at any byte of a 20-segment answer
    short of its last: the session's next frame is DISC, no RR for the rest of the answer and
    no RLRQ ever follows, and the meter's UA leaves nothing open."""
    memory = MeterMemory()
    line = meter_line(max_pdu_size=ONE_APDU)
    session = opened(line, memory)
    heard_before = len(line.record.heard())
    session.read([OBJECT_LIST])
    wire = b""  # the meter's bytes not yet read by the client
    budget = segments_of(line, OBJECT_LIST)[1] * share // 10_000
    finished = False
    while True:
        event = session.next_event()
        if isinstance(event, Transmit):
            wire += line.feed(event.data)
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
    assert not finished
    assert not session.in_step  # an answer is pending until the whole of it is in
    heard_at_end = len(line.record.heard())
    if how == "cancelled":
        session.abort()
    else:
        session.release()
    assert session.next_event() == Transmit(DISC_16)
    # The rest of what was on the line arrives: nothing is answered.
    session.receive_data(wire)
    while (event := session.next_event()) != NEED_DATA:
        assert isinstance(event, FrameArrived)
    answer = line.feed(DISC_16)
    session.receive_data(answer)
    events = []
    while (event := session.next_event()) != IDLE:
        events.append(event)
    assert events[-1] == Ended(clean=True)
    assert not any(isinstance(e, Transmit) for e in events)
    assert not memory.unclean
    assert line.meter.link is None
    assert line.record.heard()[heard_at_end:] == ["DISC"]
    assert "ReleaseRequest" not in line.record.heard()[heard_before:]


def test_a_refused_value_is_an_item_error_not_a_failure() -> None:
    """An object the meter does not have fails only its own item."""
    line = meter_line()
    session = opened(line)
    missing = AttributeRef(3, Obis.parse("1-1:99.99.0"), 2)
    result = read(session, line, [missing, SERIAL])
    assert result.results[0].error is not None
    assert result.results[0].error.result is DataAccessResult.OBJECT_UNDEFINED
    assert result.results[1].value == SERIAL_NUMBER
