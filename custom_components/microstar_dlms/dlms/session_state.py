"""The client session's states and the one table of its transitions (``h11/_state.py``'s idea).

``DlmsSession`` (session.py) does the protocol: it chooses each frame, decodes the answers and
remembers what a meter taught (``MeterMemory``). This module only says where each of those
moves leads, and which moves exist at all: a move the table does not list raises
``SessionStateError``. Inputs are the caller's requests, the frames the session sends and what
the meter does; a choice between legal moves that depends on ``MeterMemory`` (DISC first or not,
RLRQ skipped, a DISC not waited for) is the session's and is named at its row.

States name what holds: what was sent and not yet answered (LINKING, ASSOCIATING, READING,
RELEASING, DISCONNECTING), or what is to be sent next (RELEASED, ABORTING, ABANDONING), or
what is up (LINKED, ASSOCIATED). How a session ends, read off the table:

- **Release is RLRQ then DISC.** ``ASSOCIATED --SEND_RLRQ--> RELEASING``, and whatever answers
  it (or nothing) leads to ``RELEASED``, where the only frame left is DISC; a link without an
  association is released with DISC alone (``LINKED --RELEASE--> RELEASED``).
- **Abort is DISC at once.** ``ABORT`` takes every state where a link may be open to
  ``ABORTING``, whose only frame is DISC: no RLRQ, no RR for the rest of a segmented answer, no
  GET-Request-Next. ``DISCONNECTING`` (DISC sent) ends in ``CLOSED`` on its answer or after one
  wait in silence.
- **Release out of step is abort**: outside ``IN_STEP`` (an answer pending, a failed exchange)
  ``RELEASE`` goes where ``ABORT`` goes.
- **An SNRM nobody answered ends with DISC written, not waited for** (``ABANDONING``): a silent
  meter costs no further wait (field notes §6).
- **Nothing open, nothing sent**: before any frame, or after the meter said DM, the end is
  ``CLOSED`` at once.
- **An unclean end makes the next session start with DISC**: a session that did not end with an
  answered DISC leaves ``MeterMemory.unclean``, and the next one goes
  ``IDLE --SEND_DISC--> DISCONNECTING_FIRST`` before its SNRM.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Final

from .errors import SessionStateError


class State(Enum):
    """Where a session is; the value says what holds there (for messages)."""

    IDLE = "the session is not open: nothing sent yet, or the DISC-first answered"
    DISCONNECTING_FIRST = "DISC sent before SNRM, as the last session to this meter ended uncleanly"
    LINKING = "SNRM sent and not answered with UA (not yet, or never: silence or FRMR)"
    LINKED = "the link is up and no association (AARQ next, or the AARE refused it)"
    ASSOCIATING = "AARQ sent, the AARE not yet (fully) in"
    ASSOCIATED = "the association is up and in step: no answer pending"
    READING = "a GET sent, its answer not yet (fully) in"
    BROKEN = "an exchange failed (no answer after the retries, or FRMR): out of step"
    DROPPED = "the meter said DM: it holds no link of ours"
    RELEASING = "RLRQ sent, the normal end of the association"
    RELEASED = "the normal end with no association left: DISC next"
    ABORTING = "the end at once: DISC next, and nothing else"
    ABANDONING = "the end of an SNRM nobody answered: DISC next, written and not waited for"
    DISCONNECTING = "DISC sent, waited for once"
    CLOSED = "the session is over"


class Input(Enum):
    """What moves a session: the caller's requests, the session's frames, the meter's doing."""

    # The caller (DlmsSession's operations).
    OPEN = "open the session"
    READ = "send GET requests"
    RELEASE = "release the session"
    ABORT = "abort the session"
    # Frames the session sends.
    SEND_DISC = "send DISC and wait for its answer"
    WRITE_DISC = "write DISC and wait for nothing"
    SEND_SNRM = "send SNRM"
    SEND_AARQ = "send AARQ"
    SEND_GET = "send a GET request"
    SEND_RR = "send RR for a segment (or our own next segment)"
    SEND_RLRQ = "send RLRQ"
    # What the meter does (through the HDLC link), and what the session makes of it.
    LINK_UP = "take UA to SNRM"
    DISCONNECTED = "take UA to DISC, or DM"
    FRMR = "take FRMR"
    ANSWER = "take a whole answer (an APDU)"
    SILENCE = "give up waiting (no answer after the retries)"
    AARE_ACCEPTED = "take an AARE that accepts the association"


# Every move a session can make: TRANSITIONS[state][input] is the next state; anything else is
# a SessionStateError. A retransmission (the same frame after a response timeout) moves nothing.
TRANSITIONS: Final[Mapping[State, Mapping[Input, State]]] = {
    State.IDLE: {
        Input.OPEN: State.IDLE,
        Input.SEND_SNRM: State.LINKING,
        # The last session did not end with an answered DISC (MeterMemory.unclean): DISC
        # first, waited for, or only written to a meter known never to answer DISC.
        Input.SEND_DISC: State.DISCONNECTING_FIRST,
        Input.WRITE_DISC: State.DISCONNECTING_FIRST,
        Input.RELEASE: State.CLOSED,
        Input.ABORT: State.CLOSED,
    },
    State.DISCONNECTING_FIRST: {
        Input.DISCONNECTED: State.IDLE,  # the meter holds nothing
        Input.SILENCE: State.DISCONNECTING_FIRST,  # SNRM all the same
        Input.FRMR: State.DISCONNECTING_FIRST,
        Input.SEND_SNRM: State.LINKING,
        Input.RELEASE: State.ABORTING,
        Input.ABORT: State.ABORTING,
    },
    State.LINKING: {
        Input.LINK_UP: State.LINKED,
        Input.DISCONNECTED: State.DROPPED,  # DM: the meter refuses the link
        Input.SILENCE: State.LINKING,  # NoAnswer
        Input.FRMR: State.LINKING,
        Input.RELEASE: State.ABANDONING,
        Input.ABORT: State.ABANDONING,
    },
    State.LINKED: {
        Input.SEND_AARQ: State.ASSOCIATING,
        Input.AARE_ACCEPTED: State.ASSOCIATED,
        Input.RELEASE: State.RELEASED,  # no association: DISC alone
        Input.ABORT: State.ABORTING,
    },
    State.ASSOCIATING: {
        Input.SEND_RR: State.ASSOCIATING,
        Input.ANSWER: State.LINKED,  # the AARE, judged next
        Input.SILENCE: State.BROKEN,
        Input.FRMR: State.BROKEN,
        Input.DISCONNECTED: State.DROPPED,
        Input.RELEASE: State.ABORTING,
        Input.ABORT: State.ABORTING,
    },
    State.ASSOCIATED: {
        Input.READ: State.ASSOCIATED,
        Input.SEND_GET: State.READING,
        Input.RELEASE: State.ASSOCIATED,  # RLRQ next
        Input.SEND_RLRQ: State.RELEASING,
        # RLRQ skipped at a meter known never to answer it: the DISC ends the association too.
        Input.SEND_DISC: State.DISCONNECTING,
        Input.WRITE_DISC: State.CLOSED,  # ... and known never to answer DISC
        Input.ABORT: State.ABORTING,
    },
    State.READING: {
        Input.SEND_RR: State.READING,
        Input.ANSWER: State.ASSOCIATED,  # a refusal in it fails its item only
        Input.SILENCE: State.BROKEN,
        Input.FRMR: State.BROKEN,
        Input.DISCONNECTED: State.DROPPED,
        Input.RELEASE: State.ABORTING,  # no RR for the rest of the answer, no RLRQ
        Input.ABORT: State.ABORTING,
    },
    State.BROKEN: {
        Input.RELEASE: State.ABORTING,
        Input.ABORT: State.ABORTING,
    },
    State.DROPPED: {
        Input.RELEASE: State.CLOSED,
        Input.ABORT: State.CLOSED,
    },
    State.RELEASING: {
        Input.SEND_RR: State.RELEASING,
        Input.ANSWER: State.RELEASED,  # RLRE, or anything else
        Input.SILENCE: State.RELEASED,  # no RLRE (remembered): DISC all the same
        Input.FRMR: State.RELEASED,
        Input.DISCONNECTED: State.CLOSED,  # DM: the meter holds nothing
        Input.RELEASE: State.ABORTING,
        Input.ABORT: State.ABORTING,
    },
    State.RELEASED: {
        Input.SEND_DISC: State.DISCONNECTING,  # silence to it is learned (MeterMemory)
        Input.WRITE_DISC: State.CLOSED,  # a meter known never to answer DISC
        Input.RELEASE: State.RELEASED,
        Input.ABORT: State.ABORTING,
    },
    State.ABORTING: {
        Input.SEND_DISC: State.DISCONNECTING,  # silence to it teaches nothing
        Input.WRITE_DISC: State.CLOSED,  # a meter known never to answer DISC
        Input.RELEASE: State.ABORTING,
        Input.ABORT: State.ABORTING,
    },
    State.ABANDONING: {
        Input.WRITE_DISC: State.CLOSED,
        Input.RELEASE: State.ABANDONING,
        Input.ABORT: State.ABANDONING,
    },
    State.DISCONNECTING: {
        Input.DISCONNECTED: State.CLOSED,  # UA or DM: clean
        Input.SILENCE: State.CLOSED,  # one wait, no retransmission
        Input.FRMR: State.CLOSED,
        Input.RELEASE: State.ABORTING,
        Input.ABORT: State.ABORTING,
    },
    State.CLOSED: {
        Input.RELEASE: State.CLOSED,
        Input.ABORT: State.CLOSED,
    },
}

# No answer pending and no failed exchange: RELEASE is the normal end here.
IN_STEP: Final = frozenset({State.IDLE, State.LINKED, State.ASSOCIATED, State.RELEASED})


def next_state(state: State, happened: Input) -> State:
    """The state ``happened`` leads to from ``state``; SessionStateError when the table has none."""
    try:
        return TRANSITIONS[state][happened]
    except KeyError:
        raise SessionStateError(
            f"cannot {happened.value} in state {state.name} ({state.value})"
        ) from None
