"""HDLC link state machines (IEC 62056-46 normal response mode), client and server side.

Sans-IO: frames in, events and frame bytes out. Long messages go out in segments (segmentation
bit set) and come in the same way. Every Microstar negotiates a window of 1 (one segment, then
the peer's RR); a station with a larger window sends up to that many I-frames, P/F set only on
the last. Both roles share one station (sequence numbers, segmenting, reassembly, repeats);
they differ in who polls and in how strictly they treat a peer that breaks the rules (the
client reports it, the meter stays silent).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import FrameError
from .hdlc import (
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
    client_address,
    disc_frame,
    dm_frame,
    i_control,
    rnr_control,
    rr_control,
    snrm_frame,
    ua_frame,
)

MAX_MESSAGE = 1 << 20  # no COSEM response we read comes close; bounds reassembly memory
MAX_POLLS = 3  # RR polls answering the meter's bare RR before waiting out the timeout


class LinkState(Enum):
    """Where the link is."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"


@dataclass(frozen=True, slots=True)
class Connected:
    """UA received for our SNRM; ``parameters`` are from the client's point of view."""

    parameters: HdlcParameters


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The link is down: UA to our DISC, or DM (the meter says it is not connected)."""

    kind: FrameKind


@dataclass(frozen=True, slots=True)
class SendFrame:
    """The link must send this frame now (RR for a segment, or our next segment).

    ``progress`` is False for a poll (RR after the meter's bare RR): nothing new arrived, so
    the wait for the answer must not start over.
    """

    data: bytes
    progress: bool = True


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """FRMR: the meter rejected our frame; the link is unusable until DISC/SNRM."""

    information: bytes


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete (reassembled) information field from the peer."""

    information: bytes


@dataclass(frozen=True, slots=True)
class InWindow:
    """A segment inside the meter's window (P/F=0) was taken: the meter keeps the turn, so
    nothing is sent until the window's last frame (P/F=1)."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """A frame that changes nothing (not for us, a duplicate, an unsolicited RR)."""

    reason: str


type LinkEvent = (
    Connected | Disconnected | SendFrame | MessageReceived | FrameRejected | InWindow | Ignored
)


def _segments(information: bytes, size: int) -> list[bytes]:
    return [information[i : i + size] for i in range(0, len(information), size)] or [b""]


def negotiate(proposed: HdlcParameters, capability: HdlcParameters) -> HdlcParameters:
    """Server side: the UA parameters (server's view) for a client's SNRM proposal."""
    return HdlcParameters(
        max_info_tx=min(capability.max_info_tx, proposed.max_info_rx),
        max_info_rx=min(capability.max_info_rx, proposed.max_info_tx),
        window_tx=min(capability.window_tx, proposed.window_rx),
        window_rx=min(capability.window_rx, proposed.window_tx),
    )


class _Station:
    """What both ends of a link share: N(S)/N(R), our segments, the peer's, the last frame."""

    def __init__(self, max_message: int) -> None:
        self._max_message = max_message
        self._vs = 0  # N(S) of our next I-frame
        self._vr = 0  # N(S) we expect from the peer
        self._last_sent = b""
        self._outgoing: list[bytes] = []  # segments of our message not yet sent
        self._window: list[bytes] = []  # our I-frames the peer has not acknowledged yet
        self._incoming = bytearray()  # segments of the peer's message so far

    def _frame(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        """One frame from us to the peer."""
        raise NotImplementedError

    def _reset(self) -> None:
        self._vs = self._vr = 0
        self._outgoing.clear()
        self._window.clear()
        self._incoming.clear()

    def _remember(self, data: bytes) -> bytes:
        self._last_sent = data
        return data

    def _start_message(self, information: bytes, max_info: int, window: int = 1) -> list[bytes]:
        """The first window of our message; the rest go out as the peer's RRs come in."""
        self._outgoing = _segments(information, max_info)
        return self._send_window(window)

    def _send_window(self, window: int) -> list[bytes]:
        """Up to ``window`` segments; P/F only on the last, which hands the turn over."""
        frames: list[bytes] = []
        while self._outgoing and len(frames) < window:
            segment = self._outgoing.pop(0)
            final = not self._outgoing or len(frames) == window - 1
            frames.append(self._send_segment(segment, segmented=bool(self._outgoing), final=final))
        self._window = frames
        return frames

    def _send_segment(self, segment: bytes, *, segmented: bool, final: bool = True) -> bytes:
        data = self._frame(i_control(self._vs, self._vr, final), segment, segmented)
        self._vs = (self._vs + 1) % 8
        return self._remember(data)

    def _rr(self) -> bytes:
        return self._frame(rr_control(self._vr))

    def _after_rr(self, recv_seq: int, window: int = 1) -> list[bytes]:
        """Our next window when the peer's RR acknowledges all we sent; the frames it missed
        again when its N(R) points into our last window; else nothing."""
        if self._outgoing and recv_seq == self._vs:
            return self._send_window(window)
        missed = (self._vs - recv_seq) % 8
        if 0 < missed <= len(self._window):
            return self._window[-missed:]
        return []

    def _is_repeat(self, frame: HdlcFrame) -> bool:
        """The peer sent its last I-frame again: it missed our answer to it."""
        return frame.send_seq == (self._vr - 1) % 8

    def _take_information(self, frame: HdlcFrame) -> bytes | None:
        """Accept an in-sequence I-frame: the complete message, or None after a segment."""
        self._vr = (self._vr + 1) % 8
        if len(self._incoming) + len(frame.information) > self._max_message:
            self._incoming.clear()
            raise FrameError(f"segmented message exceeds {self._max_message} bytes")
        self._incoming += frame.information
        if frame.segmented:
            return None
        message = bytes(self._incoming)
        self._incoming.clear()
        return message


class HdlcLink(_Station):
    """Client (primary station) side of one HDLC link to one server address."""

    def __init__(
        self,
        server: ServerAddress,
        client_sap: int,
        proposed: HdlcParameters | None = None,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        super().__init__(max_message)
        self.server = server
        self.client_sap = client_sap
        self.client = client_address(client_sap)
        self.proposed = proposed
        self.parameters = HdlcParameters()
        self.state = LinkState.DISCONNECTED
        self._polls = 0  # RR polls since the meter last sent information
        self._disc_unanswered = False  # a DISC of ours got no answer before this SNRM
        self.disc_answered_late = False  # ... and its DM came while waiting for UA

    def _frame(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        return HdlcFrame(self.server, self.client, control, information, segmented).encode()

    # -- what to send ------------------------------------------------------------------------

    def connect(self) -> bytes:
        """SNRM (only non-default parameters in its group, none by default)."""
        self._disc_unanswered = self.state is LinkState.DISCONNECTING
        self.state = LinkState.CONNECTING
        self._reset()
        return self._remember(snrm_frame(self.server, self.client_sap, self.proposed).encode())

    def disconnect(self) -> bytes:
        """DISC."""
        self.state = LinkState.DISCONNECTING
        self._outgoing.clear()
        return self._remember(disc_frame(self.server, self.client_sap).encode())

    def send(self, information: bytes) -> bytes:
        """First I-frame of a message; further segments come out as SendFrame events."""
        if self.state is not LinkState.CONNECTED:
            raise FrameError(f"cannot send information while the link is {self.state.value}")
        if self._outgoing:
            raise FrameError("the previous message is still being sent")
        self._incoming.clear()
        self._polls = 0
        # One segment at a time whatever the window: our requests are short.
        return self._start_message(information, self.parameters.max_info_tx)[0]

    def retransmit(self) -> bytes:
        """The last frame again, unchanged (same N(S)/N(R)), after a lost answer; after RNR or
        within the meter's window, the RR poll for what it still owes."""
        return self._last_sent

    # -- what arrived --------------------------------------------------------------------------

    def receive(self, frame: HdlcFrame) -> LinkEvent:
        """Process one frame from the server; raise FrameError on a link protocol violation."""
        if not (
            self.client.same_station(frame.destination) and self.server.same_station(frame.source)
        ):
            return Ignored(f"frame for [{frame.destination}] from [{frame.source}]")
        kind = frame.kind
        if kind is FrameKind.FRMR:
            return FrameRejected(frame.information)
        if kind is FrameKind.DM:
            if self.state is LinkState.CONNECTING and self._disc_unanswered:
                # The late answer to the DISC before this SNRM (the DISC-first of a poll):
                # the SNRM's own answer is still to come. A meter refusing the link says DM
                # again to the SNRM sent again.
                self._disc_unanswered = False
                self.disc_answered_late = True
                return Ignored("DM: the late answer to our DISC")
            self.state = LinkState.DISCONNECTED
            return Disconnected(kind)
        if kind is FrameKind.UA:
            return self._receive_ua(frame)
        if self.state is not LinkState.CONNECTED:
            return Ignored(f"{kind.value} while {self.state.value}")
        if kind is FrameKind.I:
            return self._receive_information(frame)
        if kind is FrameKind.RR:
            return self._receive_rr(frame)
        if kind is FrameKind.RNR:
            return self._receive_rnr(frame)
        return Ignored(f"unexpected {kind.value}")

    def _receive_ua(self, frame: HdlcFrame) -> LinkEvent:
        if self.state is LinkState.CONNECTING:
            server_view = HdlcParameters.decode_lenient(frame.information)
            self.parameters = HdlcParameters(
                max_info_tx=server_view.max_info_rx,
                max_info_rx=server_view.max_info_tx,
                window_tx=server_view.window_rx,
                window_rx=server_view.window_tx,
            )
            self.state = LinkState.CONNECTED
            return Connected(self.parameters)
        if self.state is LinkState.DISCONNECTING:
            self.state = LinkState.DISCONNECTED
            return Disconnected(FrameKind.UA)
        return Ignored(f"UA while {self.state.value}")

    def _receive_information(self, frame: HdlcFrame) -> LinkEvent:
        if self._outgoing:
            raise FrameError("the meter sent information before our message was complete")
        if self._is_repeat(frame):
            # Our RR (or request) was lost and the meter repeats itself: repeat our answer.
            return SendFrame(self._last_sent) if self._incoming else Ignored("duplicate I-frame")
        if frame.send_seq != self._vr:
            raise FrameError(f"meter sent N(S)={frame.send_seq}, N(S)={self._vr} was expected")
        if frame.recv_seq != self._vs:
            raise FrameError(
                f"meter acknowledged N(R)={frame.recv_seq}, our next N(S) is {self._vs}"
            )
        self._polls = 0
        message = self._take_information(frame)
        if message is not None:
            return MessageReceived(message)
        if not frame.poll_final and self.parameters.window_rx > 1:
            # Inside a window above 1 (the meter's UA allowed it): an RR now would collide with
            # its next frame on a half-duplex line. A timeout polls for the rest instead. With
            # a window of 1 every segment is a whole window, whatever its P/F bit says.
            self._last_sent = self._rr()
            return InWindow()
        return SendFrame(self._remember(self._rr()))

    def _receive_rr(self, frame: HdlcFrame) -> LinkEvent:
        if not self._outgoing:
            return self._receive_bare_rr(frame)
        frames = self._after_rr(frame.recv_seq)
        if not frames:
            raise FrameError(f"meter RR N(R)={frame.recv_seq}, our next N(S) is {self._vs}")
        return SendFrame(b"".join(frames))

    def _receive_rnr(self, frame: HdlcFrame) -> LinkEvent:
        """RNR: the meter is busy. What its N(R) acknowledges is never sent again (a meter that
        drops duplicates would fail the poll): when the wait runs out, it is polled with RR(P=1),
        as in normal response mode a secondary speaks only when polled."""
        if frame.recv_seq != self._vs:
            return Ignored(f"RNR N(R)={frame.recv_seq}: our last frame is not taken")
        self._window = []
        self._last_sent = self._rr()  # what a timeout repeats: a poll, not our request
        return Ignored("RNR: the meter is busy; polled with RR when the wait runs out")

    def _receive_bare_rr(self, frame: HdlcFrame) -> LinkEvent:
        """RR(F=1) acknowledging everything: the meter has nothing yet and hands the turn back.

        In normal response mode the primary polls again with RR; resending our request would
        make the meter see a duplicate.
        """
        if not frame.poll_final or frame.recv_seq != self._vs:
            return Ignored("RR while not sending segments")
        if self._polls >= MAX_POLLS:
            return Ignored(f"bare RR after {MAX_POLLS} polls")
        self._polls += 1
        return SendFrame(self._remember(self._rr()), progress=False)


class HdlcServerLink(_Station):
    """Server (secondary station) side for simulators: one server address, any client SAP.

    ``receive`` returns the frames to send back (possibly none) and a complete request, if one
    arrived; ``respond`` turns the answer into frames, segmenting to the negotiated size.
    Strict where the client is lenient: a malformed SNRM parameter group is refused.
    """

    def __init__(self, address: ServerAddress, capability: HdlcParameters | None = None) -> None:
        super().__init__(MAX_MESSAGE)
        self.address = address
        self.capability = capability or HdlcParameters()
        self.parameters = HdlcParameters()  # server's view once connected
        self.client: ServerAddress | None = None

    def _frame(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        if self.client is None:
            raise FrameError("cannot respond: no client is connected")
        return HdlcFrame(self.client, self.address, control, information, segmented).encode()

    @property
    def connected(self) -> bool:
        """True between SNRM/UA and DISC."""
        return self.client is not None

    def receive(self, frame: HdlcFrame) -> tuple[list[bytes], bytes | None]:
        """Handle a client frame; frames for another address are ignored (no answer).

        Raises FrameError for a malformed SNRM parameter group (a strict meter stays silent).
        """
        if frame.destination != self.address:
            return [], None
        kind = frame.kind
        client_sap = frame.source.logical
        if kind is FrameKind.SNRM:
            proposed = HdlcParameters.decode(frame.information)
            self.parameters = negotiate(proposed, self.capability)
            self.client = frame.source
            self._reset()
            return [
                self._remember(ua_frame(client_sap, self.address, self.parameters).encode())
            ], None
        if kind is FrameKind.DISC:
            if self.client is None:
                return [dm_frame(client_sap, self.address).encode()], None
            self.client = None
            return [ua_frame(client_sap, self.address).encode()], None
        if self.client is None or frame.source != self.client:
            if kind in (FrameKind.I, FrameKind.RR, FrameKind.RNR):
                return [dm_frame(client_sap, self.address).encode()], None
            return [], None
        if kind is FrameKind.I:
            return self._receive_information(frame)
        if kind is FrameKind.RR:
            return self._after_rr(frame.recv_seq, self.parameters.window_tx) or [self._rr()], None
        return [], None

    def respond(self, information: bytes) -> bytes:
        """The first window of the answer as one byte string (one I-frame with a window of 1);
        later segments go out on the client's RR."""
        return b"".join(self.respond_frames(information))

    def respond_frames(self, information: bytes) -> list[bytes]:
        """The I-frames of the answer's first window, P/F set on the last."""
        return self._start_message(
            information, self.parameters.max_info_tx, self.parameters.window_tx
        )

    def not_ready(self) -> bytes:
        """RNR: what the client sent is taken (N(R)), but the answer is not ready yet."""
        return self._remember(self._frame(rnr_control(self._vr)))

    def receive_ready(self) -> bytes:
        """RR: what the client sent is taken (N(R)), and there is nothing to send yet."""
        return self._remember(self._rr())

    def _receive_information(self, frame: HdlcFrame) -> tuple[list[bytes], bytes | None]:
        if self._is_repeat(frame):
            # The client missed our answer: repeat it (its whole last window).
            window = self._window
            return (window if window and window[-1] == self._last_sent else [self._last_sent]), None
        if frame.send_seq != self._vr:
            return [], None  # out of sequence: stay silent, the client will retransmit
        self._outgoing.clear()
        self._window = []
        message = self._take_information(frame)
        if message is None:
            return [self._remember(self._rr())], None
        return [], message
