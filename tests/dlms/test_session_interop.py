"""The sans-IO session against meters that refuse, shift and stall in the field's ways (issue
24), driven with plain calls against the simulator's meter on a direct line: a refused object
fails its item only; a late DM is the answer to the DISC it followed."""

import pytest

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    AttributeRef,
    Conformance,
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
from microstar_sim import (
    REFUSALS,
    FixedInvokeId,
    IgnoreDisc,
    IgnoreRelease,
    RefuseWithException,
    TrailingBytes,
)
from microstar_sim.line import DirectLine

from .simulated import OBJECT_LIST, SERIAL, SERIAL_NUMBER, VOLTAGE, VOLTAGE_SCALER
from .test_session import apdu_names, field_settings, meter_line, run, value_of

LIST_GRANT = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
DM_16 = dm_frame(16, ServerAddress(1)).encode()
DISC_16 = disc_frame(ServerAddress(1), 16).encode()


def _open(line: DirectLine, settings: ConnectionSettings, memory: MeterMemory) -> DlmsSession:
    session = DlmsSession(settings, memory)
    session.open()
    result, _ = run(session, line)
    assert isinstance(result, Opened)
    return session


def _read(session: DlmsSession, line: DirectLine, refs: list[AttributeRef]) -> AttributesRead:
    session.read(refs)
    result, _ = run(session, line)
    assert isinstance(result, AttributesRead)
    return result


@pytest.mark.parametrize("refusal", REFUSALS)
@pytest.mark.parametrize("grant", [DEFAULT_CONFORMANCE, LIST_GRANT], ids=["one GET", "list"])
def test_a_refused_object_fails_only_its_item(refusal: str, grant: Conformance) -> None:
    """The meter answers the voltage's GET with no usable GET-Response (an exception, a service
    error, an undecodable answer, a list of nothing): that item is a RequestRefusedError, the
    serial and the scaler are read, and the session ends normally (RLRQ, DISC). A meter
    granting lists refuses the whole list holding the voltage: one GET per attribute follows,
    with the same outcome."""
    refuse = RefuseWithException(str(VOLTAGE.obis), attribute=2, answer=refusal)
    line = meter_line(refuse, grant_multiple_references=grant is LIST_GRANT)
    memory = MeterMemory()
    session = _open(line, field_settings(conformance=grant), memory)
    result = _read(session, line, [SERIAL, VOLTAGE, VOLTAGE_SCALER])
    serial, voltage, scaler = result.results
    assert serial.value == SERIAL_NUMBER
    assert scaler.value == [-2, 35]
    assert isinstance(voltage.error, RequestRefusedError)
    assert session.in_step
    again = _read(session, line, [VOLTAGE, SERIAL])
    assert isinstance(again.results[0].error, RequestRefusedError)
    assert again.results[1].ok
    session.release()
    ended, sent = run(session, line)
    assert apdu_names(sent) == ["ReleaseRequest", "DISC"]
    assert ended == Ended(clean=True)


def test_answers_that_do_not_echo_the_invoke_id_are_taken() -> None:
    """Every answer carries invoke id C1 (a block transfer's too): the values are read, as
    Gurux and u9n read them."""
    line = meter_line(FixedInvokeId(0xC1), max_pdu_size=1016)  # datablocks of 1000 bytes
    session = _open(line, field_settings(), MeterMemory())
    for _ in range(2):  # the second read's invoke id is C2 or later
        result = _read(session, line, [SERIAL, VOLTAGE, OBJECT_LIST])
        assert [r.ok for r in result.results] == [True, True, True]
    assert result.results[2].data == value_of(line, OBJECT_LIST)
    assert line.record.heard().count("GetRequestNext") == 4  # 2 x 3 datablocks


def test_bytes_after_the_apdu_are_ignored() -> None:
    """A meter padding its answers after the APDU is read."""
    line = meter_line(TrailingBytes(b"\x00\x00"))
    session = _open(line, field_settings(), MeterMemory())
    result = _read(session, line, [SERIAL, VOLTAGE_SCALER])
    assert [r.value for r in result.results] == [SERIAL_NUMBER, [-2, 35]]


def test_a_late_dm_to_the_disc_first_is_not_the_snrm_answer() -> None:
    """The last session ended uncleanly: DISC first. Its DM arrives only after the wait ran out
    and the SNRM went out: it answers the DISC, not the SNRM, and the session opens on the UA
    that follows (issue 24, item 9)."""
    line = meter_line()
    session = DlmsSession(field_settings(), MeterMemory(unclean=True))
    session.open()
    disc = session.next_event()
    assert isinstance(disc, Transmit)
    late_dm = line.feed(disc.data)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    snrm = session.next_event()
    assert isinstance(snrm, Transmit)
    session.receive_data(late_dm + line.feed(snrm.data))
    result, _ = run(session, line)
    assert isinstance(result, Opened)
    assert line.record.heard() == ["DISC", "SNRM", "I", "Aarq"]


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
    line = meter_line(IgnoreRelease(), IgnoreDisc())
    memory = MeterMemory()
    first = _open(line, field_settings(), memory)
    first.release()
    rlrq = first.next_event()
    assert isinstance(rlrq, Transmit)
    assert not line.feed(rlrq.data)
    assert first.next_event() == NEED_DATA
    first.timed_out()
    disc = first.next_event()
    assert disc == Transmit(DISC_16)
    assert not line.feed(disc.data)
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
    result, sent = run(second, line)  # the SNRM follows at once: no wait in between
    assert isinstance(result, Opened)
    assert apdu_names(sent) == ["SNRM", "Aarq"]
    second.release()
    result, sent = run(second, line)
    assert sent == [DISC_16]
    assert result == Ended(clean=False)
    assert not memory.unclean

    third = DlmsSession(field_settings(), memory)
    third.open()
    result, sent = run(third, line)
    assert apdu_names(sent) == ["SNRM", "Aarq"]


def test_an_aborted_transfer_teaches_nothing_about_disc() -> None:
    """A DISC unanswered while the meter may still be sending (an abort mid-answer) says
    nothing about the meter: the next session still waits for its DISC-first."""
    line = meter_line(IgnoreDisc())
    memory = MeterMemory()
    session = _open(line, field_settings(), memory)
    session.read([OBJECT_LIST])
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
    line = meter_line(IgnoreDisc())
    memory = MeterMemory(unclean=True)
    session = DlmsSession(field_settings(), memory)
    session.open()
    disc = session.next_event()
    assert disc == Transmit(DISC_16)
    assert not line.feed(disc.data)
    assert session.next_event() == NEED_DATA
    session.timed_out()
    result, _ = run(session, line)
    assert isinstance(result, Opened)
    assert memory.disc_unanswered
    session.release()
    result, sent = run(session, line)
    assert apdu_names(sent) == ["ReleaseRequest", "DISC"]
    assert result == Ended(clean=False)
