"""The client's DLMS session as a pure state machine (h11-style, one level above the HDLC link).

Bytes in (``receive_data``), events out (``next_event``); the caller reports that a response
timeout ran out (``timed_out``). No sockets, no clock, no asyncio: association, invoke ids,
GET-with-list chunking and its per-meter fallback, block transfer and release are properties
of this object, testable without a meter. ``client.py`` moves the bytes and owns the clock.

One operation runs at a time: ``open``, ``read``, ``release`` (RLRQ then DISC) or ``abort``
(DISC at once: the rest of a pending answer is never asked for). Each ends with one result
event, or ``next_event`` raises the operation's ``DlmsError``. Where the session is, and every
move it may make, is the table in ``session_state.py``; a move outside it raises
``SessionStateError``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass
import logging
from typing import Final

from .apdu import (
    Aare,
    Aarq,
    Apdu,
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
    GetResult,
    InitiateRequest,
    Mechanism,
    ReleaseRequest,
    ReleaseResponse,
    add_llc,
    decode_apdu,
    decode_list_payload,
    invoke_id_and_priority,
    strip_llc,
)
from .axdr import Data, PythonValue
from .errors import (
    AssociationRejected,
    AuthenticationFailed,
    DataAccessError,
    DataAccessResult,
    DlmsError,
    EncodeError,
    FrameError,
    NoAnswer,
    ProtocolError,
    RequestRefusedError,
    ResponseTimeout,
    SessionStateError,
)
from .hdlc import Deframer, FrameKind, Noise
from .hdlc_link import (
    Connected,
    Disconnected,
    FrameRejected,
    HdlcLink,
    InWindow,
    LinkEvent,
    MessageReceived,
    SendFrame,
)
from .session_state import IN_STEP, Input, State, next_state
from .settings import ConnectionSettings

_LOGGER = logging.getLogger(__name__)

_LIST_ITEM_SIZE: Final = 10  # class(2) + OBIS(6) + attribute(1) + no selection(1)
_LIST_OVERHEAD: Final = 6


# -- what the session keeps between operations --------------------------------------------------


@dataclass(slots=True)
class MeterMemory:
    """What the last sessions taught about one meter (endpoint and server address)."""

    unclean: bool = False  # the last session did not end with an answered DISC
    single_gets: bool = False  # a GET-with-list failed: read one attribute per GET
    # The meter answered everything else but not this (u9n's PR #80 makes it an option): later
    # sessions skip the RLRQ (DISC ends the association too) and send DISC without waiting, so
    # neither costs every poll a response timeout.
    rlrq_unanswered: bool = False
    disc_unanswered: bool = False
    # The last session's SNRM went unanswered: the next one is sent once (a silent meter's tries
    # take one SNRM wait of a shared line, not one per retransmission); an answer clears it.
    snrm_unanswered: bool = False


@dataclass(frozen=True, slots=True)
class NegotiatedParameters:
    """What SNRM/UA and AARQ/AARE settled on, from the client's point of view."""

    max_info_tx: int
    max_info_rx: int
    window_tx: int
    window_rx: int
    conformance: Conformance
    server_max_pdu: int
    dlms_version: int

    @property
    def multiple_references(self) -> bool:
        """Whether GET-with-list may be used."""
        return Conformance.MULTIPLE_REFERENCES in self.conformance


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One attribute's outcome: a value or a DataAccessError."""

    ref: AttributeRef
    data: Data | None = None
    error: DataAccessError | None = None

    @property
    def value(self) -> PythonValue:
        """The untagged value (None when the read failed)."""
        return None if self.data is None else self.data.to_python()

    @property
    def ok(self) -> bool:
        """True when a value came back."""
        return self.error is None


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transmit:
    """Write these bytes. ``starts_wait``: a response timeout starts over once they are out
    (False for a poll: nothing new arrived, and for a DISC nobody waits for); ``wait``: its
    length when it is not the settings' response timeout (an SNRM probe)."""

    data: bytes
    starts_wait: bool = True
    wait: float | None = None


@dataclass(frozen=True, slots=True)
class FrameArrived:
    """A well-formed frame came in (for the trace). ``restarts_wait``: it moved the answer on
    without a frame of ours (a segment inside the meter's window), so the response timeout
    starts over."""

    data: bytes
    restarts_wait: bool = False


@dataclass(frozen=True, slots=True)
class NoiseArrived:
    """Bytes that are not HDLC came in (gateway text, line noise)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class NeedData:
    """Nothing to do until more bytes arrive, or until the response timeout runs out."""


@dataclass(frozen=True, slots=True)
class Idle:
    """No operation is running."""


@dataclass(frozen=True, slots=True)
class Opened:
    """The link and the association are up."""

    negotiated: NegotiatedParameters


@dataclass(frozen=True, slots=True)
class AttributesRead:
    """A read finished: one result per attribute asked, in order."""

    results: tuple[ReadResult, ...]


@dataclass(frozen=True, slots=True)
class Ended:
    """The session is over; ``clean`` when the meter answered the DISC (it holds nothing)."""

    clean: bool


NEED_DATA: Final = NeedData()
IDLE: Final = Idle()

type OperationResult = Opened | AttributesRead | Ended
type SessionEvent = Transmit | FrameArrived | NoiseArrived | NeedData | Idle | OperationResult


# -- what an operation asks of the driver ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Exchange:
    """Send ``frame``, wait for the link's answer, repeat it up to ``retries`` times."""

    frame: bytes
    sends: Input
    stage: str
    retries: int
    silence_only: bool = False  # bad frames do not count as an answer (before a link exists)
    wait: float | None = None  # the answer's wait, when not the response timeout


@dataclass(frozen=True, slots=True)
class _SendOnly:
    """Write a DISC and wait for nothing."""

    frame: bytes
    sends: Input = Input.WRITE_DISC


type _Step[T] = Generator[_Exchange | _SendOnly, LinkEvent | None, T]


class DlmsSession:
    """One client association, sans-IO. Use ``MeterClient.session()`` for the asyncio form."""

    def __init__(self, settings: ConnectionSettings, memory: MeterMemory | None = None) -> None:
        self.settings = settings
        self.memory = memory or MeterMemory()
        self.negotiated: NegotiatedParameters | None = None
        self._link = HdlcLink(settings.server, settings.client_sap, settings.hdlc_parameters)
        self._deframer = Deframer()
        self._outbox: deque[SessionEvent] = deque()
        self._operation: _Step[OperationResult] | None = None
        self._answer: LinkEvent | None = None  # what the running operation is sent next
        self._failure: DlmsError | None = None  # what it is thrown next
        self._exchange: _Exchange | None = None  # the exchange waiting for an answer
        self._attempt = 0
        self._bad_frames = 0  # in the current exchange
        self._state = State.IDLE
        self._invoke_id = 0

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where the session is (``session_state.py``)."""
        return self._state

    @property
    def in_step(self) -> bool:
        """No answer pending and no failed exchange: a normal release is possible."""
        return self._state in IN_STEP

    def _move(self, happened: Input) -> None:
        self._state = next_state(self._state, happened)

    @property
    def stage(self) -> str:
        """What the session is waiting for (for messages)."""
        return self._exchange.stage if self._exchange is not None else "the session"

    # -- operations ---------------------------------------------------------------------------

    def open(self) -> None:
        """Start (DISC first after an unclean end,) SNRM -> UA, AARQ -> AARE; ends in Opened."""
        self._move(Input.OPEN)
        self._start(self._open())

    def read(self, refs: Sequence[AttributeRef]) -> None:
        """Start reading attributes; ends in AttributesRead (failures per item)."""
        self._move(Input.READ)
        assert self.negotiated is not None  # ASSOCIATED: Opened came with it
        self._start(self._read(list(refs), self.negotiated))

    def release(self) -> None:
        """Start the normal end: RLRQ then DISC; out of step, the same as ``abort``."""
        self._move(Input.RELEASE)
        self._start(self._end())

    def abort(self) -> None:
        """End at once: DISC (it ends the association too), never finishing a pending answer."""
        self._move(Input.ABORT)
        self._start(self._end())

    def _start(self, operation: _Step[OperationResult]) -> None:
        if self._operation is not None:
            self._operation.close()
        self._operation = operation
        self._answer = None
        self._failure = None
        self._exchange = None
        self._outbox.clear()

    # -- input --------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the meter's stream."""
        self._deframer.feed(data)

    def receive_stale(self, data: bytes) -> None:
        """Bytes drained before this session: this meter's UA or DM among them answered a DISC
        of ours nobody waited for, so it does answer DISC after all."""
        deframer = Deframer()
        deframer.feed(data)
        while True:
            try:
                item = deframer.next_event()
            except FrameError:
                continue
            if item is None:
                return
            if isinstance(item, Noise):
                continue
            link = self._link
            ours = link.server.same_station(item.source) and link.client.same_station(
                item.destination
            )
            if ours and item.kind in (FrameKind.UA, FrameKind.DM):
                self.memory.disc_unanswered = False

    def timed_out(self) -> None:
        """The response timeout ran out while ``next_event`` said NEED_DATA."""
        exchange = self._exchange
        if exchange is None:
            return
        _LOGGER.debug("%s: no answer within the response timeout", exchange.stage)
        self._attempt += 1
        if self._attempt <= exchange.retries:
            self._outbox.append(Transmit(self._link.retransmit(), wait=exchange.wait))
            return
        self._exchange = None
        self._move(Input.SILENCE)
        attempts = exchange.retries + 1
        if self._bad_frames and not exchange.silence_only:
            self._failure = ProtocolError(
                f"{exchange.stage}: only bad frames ({self._bad_frames}) in {attempts} attempts"
            )
        else:
            wait = exchange.wait or self.settings.response_timeout
            self._failure = ResponseTimeout(
                f"{exchange.stage}: no answer from the meter within {wait:g} s "
                f"({attempts} attempts)"
            )

    # -- output -------------------------------------------------------------------------------

    def next_event(self) -> SessionEvent:
        """What to do next; raises the running operation's DlmsError when it fails."""
        while True:
            if self._outbox:
                return self._outbox.popleft()
            if self._operation is None:
                return IDLE
            if self._exchange is None:
                result = self._advance()
                if result is not None:
                    return result
                continue
            arrived = self._next_arrival()
            if arrived is not None:
                return arrived

    def _advance(self) -> OperationResult | None:
        """Run the operation to its next request; its result when it finishes."""
        assert self._operation is not None
        answer, failure = self._answer, self._failure
        self._answer = self._failure = None
        try:
            if failure is not None:
                step = self._operation.throw(failure)
            else:
                step = self._operation.send(answer)
        except StopIteration as done:
            self._operation = None
            result: OperationResult = done.value
            return result
        except BaseException:
            self._operation = None
            raise
        try:
            self._move(step.sends)
        except SessionStateError:
            self._operation.close()
            self._operation = None
            raise
        if isinstance(step, _SendOnly):
            self._outbox.append(Transmit(step.frame, starts_wait=False))
            return None
        self._exchange = step
        self._attempt = 0
        self._bad_frames = 0
        self._outbox.append(Transmit(step.frame, wait=step.wait))
        return None

    def _next_arrival(self) -> FrameArrived | NoiseArrived | NeedData | None:
        """Take one frame or noise from the input: an event to report, None when a damaged
        frame was skipped, NEED_DATA when the input is empty."""
        try:
            item = self._deframer.next_event()
        except FrameError as err:
            self._bad_frames += 1
            _LOGGER.debug("%s: bad frame skipped: %s", self.stage, err)
            return None
        if item is None:
            return NEED_DATA
        if isinstance(item, Noise):
            return NoiseArrived(item.data)
        try:
            event = self._link.receive(item)
        except FrameError as err:
            self._bad_frames += 1
            _LOGGER.debug("%s: link error: %s", self.stage, err)
            return FrameArrived(item.encode())
        if isinstance(event, SendFrame):
            self._move(Input.SEND_RR)
            self._outbox.append(Transmit(event.data, starts_wait=event.progress))
        elif isinstance(event, (Connected, Disconnected, MessageReceived, FrameRejected)):
            self._move(_ANSWERS[type(event)])
            self._exchange = None
            self._answer = event
        elif isinstance(event, InWindow):
            return FrameArrived(item.encode(), restarts_wait=True)
        else:
            _LOGGER.debug("%s: ignored frame: %s", self.stage, event.reason)
        return FrameArrived(item.encode())

    # -- open ---------------------------------------------------------------------------------

    def _open(self) -> _Step[OperationResult]:
        disc_first_silent = False
        if self.memory.unclean:
            disc_first_silent = yield from self._disconnect_stale_link()
        self.memory.unclean = True  # until a DISC is answered
        sends = self._snrm_sends()
        try:
            event = yield _Exchange(
                self._link.connect(),
                Input.SEND_SNRM,
                "SNRM",
                sends - 1,
                silence_only=True,
                wait=self.settings.snrm_wait,
            )
        except ResponseTimeout:
            self.memory.snrm_unanswered = True
            raise self._no_answer(sends) from None
        self.memory.snrm_unanswered = False
        if isinstance(event, FrameRejected):
            raise ProtocolError(f"the meter rejected SNRM (FRMR {event.information.hex(' ')})")
        if not isinstance(event, Connected):  # DM: only a link event can answer SNRM
            raise ProtocolError("the meter answered SNRM with DM (it refuses the link)")
        if self._link.disc_answered_late:
            self.memory.disc_unanswered = False
        elif disc_first_silent:
            # Silent to DISC, yet it answers SNRM at once: it does not answer DISC.
            self.memory.disc_unanswered = True
        aare = yield from self._associate()
        assert aare.initiate is not None
        link = self._link.parameters
        self.negotiated = NegotiatedParameters(
            max_info_tx=link.max_info_tx,
            max_info_rx=link.max_info_rx,
            window_tx=link.window_tx,
            window_rx=link.window_rx,
            conformance=aare.initiate.conformance,
            server_max_pdu=aare.initiate.max_pdu_size,
            dlms_version=aare.initiate.dlms_version,
        )
        _LOGGER.debug("session open: %s", self.negotiated)
        return Opened(self.negotiated)

    def _snrm_sends(self) -> int:
        """How often SNRM goes out before the meter counts as silent: once for a probe or a
        meter whose last SNRM went unanswered, else once more per retry."""
        if self.settings.snrm_probe or self.memory.snrm_unanswered:
            return 1
        return self.settings.retries + 1

    def _no_answer(self, sends: int) -> NoAnswer:
        settings = self.settings
        damaged = (
            f" ({self._bad_frames} damaged frames seen: line noise or another device)"
            if self._bad_frames
            else ""
        )
        wait = settings.snrm_wait
        tries = f"within {wait:g} s" if sends == 1 else f"after {sends} tries of {wait:g} s"
        return NoAnswer(
            f"no HDLC answer to SNRM from {settings.peer} (server {settings.server}, client SAP "
            f"{settings.client_sap}) {tries}: meter silent, or wrong address or SAP{damaged}"
        )

    def _disconnect_stale_link(self) -> _Step[bool]:
        """The last session ended uncleanly: DISC first, so a meter that ignores SNRM while
        connected does not cost this poll three unanswered SNRMs (field notes §6). Not waited
        for at a meter known never to answer DISC. True when it was waited for in silence."""
        if self.memory.disc_unanswered:
            yield _SendOnly(self._link.disconnect())
            return False
        try:
            event = yield _Exchange(
                self._link.disconnect(),
                Input.SEND_DISC,
                "DISC first",
                retries=0,
                silence_only=True,
                wait=self.settings.snrm_probe,
            )
        except ResponseTimeout:
            return not self._bad_frames
        if isinstance(event, Disconnected):
            self.memory.unclean = False
        return False

    def _associate(self) -> _Step[Aare]:
        settings = self.settings
        secret = settings.password_bytes
        aarq = Aarq(
            Mechanism.LOW if secret is not None else None,
            secret,
            InitiateRequest(settings.conformance, settings.max_pdu_size),
        )
        apdu = yield from self._request(aarq.encode(), Input.SEND_AARQ, "AARQ")
        if isinstance(apdu, Aare):
            if apdu.accepted:
                self._move(Input.AARE_ACCEPTED)
                return apdu
            message = apdu.describe_rejection()
            if apdu.authentication_failed:
                raise AuthenticationFailed(
                    f"{message} - check the password and client SAP {settings.client_sap}",
                    apdu.diagnostic,
                )
            raise AssociationRejected(message, apdu.diagnostic)
        if isinstance(apdu, (ExceptionResponse, ConfirmedServiceError)):
            raise AssociationRejected(f"association refused: {apdu}")
        raise ProtocolError(f"expected an AARE, got {type(apdu).__name__}")

    # -- end ----------------------------------------------------------------------------------

    def _end(self) -> _Step[OperationResult]:
        """The end RELEASE or ABORT led to (``session_state.py``): nothing, DISC written, RLRQ
        then DISC, or DISC. An answered DISC (UA or DM) means the meter holds nothing of this
        session."""
        state = self._state
        if state is State.CLOSED:  # nothing open
            return Ended(clean=not self.memory.unclean)
        if state is State.ABANDONING:
            # SNRM went unanswered: DISC anyway (a previous client may have left the link
            # open, field notes §6) but do not wait for an answer from a silent meter. That
            # DISC is the whole cure for a stale link, so a silent meter's next poll does not
            # also begin with one.
            return (yield from self._write_disc())
        if state is State.ASSOCIATED and not self.memory.rlrq_unanswered:
            yield from self._release_association()
            if self._state is State.CLOSED:  # DM to RLRQ
                return Ended(clean=not self.memory.unclean)
        return (yield from self._disconnect())

    def _release_association(self) -> _Step[None]:
        """RLRQ on the normal path; the meter answered everything so far, so silence to it is
        learned (``MeterMemory``) and any answer goes on to DISC."""
        try:
            apdu = yield from self._request(
                ReleaseRequest().encode(), Input.SEND_RLRQ, "RLRQ", retries=0
            )
            if not isinstance(apdu, ReleaseResponse):
                _LOGGER.debug("RLRQ answered with %s", type(apdu).__name__)
        except ResponseTimeout:
            _LOGGER.debug("no RLRE: this meter's sessions end with DISC alone from now on")
            self.memory.rlrq_unanswered = True
        except DlmsError as err:
            _LOGGER.debug("no RLRE: %s", err)

    def _write_disc(self) -> _Step[OperationResult]:
        """DISC written, not waited for: all that can be done (see ``_end``)."""
        yield _SendOnly(self._link.disconnect())
        self.memory.unclean = False
        return Ended(clean=False)

    def _disconnect(self) -> _Step[OperationResult]:
        """DISC, waited for once. At the normal end nothing of the meter's can still be on its
        way, so silence means the meter does not answer DISC; after an abort it means nothing."""
        if self.memory.disc_unanswered:
            return (yield from self._write_disc())  # it never answers
        learn = self._state is not State.ABORTING
        try:
            event = yield _Exchange(
                self._link.disconnect(), Input.SEND_DISC, "DISC", retries=0, silence_only=True
            )
        except ResponseTimeout:
            if learn and not self._bad_frames:
                _LOGGER.debug("no answer to DISC: later DISCs to this meter are not waited for")
                self.memory.disc_unanswered = True
            raise
        if isinstance(event, Disconnected):
            self.memory.unclean = False
            return Ended(clean=True)
        return Ended(clean=False)

    # -- reads --------------------------------------------------------------------------------

    def _read(
        self, refs: list[AttributeRef], negotiated: NegotiatedParameters
    ) -> _Step[OperationResult]:
        memory = self.memory
        results: list[ReadResult] = []
        if not (negotiated.multiple_references and len(refs) > 1 and not memory.single_gets):
            return AttributesRead(tuple((yield from self._read_each(refs))))
        for chunk in list_chunks(refs, negotiated.server_max_pdu):
            if memory.single_gets or len(chunk) == 1:
                results.extend((yield from self._read_each(chunk)))
                continue
            try:
                results.extend((yield from self._read_list(chunk)))
            except (ProtocolError, ResponseTimeout) as err:
                # Granted but not honoured (rejected, capped, mis-answered): one GET per
                # attribute from now on, for this meter.
                memory.single_gets = True
                _LOGGER.debug("GET-with-list failed (%s): one GET per attribute", err)
                if not self.in_step:  # the link's failure, not the list's
                    raise
                results.extend((yield from self._read_each(chunk)))
        return AttributesRead(tuple(results))

    def _read_each(self, refs: list[AttributeRef]) -> _Step[list[ReadResult]]:
        """One GET per attribute."""
        results: list[ReadResult] = []
        for ref in refs:
            result = yield from self._read_one(ref)
            results.append(result)
        return results

    def _next_invoke(self) -> int:
        self._invoke_id = self._invoke_id % 15 + 1
        return invoke_id_and_priority(self._invoke_id)

    def _read_one(self, ref: AttributeRef) -> _Step[ReadResult]:
        """One GET; a refusal or an unusable answer fails this item only (the link is in
        step): a meter that refuses one object must not fail every read."""
        invoke = self._next_invoke()
        stage = f"GET {ref}"
        try:
            apdu = yield from self._request(
                GetRequestNormal(invoke, ref).encode(), Input.SEND_GET, stage
            )
            if isinstance(apdu, GetResponseWithDatablock):
                payload = yield from self._collect_blocks(apdu, invoke)
                if isinstance(payload, DataAccessResult):
                    return ReadResult(ref, error=DataAccessError(payload, str(ref)))
                try:
                    return ReadResult(ref, data=Data.decode(payload))
                except DlmsError as err:
                    detail = f"{stage}: bad data in its block transfer: {err}"
                    raise _UnusableAnswerError(detail) from None
            if not isinstance(apdu, GetResponseNormal):
                raise _unexpected(apdu, stage)
        except _UnusableAnswerError as err:
            _LOGGER.debug("%s", err)
            return ReadResult(ref, error=RequestRefusedError(str(err)))
        _note_invoke(apdu.invoke_id_and_priority, invoke)
        return _result(ref, apdu.result)

    def _read_list(self, refs: list[AttributeRef]) -> _Step[list[ReadResult]]:
        invoke = self._next_invoke()
        request = GetRequestWithList(invoke, tuple(refs)).encode()
        apdu = yield from self._request(request, Input.SEND_GET, f"GET list of {len(refs)}")
        results: tuple[GetResult, ...]
        if isinstance(apdu, GetResponseWithDatablock):
            payload = yield from self._collect_blocks(apdu, invoke)
            if isinstance(payload, DataAccessResult):
                return [ReadResult(r, error=DataAccessError(payload, str(r))) for r in refs]
            try:
                results = decode_list_payload(payload)
            except DlmsError as err:
                raise ProtocolError(f"bad GET-with-list block data: {err}") from None
        elif isinstance(apdu, GetResponseWithList):
            _note_invoke(apdu.invoke_id_and_priority, invoke)
            results = apdu.results
        else:
            raise _unexpected(apdu, "GET-with-list")
        if len(results) != len(refs):
            raise ProtocolError(f"GET-with-list: {len(results)} results for {len(refs)} items")
        return [_result(ref, result) for ref, result in zip(refs, results, strict=True)]

    def _collect_blocks(
        self, first: GetResponseWithDatablock, invoke: int
    ) -> _Step[bytes | DataAccessResult]:
        assembler = DatablockAssembler()
        block = first
        while True:
            _note_invoke(block.invoke_id_and_priority, invoke)
            if isinstance(block.raw_data, DataAccessResult):
                return block.raw_data
            try:
                payload = assembler.add(block)
            except DlmsError as err:
                raise ProtocolError(f"block transfer: {err}") from None
            if payload is not None:
                return payload
            request = GetRequestNext(invoke, assembler.block_number).encode()
            apdu = yield from self._request(
                request, Input.SEND_GET, f"GET next {assembler.block_number}"
            )
            if isinstance(apdu, GetResponseNormal) and isinstance(apdu.result, DataAccessResult):
                # Some meters end a failed transfer with a normal response: that item fails.
                _note_invoke(apdu.invoke_id_and_priority, invoke)
                return apdu.result
            if not isinstance(apdu, GetResponseWithDatablock):
                raise _unexpected(apdu, "GET-Request-Next")
            block = apdu

    # -- one APDU over the link -------------------------------------------------------------

    def _request(
        self, apdu: bytes, sends: Input, stage: str, retries: int | None = None
    ) -> _Step[Apdu]:
        """Send one APDU, return the decoded answer APDU."""
        negotiated = self.negotiated
        if negotiated is not None and len(apdu) > negotiated.server_max_pdu:
            raise EncodeError(f"{stage}: {len(apdu)} bytes exceed the meter's PDU size")
        try:
            first = self._link.send(add_llc(apdu))
        except FrameError as err:
            raise ProtocolError(f"{stage}: {err}") from None
        attempts = self.settings.retries if retries is None else retries
        event = yield _Exchange(first, sends, stage, attempts)
        if isinstance(event, FrameRejected):
            raise ProtocolError(
                f"{stage}: the meter rejected our frame (FRMR {event.information.hex(' ')})"
            )
        if isinstance(event, Disconnected):
            self.memory.unclean = False  # DM: the meter holds no link
            raise ProtocolError(f"{stage}: the meter dropped the link ({event.kind.value})")
        if not isinstance(event, MessageReceived):
            raise ProtocolError(f"{stage}: unexpected link event {event}")
        try:
            return decode_apdu(strip_llc(event.information, response=True), trailing_ok=True)
        except DlmsError as err:
            raise _UnusableAnswerError(f"{stage}: undecodable answer: {err}") from None


# The link's answers to an exchange, as the state table's inputs.
_ANSWERS: Final[dict[type[LinkEvent], Input]] = {
    Connected: Input.LINK_UP,
    Disconnected: Input.DISCONNECTED,
    MessageReceived: Input.ANSWER,
    FrameRejected: Input.FRMR,
}


def list_chunks(refs: Sequence[AttributeRef], max_pdu: int) -> list[list[AttributeRef]]:
    """GET-with-list requests that each fit the meter's PDU size."""
    fits = max(1, (max_pdu - _LIST_OVERHEAD) // _LIST_ITEM_SIZE)
    return [list(refs[i : i + fits]) for i in range(0, len(refs), fits)]


def _result(ref: AttributeRef, result: GetResult) -> ReadResult:
    if isinstance(result, DataAccessResult):
        return ReadResult(ref, error=DataAccessError(result, str(ref)))
    return ReadResult(ref, data=result)


class _UnusableAnswerError(ProtocolError):
    """The meter answered a request, in step, with a refusal or an APDU that cannot be used:
    one GET's item fails with it; anywhere else it is the ProtocolError it derives from."""


def _note_invoke(received: int, sent: int) -> None:
    # Meters that do not echo the invoke id exist and neither Gurux nor u9n checks it: with one
    # request at a time, the HDLC sequence numbers already pair an answer with its request.
    if received & 0x0F != sent & 0x0F:
        _LOGGER.debug("answer with invoke id %d to request %d", received & 0x0F, sent & 0x0F)


def _unexpected(apdu: Apdu, stage: str) -> _UnusableAnswerError:
    if isinstance(apdu, (ExceptionResponse, ConfirmedServiceError)):
        return _UnusableAnswerError(f"{stage}: the meter answered {apdu}")
    return _UnusableAnswerError(f"{stage}: unexpected {type(apdu).__name__}")
