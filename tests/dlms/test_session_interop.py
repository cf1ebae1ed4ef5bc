"""The sans-IO session against meters that refuse, shift and stall in the field's ways (issue
24), driven with plain calls against a socketless meter: a refused object fails its item only;
a late DM is the answer to the DISC it followed."""

import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    AttributeRef,
    ConfirmedServiceError,
    Conformance,
    ExceptionResponse,
    GetResponseWithList,
)
from custom_components.microstar_dlms.dlms.errors import (
    ProtocolError,
    RequestRefusedError,
    ResponseTimeout,
)
from custom_components.microstar_dlms.dlms.hdlc import ServerAddress, disc_frame, dm_frame
from custom_components.microstar_dlms.dlms.session import (
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

from .test_session import LONG, OBJECTS, SERIAL, VOLTAGE, VOLTAGE_SCALER, apdu_names, field_settings
from .wire_meter import WireMeter, run

LIST_GRANT = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
DM_16 = dm_frame(16, ServerAddress(1)).encode()
DISC_16 = disc_frame(ServerAddress(1), 16).encode()
REFUSALS = {
    "ExceptionResponse D8 01 02": ExceptionResponse(1, 2).encode(),
    "ConfirmedServiceError": ConfirmedServiceError(5, 5, 2).encode(),
    "undecodable": bytes.fromhex("c4 09 c1"),
    "a list answer": GetResponseWithList(0xC1, ()).encode(),
}


def _open(meter: WireMeter, settings: ConnectionSettings, memory: MeterMemory) -> DlmsSession:
    session = DlmsSession(settings, memory)
    session.open()
    result, _ = run(session, meter)
    assert isinstance(result, Opened)
    return session


def _read(session: DlmsSession, meter: WireMeter, refs: list[AttributeRef]) -> AttributesRead:
    session.read(refs)
    result, _ = run(session, meter)
    assert isinstance(result, AttributesRead)
    return result


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
@pytest.mark.parametrize("grant", [DEFAULT_CONFORMANCE, LIST_GRANT], ids=["one GET", "list"])
def test_a_refused_object_fails_only_its_item(refusal: bytes, grant: Conformance) -> None:
    """The meter answers the voltage's GET with no GET-Response: that item is a RequestRefusedError,
    the serial and the scaler are read, and the session ends normally (RLRQ, DISC). A meter
    granting lists that refuses the list gets one GET per attribute, with the same outcome."""
    meter = WireMeter(OBJECTS, conformance=grant, refusals={VOLTAGE: refusal}, list_answer=refusal)
    memory = MeterMemory()
    session = _open(meter, field_settings(conformance=grant), memory)
    result = _read(session, meter, [SERIAL, VOLTAGE, VOLTAGE_SCALER])
    serial, voltage, scaler = result.results
    assert serial.value == b"12341234"
    assert scaler.value == [-2, 35]
    assert isinstance(voltage.error, RequestRefusedError)
    assert session.in_step
    again = _read(session, meter, [VOLTAGE, SERIAL])
    assert isinstance(again.results[0].error, RequestRefusedError)
    assert again.results[1].ok
    session.release()
    ended, sent = run(session, meter)
    assert apdu_names(sent) == ["ReleaseRequest", "DISC"]
    assert ended == Ended(clean=True)


def test_answers_that_do_not_echo_the_invoke_id_are_taken() -> None:
    """Every answer carries invoke id C1 (a block transfer's too): the values are read, as
    Gurux and u9n read them."""
    meter = WireMeter(OBJECTS, echo_invoke=False, block_size=1000)
    session = _open(meter, field_settings(), MeterMemory())
    for _ in range(2):  # the second read's invoke id is C2 or later
        result = _read(session, meter, [SERIAL, VOLTAGE, LONG])
        assert [r.ok for r in result.results] == [True, True, True]
    assert result.results[2].data == OBJECTS[LONG]


def test_bytes_after_the_apdu_are_ignored() -> None:
    """A meter padding its answers after the APDU is read."""
    meter = WireMeter(OBJECTS, padding=b"\x00\x00")
    session = _open(meter, field_settings(), MeterMemory())
    result = _read(session, meter, [SERIAL, VOLTAGE_SCALER])
    assert [r.value for r in result.results] == [b"12341234", [-2, 35]]


def test_a_late_dm_to_the_disc_first_is_not_the_snrm_answer() -> None:
    """The last session ended uncleanly: DISC first. Its DM arrives only after the wait ran out
    and the SNRM went out: it answers the DISC, not the SNRM, and the session opens on the UA
    that follows (issue 24, item 9)."""
    meter = WireMeter(OBJECTS)
    session = DlmsSession(field_settings(), MeterMemory(unclean=True))
    session.open()
    disc = session.next_event()
    assert isinstance(disc, Transmit)
    late_dm = meter.feed(disc.data)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    snrm = session.next_event()
    assert isinstance(snrm, Transmit)
    session.receive_data(late_dm + meter.feed(snrm.data))
    result, _ = run(session, meter)
    assert isinstance(result, Opened)
    assert meter.frames_heard() == ["DISC", "SNRM", "I"]


def test_a_meter_refusing_the_link_still_says_so() -> None:
    """After an unanswered DISC, a meter that answers every SNRM with DM: the first DM is taken
    for the DISC's, the SNRM sent again gets DM too, and that is the refusal."""
    session = DlmsSession(field_settings(retries=1), MeterMemory(unclean=True))
    session.open()
    assert isinstance(session.next_event(), Transmit)  # DISC
    assert session.next_event() == NEED_DATA
    session.timed_out()
    assert isinstance(session.next_event(), Transmit)  # SNRM
    session.receive_data(DM_16)
    assert isinstance(session.next_event(), FrameArrived)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    assert isinstance(session.next_event(), Transmit)  # SNRM again
    session.receive_data(DM_16)
    assert isinstance(session.next_event(), FrameArrived)
    with pytest.raises(ProtocolError, match="answered SNRM with DM"):
        session.next_event()


def test_a_meter_that_never_answers_rlrq_or_disc_is_remembered() -> None:
    """Session 1 waits for RLRE and for UA once each and learns the meter answers neither.
    Session 2 opens with its DISC first and goes on to SNRM without waiting, and ends with DISC
    alone, again not waited for; session 3 opens with SNRM (issue 24, item 6)."""
    meter = WireMeter(OBJECTS, answer_rlrq=False, answer_disc=False)
    memory = MeterMemory()
    first = _open(meter, field_settings(), memory)
    first.release()
    rlrq = first.next_event()
    assert isinstance(rlrq, Transmit)
    meter.feed(rlrq.data)
    assert first.next_event() == NEED_DATA
    first.timed_out()
    disc = first.next_event()
    assert disc == Transmit(DISC_16)
    assert first.next_event() == NEED_DATA
    first.timed_out()
    with pytest.raises(ResponseTimeout):
        first.next_event()
    assert memory.rlrq_unanswered
    assert memory.disc_unanswered
    assert memory.unclean

    second = DlmsSession(field_settings(), memory)
    second.open()
    assert second.next_event() == Transmit(DISC_16, starts_wait=False)
    result, sent = run(second, meter)  # the SNRM follows at once: no wait in between
    assert isinstance(result, Opened)
    assert apdu_names(sent) == ["SNRM", "Aarq"]
    second.release()
    result, sent = run(second, meter)
    assert sent == [DISC_16]
    assert result == Ended(clean=False)
    assert not memory.unclean

    third = DlmsSession(field_settings(), memory)
    third.open()
    result, sent = run(third, meter)
    assert apdu_names(sent) == ["SNRM", "Aarq"]


def test_an_aborted_transfer_teaches_nothing_about_disc() -> None:
    """A DISC unanswered while the meter may still be sending (an abort mid-answer) says
    nothing about the meter: the next session still waits for its DISC-first."""
    meter = WireMeter(OBJECTS, answer_disc=False)
    memory = MeterMemory()
    session = _open(meter, field_settings(), memory)
    session.read([LONG])
    assert isinstance(session.next_event(), Transmit)
    session.abort()
    assert session.next_event() == Transmit(DISC_16)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    with pytest.raises(ResponseTimeout):
        session.next_event()
    assert not memory.disc_unanswered
    assert memory.unclean


def test_a_silent_disc_first_before_an_answered_snrm_is_learned() -> None:
    """The DISC-first waited out in silence, then SNRM answered at once: the meter is there and
    does not answer DISC; this session's own DISC is then not waited for."""
    meter = WireMeter(OBJECTS, answer_disc=False)
    memory = MeterMemory(unclean=True)
    session = DlmsSession(field_settings(), memory)
    session.open()
    disc = session.next_event()
    assert disc == Transmit(DISC_16)
    meter.feed(disc.data)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    result, _ = run(session, meter)
    assert isinstance(result, Opened)
    assert memory.disc_unanswered
    session.release()
    result, sent = run(session, meter)
    assert apdu_names(sent) == ["ReleaseRequest", "DISC"]
    assert result == Ended(clean=False)
