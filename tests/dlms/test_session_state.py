"""The session's state table (dlms/session_state.py) walked whole, and a session walking it.

The rules of how a session ends are properties of the table: these tests read them off it
(every state reachable, every way to CLOSED leaves a DISC or nothing open, abort sends DISC and
nothing else, release is RLRQ then DISC), and check that a move outside it is refused.
"""

from collections import deque
from collections.abc import Iterable

import pytest

from custom_components.microstar_dlms.dlms.errors import (
    DlmsError,
    ProtocolError,
    ResponseTimeout,
    SessionStateError,
)
from custom_components.microstar_dlms.dlms.session import (
    IDLE,
    NEED_DATA,
    DlmsSession,
    Ended,
    MeterMemory,
    Transmit,
)
from custom_components.microstar_dlms.dlms.session_state import (
    IN_STEP,
    TRANSITIONS,
    Input,
    State,
    next_state,
)

from .simulated import SERIAL
from .test_session import DISC_16, field_settings, meter_line, opened

SENDS = frozenset(
    {
        Input.SEND_DISC,
        Input.WRITE_DISC,
        Input.SEND_SNRM,
        Input.SEND_AARQ,
        Input.SEND_GET,
        Input.SEND_RR,
        Input.SEND_RLRQ,
    }
)
DISC = frozenset({Input.SEND_DISC, Input.WRITE_DISC})
CALLER = frozenset({Input.OPEN, Input.READ, Input.RELEASE, Input.ABORT})


def reachable(start: State, inputs: Iterable[Input] = tuple(Input)) -> set[State]:
    """The states reachable from ``start`` through ``inputs`` (``start`` included)."""
    allowed = set(inputs)
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for happened, target in TRANSITIONS[state].items():
            if happened in allowed and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def sends_from(start: State) -> set[Input]:
    """Every frame the session may still send from ``start`` on (not calling READ or OPEN)."""
    inputs = set(Input) - {Input.READ, Input.OPEN}
    return {
        happened
        for state in reachable(start, inputs)
        for happened in TRANSITIONS[state]
        if happened in SENDS
    }


def test_every_state_is_reachable_and_every_one_can_end() -> None:
    """From IDLE the table reaches every state it names; from each, RELEASE and ABORT are
    listed and CLOSED can be reached; CLOSED leads nowhere else."""
    assert set(TRANSITIONS) == set(State)
    assert reachable(State.IDLE) == set(State)
    for state in State:
        assert {Input.RELEASE, Input.ABORT} <= set(TRANSITIONS[state]), state
        assert State.CLOSED in reachable(state), state
    assert set(TRANSITIONS[State.CLOSED].values()) == {State.CLOSED}


def test_every_way_to_closed_leaves_a_disc_or_nothing_open() -> None:
    """Walk every path from IDLE, tracking whether this session may have a link open at the
    meter (from its SNRM until the meter says UA/DM to a DISC, or DM) and whether its last
    frame was DISC: wherever CLOSED is reached, the last frame was DISC or nothing is open."""
    start = (State.IDLE, False, False)  # state, a link may be open, the last frame was DISC
    seen = {start}
    queue = deque([start])
    endings = set()
    while queue:
        state, may_be_open, disc_last = queue.popleft()
        for happened, target in TRANSITIONS[state].items():
            opened_now = may_be_open
            last = disc_last
            if happened in SENDS:
                last = happened in DISC
            if happened is Input.SEND_SNRM:
                opened_now = True
            elif happened is Input.DISCONNECTED:
                opened_now = False
            step = (target, opened_now, last)
            if target is State.CLOSED:
                assert last or not opened_now, f"{state.name} --{happened.name}--> CLOSED"
                endings.add((opened_now, last))
            if step not in seen:
                seen.add(step)
                queue.append(step)
    # Both kinds of ending exist: after a DISC, and with nothing open.
    assert {(True, True), (False, False)} <= endings


def test_abort_sends_disc_at_once_and_nothing_else() -> None:
    """From every state ABORT leads where the only frame left to send is DISC (no RLRQ, no RR
    for the rest of a segmented answer, no GET-Request-Next), or to CLOSED when nothing is
    open; an SNRM nobody answered gets a DISC written, not waited for."""
    for state in State:
        after = TRANSITIONS[state][Input.ABORT]
        assert after in {State.ABORTING, State.ABANDONING, State.CLOSED}, state
        assert sends_from(after) <= DISC, state
    assert TRANSITIONS[State.READING][Input.ABORT] is State.ABORTING
    assert sends_from(State.ABANDONING) == {Input.WRITE_DISC}
    for state in (State.IDLE, State.DROPPED, State.CLOSED):
        assert TRANSITIONS[state][Input.ABORT] is State.CLOSED


def test_release_is_rlrq_then_disc_and_out_of_step_is_abort() -> None:
    """Releasing an association sends RLRQ, then, whatever answers it or none, only DISC; a
    link without association is released with DISC alone; out of step, RELEASE goes where
    ABORT goes."""
    assert TRANSITIONS[State.ASSOCIATED][Input.RELEASE] is State.ASSOCIATED  # RLRQ next
    assert TRANSITIONS[State.ASSOCIATED][Input.SEND_RLRQ] is State.RELEASING
    assert sends_from(State.RELEASING) <= DISC | {Input.SEND_RR}  # RR: a segmented RLRE
    for answer in (Input.ANSWER, Input.SILENCE, Input.FRMR):
        assert TRANSITIONS[State.RELEASING][answer] is State.RELEASED, answer
    assert sends_from(State.RELEASED) == DISC
    assert TRANSITIONS[State.LINKED][Input.RELEASE] is State.RELEASED
    for state in set(State) - IN_STEP:
        assert TRANSITIONS[state][Input.RELEASE] is TRANSITIONS[state][Input.ABORT], state
    for state in IN_STEP - {State.IDLE}:
        assert TRANSITIONS[state][Input.RELEASE] is not TRANSITIONS[state][Input.ABORT], state


def test_an_unclean_end_is_cleared_with_disc_before_snrm() -> None:
    """Before its SNRM a session is IDLE or DISCONNECTING_FIRST: one DISC, IDLE's (sent when
    the last session ended uncleanly), and the next frame is the SNRM."""
    before_snrm = set(Input) - {Input.SEND_SNRM, Input.RELEASE, Input.ABORT}
    assert reachable(State.IDLE, before_snrm) == {State.IDLE, State.DISCONNECTING_FIRST}
    for disc in DISC:
        assert TRANSITIONS[State.IDLE][disc] is State.DISCONNECTING_FIRST
    assert set(TRANSITIONS[State.DISCONNECTING_FIRST]) & SENDS == {Input.SEND_SNRM}
    assert TRANSITIONS[State.DISCONNECTING_FIRST][Input.SEND_SNRM] is State.LINKING


def test_every_move_outside_the_table_is_refused() -> None:
    """Each (state, input) the table does not list raises SessionStateError, a ProtocolError
    of the package's hierarchy that names the state and the move."""
    refused = 0
    for state in State:
        for happened in set(Input) - set(TRANSITIONS[state]):
            with pytest.raises(SessionStateError, match=f"in state {state.name}"):
                next_state(state, happened)
            refused += 1
    assert refused > 100
    assert issubclass(SessionStateError, ProtocolError)
    assert issubclass(SessionStateError, DlmsError)


def test_a_poll_walks_the_table() -> None:
    """Open, read and release against a meter: the session's states, one after the other."""
    line = meter_line()
    session = DlmsSession(field_settings(), MeterMemory())
    states = [session.state]

    def drive() -> None:
        while (event := session.next_event()) != IDLE:
            if isinstance(event, Transmit) and (answer := line.feed(event.data)):
                session.receive_data(answer)
            if session.state is not states[-1]:
                states.append(session.state)

    session.open()
    drive()
    session.read([SERIAL])
    drive()
    session.release()
    drive()
    assert states == [
        State.IDLE,
        State.LINKING,
        State.LINKED,
        State.ASSOCIATING,
        State.LINKED,
        State.ASSOCIATED,
        State.READING,
        State.ASSOCIATED,
        State.RELEASING,
        State.RELEASED,
        State.DISCONNECTING,
        State.CLOSED,
    ]


def test_the_session_refuses_what_its_state_does_not_allow() -> None:
    """Reading before the session is open, opening twice, reading after a failed exchange:
    each raises SessionStateError and sends nothing; the failed session still ends with DISC."""
    fresh = DlmsSession(field_settings())
    with pytest.raises(SessionStateError, match="not open"):
        fresh.read([SERIAL])
    assert fresh.next_event() == IDLE
    line = meter_line()
    session = opened(line)
    with pytest.raises(SessionStateError, match="cannot open"):
        session.open()
    session.read([SERIAL])
    assert isinstance(session.next_event(), Transmit)
    assert session.next_event() == NEED_DATA
    for _retransmission in range(2):
        session.timed_out()
        assert isinstance(session.next_event(), Transmit)  # the GET again
        assert session.next_event() == NEED_DATA
    session.timed_out()
    with pytest.raises(ResponseTimeout):
        session.next_event()
    assert session.state is State.BROKEN
    with pytest.raises(SessionStateError, match="BROKEN"):
        session.read([SERIAL])
    session.release()
    assert session.state is State.ABORTING
    assert session.next_event() == Transmit(DISC_16)
    assert session.state is State.DISCONNECTING
    session.receive_data(line.feed(DISC_16))
    events = []
    while (event := session.next_event()) != IDLE:
        events.append(event)
    assert events[-1] == Ended(clean=True)
    assert session.state is State.CLOSED
