"""The asyncio meter client: one guarded session per use, always released and closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import logging
from typing import Final

from .apdu import (
    DEFAULT_CONFORMANCE,
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
    ConnectionFailed,
    DataAccessError,
    DataAccessResult,
    DlmsError,
    EncodeError,
    FrameError,
    GatewayBusy,
    NoAnswer,
    ProtocolError,
    ResponseTimeout,
)
from .hdlc import Deframer, HdlcFrame, HdlcParameters, Noise, ServerAddress
from .hdlc_link import (
    Connected,
    Disconnected,
    FrameRejected,
    HdlcLink,
    LinkEvent,
    LinkState,
    MessageReceived,
    SendFrame,
)
from .trace import Direction, TraceHook, TraceRecord, mask_frame
from .transport import MeterStream, endpoint_key, endpoint_lock, open_stream

_LOGGER = logging.getLogger(__name__)

# Texts a ser2net-style gateway sends instead of HDLC (field notes §3).
GATEWAY_BUSY_TEXTS: Final = (
    b"Port already in use",
    b"Port's device already in use",
    b"Port disabled",
    b"kicked off",
)
# Propose multiple-references on top of the field grant: a meter grants only what is proposed,
# so a meter that supports GET-with-list gets one request per poll instead of one per value.
PROPOSED_CONFORMANCE: Final = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
_NOISE_MEMORY = 512
_DRAIN_QUIET = 0.05  # stale input is what arrives before the line is quiet this long
_DRAIN_MAX = 0.3


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything needed to reach one meter. ``password`` None means no authentication."""

    endpoint: str
    client_sap: int = 16
    password: str | bytes | None = field(default=None, repr=False)
    server: ServerAddress = field(default_factory=lambda: ServerAddress(1))
    baudrate: int = 9600
    response_timeout: float = 3.0
    connect_timeout: float = 5.0
    lock_timeout: float = 60.0
    retries: int = 2  # HDLC retransmissions of one frame before giving up
    close_timeout: float | None = None  # RLRQ + DISC budget; default 2 x response_timeout
    max_pdu_size: int = 0xFFFF
    conformance: Conformance = PROPOSED_CONFORMANCE
    hdlc_parameters: HdlcParameters | None = None  # None: SNRM without parameter group

    @property
    def password_bytes(self) -> bytes | None:
        """The password as sent in the AARQ."""
        if self.password is None or isinstance(self.password, bytes):
            return self.password
        return self.password.encode("utf-8")


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


@dataclass(slots=True)
class MeterMemory:
    """What the last sessions taught about one meter (endpoint and server address)."""

    unclean: bool = False  # the last session did not end with an answered DISC
    single_gets: bool = False  # a GET-with-list failed: read one attribute per GET


_MEMORY: dict[tuple[str, ServerAddress], MeterMemory] = {}


def meter_memory(settings: ConnectionSettings) -> MeterMemory:
    """The process-wide memory of the meter ``settings`` reach."""
    key = (endpoint_key(settings.endpoint), settings.server)
    return _MEMORY.setdefault(key, MeterMemory())


def forget_meters() -> None:
    """Drop what earlier sessions taught (tests that replay one endpoint need a clean start)."""
    _MEMORY.clear()


class MeterClient:
    """Opens guarded sessions to one meter (see docs/architecture.md)."""

    def __init__(self, settings: ConnectionSettings, trace: TraceHook | None = None) -> None:
        self.settings = settings
        self.trace = trace

    @asynccontextmanager
    async def session(self) -> AsyncIterator[MeterSession]:
        """SNRM/UA and AARQ/AARE on entry; RLRQ, DISC and close on a normal exit.

        On cancellation, or when the session is out of step, DISC goes out at once instead
        (bounded by one response timeout): a pending answer is never finished first.
        """
        settings = self.settings
        async with endpoint_lock(settings.endpoint, settings.lock_timeout):
            stream = await open_stream(
                settings.endpoint, settings.baudrate, settings.connect_timeout
            )
            session = MeterSession(stream, settings, self.trace, meter_memory(settings))
            try:
                await session.open()
                yield session
            except BaseException as err:
                if isinstance(err, Exception) and not isinstance(err, TimeoutError):
                    await session.close()
                else:
                    await session.abort()
                raise
            else:
                await session.close()


class MeterSession:
    """One association over one stream. Use through ``MeterClient.session()``."""

    def __init__(
        self,
        stream: MeterStream,
        settings: ConnectionSettings,
        trace: TraceHook | None,
        memory: MeterMemory | None = None,
    ) -> None:
        self._stream = stream
        self._settings = settings
        self._trace = trace
        self._memory = memory or MeterMemory()
        self._secret = settings.password_bytes
        self._link = HdlcLink(settings.server, settings.client_sap, settings.hdlc_parameters)
        self._deframer = Deframer()
        self._noise = bytearray()
        self._associated = False
        self._pending = False  # a request is out and its answer not yet (fully) in
        self._broken = False  # an exchange failed: the link may be out of step
        self._bad_frames = 0  # in the current exchange
        self._invoke_id = 0
        self._closed = False
        self.negotiated: NegotiatedParameters | None = None

    # -- public API -----------------------------------------------------------------------

    async def read_attributes(self, refs: Sequence[AttributeRef]) -> list[ReadResult]:
        """Read attributes; failures come back per item (DataAccessError), not raised."""
        negotiated = self._require_open()
        results: list[ReadResult] = []
        if negotiated.multiple_references and len(refs) > 1 and not self._memory.single_gets:
            for chunk in self._list_chunks(refs, negotiated.server_max_pdu):
                if self._memory.single_gets or len(chunk) == 1:
                    results.extend([await self._read_one(ref) for ref in chunk])
                    continue
                try:
                    results.extend(await self._read_list(chunk))
                except (ProtocolError, ResponseTimeout) as err:
                    # Granted but not honoured (rejected, capped, mis-answered): one GET per
                    # attribute from now on, for this meter.
                    self._memory.single_gets = True
                    _LOGGER.debug("GET-with-list failed (%s): one GET per attribute", err)
                    if self._broken:
                        raise
                    results.extend([await self._read_one(ref) for ref in chunk])
            return results
        return [await self._read_one(ref) for ref in refs]

    async def get(self, ref: AttributeRef) -> PythonValue:
        """Read one attribute's value; raise DataAccessError if the meter refuses it."""
        return (await self.get_data(ref)).to_python()

    async def get_data(self, ref: AttributeRef) -> Data:
        """Read one attribute as tagged Data; raise DataAccessError if the meter refuses it."""
        self._require_open()
        result = await self._read_one(ref)
        if result.error is not None:
            raise result.error
        assert result.data is not None
        return result.data

    # -- open / close -----------------------------------------------------------------------

    async def open(self) -> None:
        """Drain stale input, (DISC if the last session ended uncleanly), SNRM -> UA, AARQ."""
        await self._drain()
        if self._memory.unclean:
            await self._disconnect_stale_link()
        self._memory.unclean = True  # until a DISC is answered
        try:
            event = await self._exchange(self._link.connect(), stage="SNRM", silence_only=True)
        except ResponseTimeout:
            damaged = (
                f" ({self._bad_frames} damaged frames seen: line noise or another device)"
                if self._bad_frames
                else ""
            )
            raise NoAnswer(
                f"no HDLC answer to SNRM from {self._stream.endpoint} (server "
                f"{self._settings.server}, client SAP {self._settings.client_sap}) after "
                f"{self._settings.retries + 1} tries: meter silent, or wrong address or SAP"
                f"{damaged}"
            ) from None
        if isinstance(event, FrameRejected):
            raise ProtocolError(f"the meter rejected SNRM (FRMR {event.information.hex(' ')})")
        if not isinstance(event, Connected):  # DM: only a link event can answer SNRM
            raise ProtocolError("the meter answered SNRM with DM (it refuses the link)")
        self._broken = False  # a new link: an unanswered DISC before it no longer matters
        aare = await self._associate()
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

    async def _disconnect_stale_link(self) -> None:
        """The last session ended uncleanly: DISC first, so a meter that ignores SNRM while
        connected does not cost this poll three unanswered SNRMs (field notes §6)."""
        try:
            event = await self._exchange(
                self._link.disconnect(), stage="DISC first", retries=0, silence_only=True
            )
        except ResponseTimeout:
            return
        if isinstance(event, Disconnected):
            self._memory.unclean = False

    async def _associate(self) -> Aare:
        settings = self._settings
        secret = self._secret
        aarq = Aarq(
            Mechanism.LOW if secret is not None else None,
            secret,
            InitiateRequest(settings.conformance, settings.max_pdu_size),
        )
        apdu = await self._request(aarq.encode(), stage="AARQ")
        if isinstance(apdu, Aare):
            if apdu.accepted:
                self._associated = True
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

    async def close(self) -> None:
        """RLRQ and DISC within a bounded time, then close the stream; never raises.

        A session out of step (an answer pending, a failed exchange) is aborted instead.
        """
        if self._closed:
            return
        if self._pending or self._broken:
            await self.abort()
            return
        self._closed = True
        settings = self._settings
        budget = settings.close_timeout or 2 * settings.response_timeout
        try:
            async with asyncio.timeout(budget):
                await self._release()
                await self._disconnect()
        except (DlmsError, TimeoutError, OSError) as err:
            _LOGGER.debug("closing the session: %s", err)
        finally:
            await self._stream.close()

    async def abort(self) -> None:
        """DISC at once (it ends the association too), bounded by one response timeout.

        Never finishes a pending transfer; never raises; closes the stream.
        """
        if self._closed:
            return
        self._closed = True
        try:
            # The DISC exchange waits one response timeout for UA; this only guards the write.
            async with asyncio.timeout(2 * self._settings.response_timeout):
                await self._disconnect()
        except (DlmsError, TimeoutError, OSError) as err:
            _LOGGER.debug("aborting the session: %s", err)
        finally:
            await self._stream.close()

    def _stream_usable(self) -> bool:
        return not (self._stream.at_eof or self._stream.closed)

    async def _release(self) -> None:
        """RLRQ on the normal path (the association is in step)."""
        if not (self._associated and self._stream_usable()):
            return
        self._associated = False
        try:
            apdu = await self._request(ReleaseRequest().encode(), stage="RLRQ", retries=0)
            if not isinstance(apdu, ReleaseResponse):
                _LOGGER.debug("RLRQ answered with %s", type(apdu).__name__)
        except DlmsError as err:
            _LOGGER.debug("no RLRE: %s", err)

    async def _disconnect(self) -> None:
        """DISC; an answered DISC (UA or DM) means the meter holds nothing of this session."""
        if not self._stream_usable():
            return
        state = self._link.state
        if state is LinkState.CONNECTING:
            # SNRM went unanswered: DISC anyway (a previous client may have left the link
            # open, field notes §6) but do not wait for an answer from a silent meter. That
            # DISC is the whole cure for a stale link, so a silent meter's next poll does not
            # also begin with one.
            await self._send(self._link.disconnect())
            self._memory.unclean = False
            return
        if state is LinkState.DISCONNECTED:
            return
        event = await self._exchange(
            self._link.disconnect(), stage="DISC", retries=0, silence_only=True
        )
        if isinstance(event, Disconnected):
            self._memory.unclean = False

    # -- reads ----------------------------------------------------------------------------------

    def _require_open(self) -> NegotiatedParameters:
        if self.negotiated is None or self._closed:
            raise ProtocolError("the session is not open")
        return self.negotiated

    def _next_invoke(self) -> int:
        self._invoke_id = self._invoke_id % 15 + 1
        return invoke_id_and_priority(self._invoke_id)

    @staticmethod
    def _list_chunks(refs: Sequence[AttributeRef], max_pdu: int) -> list[list[AttributeRef]]:
        per_item = 10  # class(2) + OBIS(6) + attribute(1) + no selection(1)
        fits = max(1, (max_pdu - 6) // per_item)
        return [list(refs[i : i + fits]) for i in range(0, len(refs), fits)]

    async def _read_one(self, ref: AttributeRef) -> ReadResult:
        invoke = self._next_invoke()
        apdu = await self._request(GetRequestNormal(invoke, ref).encode(), stage=f"GET {ref}")
        if isinstance(apdu, GetResponseWithDatablock):
            payload = await self._collect_blocks(apdu, invoke)
            if isinstance(payload, DataAccessResult):
                return ReadResult(ref, error=DataAccessError(payload, str(ref)))
            try:
                return ReadResult(ref, data=Data.decode(payload))
            except DlmsError as err:
                raise ProtocolError(f"bad data in the block transfer of {ref}: {err}") from None
        if not isinstance(apdu, GetResponseNormal):
            raise self._unexpected(apdu, f"GET {ref}")
        self._check_invoke(apdu.invoke_id_and_priority, invoke)
        return self._result(ref, apdu.result)

    async def _read_list(self, refs: list[AttributeRef]) -> list[ReadResult]:
        invoke = self._next_invoke()
        request = GetRequestWithList(invoke, tuple(refs)).encode()
        apdu = await self._request(request, stage=f"GET list of {len(refs)}")
        results: tuple[GetResult, ...]
        if isinstance(apdu, GetResponseWithDatablock):
            payload = await self._collect_blocks(apdu, invoke)
            if isinstance(payload, DataAccessResult):
                return [ReadResult(r, error=DataAccessError(payload, str(r))) for r in refs]
            try:
                results = decode_list_payload(payload)
            except DlmsError as err:
                raise ProtocolError(f"bad GET-with-list block data: {err}") from None
        elif isinstance(apdu, GetResponseWithList):
            self._check_invoke(apdu.invoke_id_and_priority, invoke)
            results = apdu.results
        else:
            raise self._unexpected(apdu, "GET-with-list")
        if len(results) != len(refs):
            raise ProtocolError(f"GET-with-list: {len(results)} results for {len(refs)} items")
        return [self._result(ref, result) for ref, result in zip(refs, results, strict=True)]

    async def _collect_blocks(
        self, first: GetResponseWithDatablock, invoke: int
    ) -> bytes | DataAccessResult:
        assembler = DatablockAssembler()
        block = first
        while True:
            self._check_invoke(block.invoke_id_and_priority, invoke)
            if isinstance(block.raw_data, DataAccessResult):
                return block.raw_data
            try:
                payload = assembler.add(block)
            except DlmsError as err:
                raise ProtocolError(f"block transfer: {err}") from None
            if payload is not None:
                return payload
            request = GetRequestNext(invoke, assembler.block_number).encode()
            apdu = await self._request(request, stage=f"GET next {assembler.block_number}")
            if isinstance(apdu, GetResponseNormal) and isinstance(apdu.result, DataAccessResult):
                # Some meters end a failed transfer with a normal response: that item fails.
                self._check_invoke(apdu.invoke_id_and_priority, invoke)
                return apdu.result
            if not isinstance(apdu, GetResponseWithDatablock):
                raise self._unexpected(apdu, "GET-Request-Next")
            block = apdu

    @staticmethod
    def _result(ref: AttributeRef, result: GetResult) -> ReadResult:
        if isinstance(result, DataAccessResult):
            return ReadResult(ref, error=DataAccessError(result, str(ref)))
        return ReadResult(ref, data=result)

    @staticmethod
    def _check_invoke(received: int, sent: int) -> None:
        # Compare the 4-bit invoke id only; meters differ in echoing the priority bits.
        if received & 0x0F != sent & 0x0F:
            raise ProtocolError(
                f"response invoke id {received & 0x0F} does not match request {sent & 0x0F}"
            )

    @staticmethod
    def _unexpected(apdu: Apdu, stage: str) -> ProtocolError:
        if isinstance(apdu, (ExceptionResponse, ConfirmedServiceError)):
            return ProtocolError(f"{stage}: the meter answered {apdu}")
        return ProtocolError(f"{stage}: unexpected {type(apdu).__name__}")

    # -- request / response over the link ----------------------------------------------------

    async def _request(self, apdu: bytes, *, stage: str, retries: int | None = None) -> Apdu:
        """Send one APDU, return the decoded answer APDU."""
        negotiated = self.negotiated
        if negotiated is not None and len(apdu) > negotiated.server_max_pdu:
            raise EncodeError(f"{stage}: {len(apdu)} bytes exceed the meter's PDU size")
        try:
            first = self._link.send(add_llc(apdu))
        except FrameError as err:
            raise ProtocolError(f"{stage}: {err}") from None
        event = await self._exchange(first, stage=stage, retries=retries)
        if isinstance(event, FrameRejected):
            self._broken = True
            raise ProtocolError(
                f"{stage}: the meter rejected our frame (FRMR {event.information.hex(' ')})"
            )
        if isinstance(event, Disconnected):
            self._associated = False
            self._broken = True
            self._memory.unclean = False  # DM: the meter holds no link
            raise ProtocolError(f"{stage}: the meter dropped the link ({event.kind.value})")
        if not isinstance(event, MessageReceived):
            raise ProtocolError(f"{stage}: unexpected link event {event}")
        try:
            return decode_apdu(strip_llc(event.information, response=True))
        except DlmsError as err:
            raise ProtocolError(f"{stage}: undecodable answer: {err}") from None

    async def _exchange(
        self,
        frame: bytes,
        *,
        stage: str,
        retries: int | None = None,
        silence_only: bool = False,
    ) -> LinkEvent:
        """Send a frame and wait for the link's answer, retransmitting a bounded number of times.

        With ``silence_only`` bad frames still end in ResponseTimeout: before a link exists only
        a valid frame addressed to us is an answer (garbage on a shared line is not).
        """
        attempts = (self._settings.retries if retries is None else retries) + 1
        self._pending = True
        self._bad_frames = 0
        try:
            for attempt in range(attempts):
                await self._send(frame if attempt == 0 else self._link.retransmit())
                event = await self._receive_until_event(self._settings.response_timeout, stage)
                if event is not None:
                    self._pending = False
                    return event
                _LOGGER.debug("%s: no answer within %gs", stage, self._settings.response_timeout)
        except DlmsError:
            self._broken = True
            raise
        self._broken = True
        if self._bad_frames and not silence_only:
            raise ProtocolError(
                f"{stage}: only bad frames ({self._bad_frames}) in {attempts} attempts"
            )
        raise ResponseTimeout(
            f"{stage}: no answer from the meter within {self._settings.response_timeout:g} s "
            f"({attempts} attempts)"
        )

    async def _receive_until_event(self, within: float, stage: str) -> LinkEvent | None:
        """Read until the link produces Connected/Disconnected/MessageReceived, or timeout.

        Segment acknowledgements are sent on the way; each one restarts the timeout.
        Bad frames are counted and skipped: the answer may follow in the same read (a false
        frame start in line noise), so only the deadline leads to a retransmission.
        Returns None on timeout; raises GatewayBusy on gateway text.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            while (item := self._next_frame(stage)) is not None:
                if isinstance(item, Noise):
                    self._on_noise(item.data)
                    continue
                self._record(Direction.RX, item.encode())
                try:
                    event = self._link.receive(item)
                except FrameError as err:
                    self._bad_frames += 1
                    _LOGGER.debug("%s: link error: %s", stage, err)
                    continue
                if isinstance(event, SendFrame):
                    await self._send(event.data)
                    if event.progress:
                        deadline = loop.time() + within
                    continue
                if isinstance(event, (Connected, Disconnected, MessageReceived, FrameRejected)):
                    return event
                _LOGGER.debug("%s: ignored frame: %s", stage, event.reason)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            data = await self._stream.read(remaining)
            if data:
                self._deframer.feed(data)
            elif self._stream.at_eof:
                self._check_gateway_text()
                raise ConnectionFailed(
                    f"{self._stream.endpoint} closed the connection during {stage}"
                )

    def _next_frame(self, stage: str) -> HdlcFrame | Noise | None:
        """The deframer's next event; bad frames are counted and skipped."""
        while True:
            try:
                return self._deframer.next_event()
            except FrameError as err:
                self._bad_frames += 1
                _LOGGER.debug("%s: bad frame skipped: %s", stage, err)

    async def _send(self, data: bytes) -> None:
        self._record(Direction.TX, data)
        await self._stream.write(data, self._settings.response_timeout)

    async def _drain(self) -> None:
        """Discard stale bytes an earlier exchange left at the gateway (field notes §3)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + _DRAIN_MAX
        while (remaining := end - loop.time()) > 0:
            data = await self._stream.read(min(_DRAIN_QUIET, remaining))
            if not data:
                break
            self._on_noise(data)
        if self._stream.at_eof:
            self._check_gateway_text()
            raise ConnectionFailed(f"{self._stream.endpoint} closed the connection at once")

    def _on_noise(self, data: bytes) -> None:
        self._record(Direction.RX, data, summary="not HDLC")
        self._noise += data
        del self._noise[:-_NOISE_MEMORY]
        self._check_gateway_text()

    def _check_gateway_text(self) -> None:
        noise = bytes(self._noise)
        for text in GATEWAY_BUSY_TEXTS:
            at = noise.find(text)
            if at >= 0:
                line = noise[at:].split(b"\n", 1)[0]
                raise GatewayBusy(line.decode("ascii", "replace").strip())

    def _record(self, direction: Direction, data: bytes, summary: str | None = None) -> None:
        if self._trace is None and not _LOGGER.isEnabledFor(logging.DEBUG):
            return
        hex_text, described = mask_frame(data, self._secret)
        record = TraceRecord(
            direction, asyncio.get_running_loop().time(), hex_text, summary or described
        )
        _LOGGER.debug("%s", record)
        if self._trace is not None:
            try:
                self._trace(record)
            except Exception:
                _LOGGER.exception("trace hook failed")
