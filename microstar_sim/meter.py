"""The simulated meter: HDLC server, associations per client SAP, GET over the COSEM object model.

Sans-IO: ``handle(frame)`` returns the frames to send; the line paces them. State survives TCP
closes (only DISC, a new SNRM, the inactivity timeout or a power cycle end a link).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
import logging

from custom_components.microstar_dlms.dlms.apdu import (
    CONTEXT_LN_NO_CIPHERING,
    DLMS_VERSION,
    LLC_RESPONSE,
    Aare,
    Aarq,
    AcseDiagnostic,
    Apdu,
    AssociationResult,
    AttributeRef,
    ConfirmedServiceError,
    Conformance,
    ExceptionResponse,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    GetResult,
    InitiateResponse,
    Mechanism,
    ReleaseRequest,
    ReleaseResponse,
    ServiceErrorCode,
    StateError,
    decode_apdu,
    split_into_blocks,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data
from custom_components.microstar_dlms.dlms.errors import (
    DataAccessError,
    DataAccessResult,
    DecodeError,
    FrameError,
)
from custom_components.microstar_dlms.dlms.hdlc import (
    AddressSize,
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
    client_address,
    decode_frame,
    dm_frame,
)
from custom_components.microstar_dlms.dlms.hdlc_link import HdlcServerLink
from custom_components.microstar_dlms.dlms.obis import Obis

from .clock import Clock
from .config import ClientAccess, MeterConfig
from .faults import (
    AnswerFromAddressSize,
    DataAccessFailure,
    DatablocksFromZero,
    EnergyGlitch,
    FaultBook,
    FixedInvokeId,
    IgnoreDisc,
    IgnoreRelease,
    OddAnswer,
    OddFrame,
    ReceiveNotReady,
    ReceiveReadyFirst,
    RefuseWithException,
    RejectAssociation,
    RequestKind,
    ResponseKind,
    ResponseLlc,
    TrailingBytes,
)
from .interface_classes import AssociationView, CosemObject, MeterView, Selection
from .measurement import LoadModel, Registers
from .profiles import ENERGY_REGISTERS, PHASE_COUNT, PROFILE_UA_INFORMATION, build_objects
from .record import AssociationRecord, CloseReason, SessionRecord, SimulatorRecord, now

_LOGGER = logging.getLogger(__name__)

# Field AARE: attribute-0 with GET, block transfer with GET, GET, SET, selective access, ACTION.
FIELD_CONFORMANCE = Conformance.from_bytes3(bytes.fromhex("00301D"))
_DATABLOCK_OVERHEAD = 16  # C4 02 id last block(4) choice length(≤5): keeps a block inside the PDU
_REQUEST_KINDS: dict[type, RequestKind] = {
    Aarq: RequestKind.AARQ,
    GetRequestNormal: RequestKind.GET,
    GetRequestNext: RequestKind.GET_NEXT,
    GetRequestWithList: RequestKind.GET_LIST,
    ReleaseRequest: RequestKind.RLRQ,
}
_ANSWER_KINDS = {RequestKind.AARQ: ResponseKind.AARE, RequestKind.RLRQ: ResponseKind.RLRE}


def _request_kind(frame: HdlcFrame) -> RequestKind | None:
    """What a client frame asks for, as answer faults name it (None: nothing they replace)."""
    if frame.kind is FrameKind.SNRM:
        return RequestKind.SNRM
    if frame.kind is not FrameKind.I or frame.segmented:
        return None
    try:
        return _REQUEST_KINDS.get(type(decode_apdu(strip_llc(frame.information, response=False))))
    except DecodeError:
        return None


@dataclass(frozen=True, slots=True)
class Reply:
    """One frame the meter sends, with what it answers (for frame-level faults)."""

    data: bytes
    kind: ResponseKind


@dataclass(slots=True)
class Link:
    """An HDLC link in normal response mode with one client."""

    hdlc: HdlcServerLink
    client_sap: int
    session: SessionRecord | None
    stuck: bool = False  # left by a client no longer there; SNRM is ignored
    answer_kind: ResponseKind = ResponseKind.OTHER  # what the segments going out answer
    held: bytes | None = None  # an answer kept back after RNR until the client polls


@dataclass(slots=True)
class Association:
    """An open application association."""

    access: ClientAccess
    view: AssociationView
    record: AssociationRecord | None
    blocks: list[GetResponseWithDatablock] = field(default_factory=list)


class SimulatedMeter:
    """One Microstar meter on the line."""

    def __init__(
        self,
        config: MeterConfig,
        clock: Clock,
        record: SimulatorRecord,
        faults: FaultBook | None = None,
    ) -> None:
        """Build the meter and its registers with ``load_profile_history_days`` of history."""
        self.config = config
        self.address: ServerAddress = config.address
        self.clock = clock
        self.record = record
        self.faults = faults or FaultBook()
        self.clients: dict[int, ClientAccess] = {c.client_sap: c for c in config.clients}
        self.firmware = config.firmware
        self.objects: list[CosemObject] = []
        self._by_obis: dict[Obis, CosemObject] = {}
        self._build_objects()
        phases = config.replay.phases if config.replay else PHASE_COUNT[config.profile]
        self.model = LoadModel(phases, config.seed, config.utc_offset_minutes)
        self.registers = Registers.start(
            model=self.model,
            now=clock.now(),
            initial_import_wh=config.initial_import_wh,
            history=timedelta(days=config.load_profile_history_days),
            demand_period=config.load_profile_period,
            profile_capacity=config.load_profile_capacity,
        )
        self.hung = False
        self.link: Link | None = None
        self.association: Association | None = None
        self.inactivity_timeout = config.inactivity_timeout
        self._last_activity = clock.monotonic()
        self._connection: int | None = None

    # -- state changes from outside (faults, power) ---------------------------------------------

    def __str__(self) -> str:
        """E.g. ``meter 21061234 at logical 1 (1 byte)``."""
        return f"meter {self.config.serial_number} at {self.address}"

    @property
    def conformance(self) -> Conformance:
        """What this meter grants at most."""
        if self.config.replay is not None and self.config.replay.conformance is not None:
            return self.config.replay.conformance  # what the replayed meter granted
        if self.config.grant_multiple_references:
            return FIELD_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
        return FIELD_CONFORMANCE

    def _build_objects(self) -> None:
        config = self.config
        if config.replay is not None:
            self.objects = config.replay.build_objects(self.firmware)
        else:
            self.objects = build_objects(
                config.profile, config.serial_number, self.firmware, config.load_profile_period
            )
        self._by_obis = {o.obis: o for o in self.objects}

    def update_firmware(self, version: str) -> None:
        """A firmware update: the meter restarts with a new firmware id (registers are kept)."""
        self.firmware = version
        self._build_objects()
        self.power_cycle()

    def power_cycle(self) -> None:
        """Supply off and on: link, association and hang are gone; registers are kept."""
        self._drop_link(CloseReason.POWER_CYCLE)
        self.hung = False

    def hang(self) -> None:
        """Stop answering anything until a power cycle (the field's 'needs a power cycle')."""
        self.hung = True

    def leave_stuck_association(self, client_sap: int) -> None:
        """As if a client had associated and vanished without DISC; SNRM is ignored meanwhile."""
        self._drop_link(CloseReason.SNRM)
        access = self.clients.get(client_sap) or ClientAccess(client_sap, None, read_only=True)
        at = now()
        session = SessionRecord(str(self.address), client_sap, None, at)
        self.record.sessions.append(session)
        hdlc = HdlcServerLink(self.address)
        hdlc.client = client_address(client_sap)
        self.link = Link(hdlc, client_sap, session, stuck=True)
        record = AssociationRecord(str(self.address), client_sap, True, 0, None, at)
        self.record.associations.append(record)
        self.association = Association(access, self._association_view(access, 0xFFFF), record)
        self._last_activity = self.clock.monotonic()

    def set_load(self, watts: float | None) -> None:
        """Hold the net power at ``watts`` (positive import, negative export; None: the
        household's again); the energy registers count what was drawn up to now first."""
        self.registers.advance(self.clock.now())
        self.model.held = watts

    def set_password(self, client_sap: int, password: str | None) -> None:
        """Change (or add) the password of a client SAP."""
        current = self.clients.get(client_sap)
        read_only = current.read_only if current else password is None
        self.clients[client_sap] = ClientAccess(client_sap, password, read_only)

    def expire(self) -> None:
        """Apply the inactivity timeout: silence this long drops association and link."""
        if self.link is None:
            return
        if self.clock.monotonic() - self._last_activity >= self.inactivity_timeout:
            _LOGGER.debug("%s: inactivity timeout, link and association dropped", self)
            self._drop_link(CloseReason.INACTIVITY)

    def _drop_link(self, reason: CloseReason) -> None:
        self._close_association(reason)
        if self.link is not None and self.link.session is not None:
            self.link.session.closed_at = now()
            self.link.session.closed_by = reason
        self.link = None

    def _close_association(self, reason: CloseReason) -> None:
        if self.association is not None and self.association.record is not None:
            self.association.record.closed_at = now()
            self.association.record.closed_by = reason
        self.association = None

    # -- HDLC -----------------------------------------------------------------------------------

    def handle(self, frame: HdlcFrame, connection: int | None) -> list[Reply]:
        """Answer one frame addressed to this meter (the caller checks the address)."""
        self.expire()
        if self.hung or frame.source.size != 1:
            return []
        sap = frame.source.logical
        if sap not in self.clients:
            return []  # an unknown client SAP gets silence, like a wrong address
        self._connection = connection
        try:
            kind = frame.kind
        except FrameError:
            return []
        replies: list[Reply] | None
        if kind is FrameKind.SNRM:
            replies = self._on_snrm(frame, sap)
        elif kind is FrameKind.DISC:
            replies = self._on_disc(frame, sap)
        elif kind in (FrameKind.I, FrameKind.RR, FrameKind.RNR):
            replies = self._on_link_frame(frame, sap)
        else:
            replies = None
        if replies is None:
            return []  # ignored frames do not count as activity
        self._last_activity = self.clock.monotonic()
        odd = self.faults.take(OddFrame, lambda f: f.request is _request_kind(frame))
        if odd is not None:
            return [Reply(odd.frame, ResponseKind.OTHER)]
        return self._readdress(replies)

    def _readdress(self, replies: list[Reply]) -> list[Reply]:
        """Answers from the address form a fault asks for (the same logical and physical)."""
        other = self.faults.peek(AnswerFromAddressSize)
        if other is None or not replies:
            return replies
        size: AddressSize = 2 if other.size == 2 else 4
        address = ServerAddress(self.address.logical, self.address.physical or 0, size)
        return [
            replace(reply, data=replace(decode_frame(reply.data), source=address).encode())
            for reply in replies
        ]

    def _on_snrm(self, frame: HdlcFrame, sap: int) -> list[Reply] | None:
        if self.link is not None and (
            self.link.stuck or self.config.snrm_when_connected == "ignore"
        ):
            return None
        limit, window = self.config.max_info_length, self.config.hdlc_window
        hdlc = HdlcServerLink(self.address, HdlcParameters(limit, limit, window, window))
        try:
            out, _ = hdlc.receive(frame)
        except FrameError as err:
            _LOGGER.debug("%s: SNRM ignored: %s", self, err)
            self.record.bad_frames_received += 1
            return None
        self._drop_link(CloseReason.SNRM)
        session = SessionRecord(str(self.address), sap, self._connection, now())
        self.record.sessions.append(session)
        self.link = Link(hdlc, sap, session)
        if (information := self._ua_information()) is not None:
            # The same parameters in the form the vendor's UA writes them (2-byte max info).
            out = [replace(decode_frame(data), information=information).encode() for data in out]
        return [Reply(data, ResponseKind.UA) for data in out]

    def _ua_information(self) -> bytes | None:
        """The UA's parameters as this meter writes them (None: as the link encodes them)."""
        if self.config.replay is not None:
            return self.config.replay.ua_information
        return PROFILE_UA_INFORMATION.get(self.config.profile)

    def _on_disc(self, frame: HdlcFrame, sap: int) -> list[Reply]:
        self.record.disc_received += 1
        if self.faults.take(IgnoreDisc) is not None:
            self._drop_link(CloseReason.DISC)
            return []
        if self.link is None:
            return [Reply(dm_frame(sap, self.address).encode(), ResponseKind.DM)]
        out, _ = self.link.hdlc.receive(frame)
        self._drop_link(CloseReason.DISC)
        return [Reply(data, ResponseKind.UA) for data in out]

    def _on_link_frame(self, frame: HdlcFrame, sap: int) -> list[Reply] | None:
        """I, RR and RNR frames: sequence numbers and segmentation are the core's server link."""
        link = self.link
        if link is None:
            return [Reply(dm_frame(sap, self.address).encode(), ResponseKind.DM)]
        if link.client_sap != sap or link.stuck:
            return None
        if link.held is not None:
            return self._on_frame_while_busy(frame, link, link.held)
        try:
            out, message = link.hdlc.receive(frame)
        except FrameError as err:
            _LOGGER.debug("%s: frame ignored: %s", self, err)
            return None
        if message is not None:
            answer = self._on_apdu(message)
            if answer is not None:
                apdu, link.answer_kind = answer
                information = self._llc() + apdu
                wait = self._wait_frame(link) if link.answer_kind is ResponseKind.GET else None
                if wait is not None:
                    link.held = information
                    out.append(wait)
                else:
                    out.extend(link.hdlc.respond_frames(information))
        elif not out:
            return None  # out of sequence: silence, the client retransmits
        return [Reply(data, self._kind_of(data, link)) for data in out]

    def _wait_frame(self, link: Link) -> bytes | None:
        """RNR or RR acknowledging a GET whose answer a fault keeps back until polled."""
        if self.faults.take(ReceiveNotReady) is not None:
            return link.hdlc.not_ready()
        if self.faults.take(ReceiveReadyFirst) is not None:
            return link.hdlc.receive_ready()
        return None

    def _on_frame_while_busy(self, frame: HdlcFrame, link: Link, held: bytes) -> list[Reply] | None:
        """After RNR (or RR): the client's RR poll gets the answer kept back; a repeat of the
        request is dropped (this meter does not answer duplicates)."""
        if frame.kind is not FrameKind.RR:
            _LOGGER.debug("%s: busy, %s dropped", self, frame.kind.value)
            return None
        link.held = None
        return [Reply(data, link.answer_kind) for data in link.hdlc.respond_frames(held)]

    def _llc(self) -> bytes:
        """The LLC header of an answer: ``E6 E7 00`` unless a fault says otherwise."""
        odd = self.faults.take(ResponseLlc)
        return LLC_RESPONSE if odd is None else odd.header

    @staticmethod
    def _kind_of(data: bytes, link: Link) -> ResponseKind:
        kind = decode_frame(data).kind
        if kind is FrameKind.I:
            return link.answer_kind
        return ResponseKind.RR if kind is FrameKind.RR else ResponseKind.OTHER

    # -- xDLMS ----------------------------------------------------------------------------------

    def _on_apdu(self, information: bytes) -> tuple[bytes, ResponseKind] | None:
        try:
            request = decode_apdu(strip_llc(information, response=False))
        except DecodeError as err:
            _LOGGER.debug("%s: undecodable APDU %s: %s", self, information.hex(" "), err)
            if information[:3] != b"\xe6\xe6\x00":
                return None
            refusal = ExceptionResponse(StateError.SERVICE_UNKNOWN, ServiceErrorCode.OTHER_REASON)
            return refusal.encode(), ResponseKind.OTHER
        return self._dispatch(request)

    def _dispatch(self, request: Apdu) -> tuple[bytes, ResponseKind] | None:
        kind = _REQUEST_KINDS.get(type(request))
        odd = self.faults.take(OddAnswer, lambda f: f.request is kind)
        if odd is not None and kind is not None:
            return (odd.apdu, _ANSWER_KINDS.get(kind, ResponseKind.GET)) if odd.apdu else None
        if isinstance(request, Aarq):
            return self._on_aarq(request).encode(), ResponseKind.AARE
        if isinstance(request, ReleaseRequest):
            if self.faults.take(IgnoreRelease) is not None:
                return None
            if self.association is not None:
                self.record.rlrq_received += 1
                self._close_association(CloseReason.RLRQ)
            return ReleaseResponse().encode(), ResponseKind.RLRE
        association = self.association
        if association is None:
            refusal = ExceptionResponse(
                StateError.SERVICE_NOT_ALLOWED, ServiceErrorCode.OPERATION_NOT_POSSIBLE
            )
            return refusal.encode(), ResponseKind.OTHER
        if isinstance(request, GetRequestNormal | GetRequestNext | GetRequestWithList):
            return self._as_sent(self._on_any_get(association, request)), ResponseKind.GET
        refusal = ExceptionResponse(
            StateError.SERVICE_UNKNOWN, ServiceErrorCode.SERVICE_NOT_SUPPORTED
        )
        return refusal.encode(), ResponseKind.OTHER

    def _on_any_get(
        self,
        association: Association,
        request: GetRequestNormal | GetRequestNext | GetRequestWithList,
    ) -> bytes:
        if isinstance(request, GetRequestNormal):
            return self._on_get(association, request)
        if isinstance(request, GetRequestNext):
            return self._on_get_next(association, request)
        if not association.view.conformance & Conformance.MULTIPLE_REFERENCES:
            refusal = ExceptionResponse(
                StateError.SERVICE_NOT_ALLOWED, ServiceErrorCode.SERVICE_NOT_SUPPORTED
            )
            return refusal.encode()
        return self._on_get_list(association, request)

    def _as_sent(self, answer: bytes) -> bytes:
        """A GET answer as faults bend it: another invoke id, bytes after the APDU."""
        fixed = self.faults.peek(FixedInvokeId)
        if fixed is not None and answer[:1] == b"\xc4":
            answer = answer[:2] + bytes([fixed.invoke]) + answer[3:]
        padding = self.faults.peek(TrailingBytes)
        return answer + padding.data if padding is not None else answer

    def _association_view(self, access: ClientAccess, client_max_pdu: int) -> AssociationView:
        return AssociationView(
            client_sap=access.client_sap,
            server_sap=self.address.logical,
            conformance=int(self.conformance),
            client_max_pdu=client_max_pdu,
            server_max_pdu=self.config.max_pdu_size,
            authenticated=access.password is not None,
            read_only=access.read_only,
        )

    def _on_aarq(self, aarq: Aarq) -> Aare:
        assert self.link is not None
        sap = self.link.client_sap
        access = self.clients[sap]
        self._close_association(CloseReason.SNRM)
        diagnostic = self._check_aarq(aarq, access)
        service_error = None
        if diagnostic is AcseDiagnostic.NULL:
            service_error = self._check_initiate(aarq)
            if service_error is not None:
                diagnostic = AcseDiagnostic.NO_REASON_GIVEN
        accepted = diagnostic is AcseDiagnostic.NULL
        record = AssociationRecord(
            str(self.address), sap, accepted, int(diagnostic), self._connection, now()
        )
        self.record.associations.append(record)
        if not accepted:
            _LOGGER.debug("%s: AARQ from client %d rejected: %s", self, sap, diagnostic)
            return Aare(
                AssociationResult.REJECTED_PERMANENT, int(diagnostic), service_error=service_error
            )
        view = self._association_view(access, aarq.initiate.max_pdu_size)
        granted = Conformance(view.conformance) & aarq.initiate.conformance
        view = replace(view, conformance=int(granted))
        self.association = Association(access, view, record)
        mechanism = Mechanism.LOW if access.password is not None else None
        initiate = InitiateResponse(granted, self.config.max_pdu_size)
        return Aare(AssociationResult.ACCEPTED, 0, initiate=initiate, mechanism=mechanism)

    def _check_aarq(self, aarq: Aarq, access: ClientAccess) -> AcseDiagnostic:
        reject = self.faults.take(RejectAssociation)
        if reject is not None:
            return AcseDiagnostic(reject.diagnostic)
        if aarq.application_context != CONTEXT_LN_NO_CIPHERING:
            return AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED
        mechanism = aarq.mechanism or Mechanism.NONE
        if access.password is None:
            if mechanism is not Mechanism.NONE:
                return AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED
            return AcseDiagnostic.NULL
        if mechanism is Mechanism.NONE:
            return AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED
        if mechanism is not Mechanism.LOW:
            return AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED
        if access.any_password:
            return AcseDiagnostic.NULL
        if aarq.password != access.password.encode("latin-1"):
            return AcseDiagnostic.AUTHENTICATION_FAILURE
        return AcseDiagnostic.NULL

    def _check_initiate(self, aarq: Aarq) -> ConfirmedServiceError | None:
        initiate = aarq.initiate
        if initiate.dlms_version < DLMS_VERSION:
            return ConfirmedServiceError(1, 6, 1)  # initiateError, DLMS version too low
        if not initiate.conformance & self.conformance & Conformance.GET:
            return ConfirmedServiceError(1, 6, 2)  # incompatible conformance
        if initiate.max_pdu_size and initiate.max_pdu_size < 12:
            return ConfirmedServiceError(1, 6, 3)  # PDU size too short
        return None

    def view(self) -> MeterView:
        """The meter now, as one request sees it (registers integrated up to now)."""
        utc = self.clock.now()
        self.registers.advance(utc)
        return MeterView(
            utc=utc,
            utc_offset=self.model.offset,
            instant=self.model.instant(utc),
            registers=self.registers,
            association=self.association.view if self.association else None,
            objects=self.objects,
            hdlc_max_info=self.config.max_info_length,
            hdlc_address=self.address.physical or self.address.logical,
            inactivity_timeout=self.inactivity_timeout,
            inverted_deviation=self.config.inverted_deviation,
        )

    def read(self, ref: AttributeRef, selection: Selection | None = None) -> GetResult:
        """One attribute as GET answers it: data or a data-access result (faults applied)."""
        failure = self.faults.take(
            DataAccessFailure,
            lambda f: Obis.parse(f.obis) == ref.obis and f.attribute in (None, ref.attribute),
        )
        if failure is not None:
            return failure.result
        obj = self._by_obis.get(ref.obis)
        if obj is None:
            return DataAccessResult.OBJECT_UNDEFINED
        if obj.class_id != ref.class_id:
            return DataAccessResult.OBJECT_CLASS_INCONSISTENT
        try:
            value = obj.read(ref.attribute, self.view(), selection)
        except DataAccessError as err:
            return err.result
        if ref.obis in ENERGY_REGISTERS and ref.attribute == 2:
            glitch = self.faults.take(EnergyGlitch, lambda g: Obis.parse(g.obis) == ref.obis)
            if glitch is not None and isinstance(value.value, int):
                bad = {"zero": 0, "smaller": value.value * 97 // 100, "larger": value.value * 10}
                value = Data(value.type, bad[glitch.mode])
        return value

    def value(self, obis: str, attribute: int = 2) -> Data:
        """An attribute as the meter holds it now (no faults, no association needed)."""
        obj = self._by_obis.get(Obis.parse(obis))
        if obj is None:
            raise DataAccessError(DataAccessResult.OBJECT_UNDEFINED, obis)
        return obj.read(attribute, self.view(), None)

    def _max_apdu(self, association: Association) -> int:
        client = association.view.client_max_pdu or 0xFFFF
        return min(client, self.config.max_pdu_size)

    def _refusal(self, invoke: int, refs: tuple[AttributeRef, ...]) -> bytes | None:
        """The APDU refusing a GET of ``refs`` when a fault says so (a list: the whole of it)."""
        fault = self.faults.take(
            RefuseWithException,
            lambda f: any(
                Obis.parse(f.obis) == ref.obis and f.attribute in (None, ref.attribute)
                for ref in refs
            ),
        )
        if fault is None:
            return None
        if fault.answer == "service-error":
            return ConfirmedServiceError(5, 5, 2).encode()  # read, access, object access violated
        if fault.answer == "undecodable":
            return bytes([0xC4, 0x09, invoke])  # a GET-Response choice that does not exist
        if fault.answer == "list":
            return GetResponseWithList(invoke, ()).encode()
        refusal = ExceptionResponse(
            StateError.SERVICE_NOT_ALLOWED, ServiceErrorCode.SERVICE_NOT_SUPPORTED
        )
        return refusal.encode()  # D8 01 02

    def _on_get(self, association: Association, request: GetRequestNormal) -> bytes:
        association.blocks.clear()
        invoke = request.invoke_id_and_priority
        if (refusal := self._refusal(invoke, (request.attribute,))) is not None:
            return refusal
        selection = None
        if request.access_selection is not None:
            selection = Selection(
                request.access_selection.selector, request.access_selection.parameters
            )
        result = self.read(request.attribute, selection)
        encoded = GetResponseNormal(invoke, result).encode()
        if len(encoded) <= self._max_apdu(association) or not isinstance(result, Data):
            return encoded
        return self._start_blocks(association, invoke, result.encode())

    def _on_get_list(self, association: Association, request: GetRequestWithList) -> bytes:
        association.blocks.clear()
        invoke = request.invoke_id_and_priority
        if (refusal := self._refusal(invoke, request.attributes)) is not None:
            return refusal
        selections = request.access_selections or (None,) * len(request.attributes)
        results = tuple(
            self.read(ref, Selection(s.selector, s.parameters) if s else None)
            for ref, s in zip(request.attributes, selections, strict=True)
        )
        encoded = GetResponseWithList(invoke, results).encode()
        if len(encoded) <= self._max_apdu(association):
            return encoded
        return self._start_blocks(association, invoke, encoded[3:])

    def _start_blocks(self, association: Association, invoke: int, payload: bytes) -> bytes:
        if not association.view.conformance & Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ:
            return GetResponseNormal(invoke, DataAccessResult.OTHER_REASON).encode()
        size = self._max_apdu(association) - _DATABLOCK_OVERHEAD
        blocks = split_into_blocks(invoke, payload, size)
        if self.faults.peek(DatablocksFromZero) is not None:
            blocks = [replace(b, block_number=b.block_number - 1) for b in blocks]
        association.blocks = blocks[1:]
        return blocks[0].encode()

    def _on_get_next(self, association: Association, request: GetRequestNext) -> bytes:
        invoke = request.invoke_id_and_priority
        if not association.blocks:
            return GetResponseWithDatablock(
                invoke, True, request.block_number, DataAccessResult.NO_LONG_GET_IN_PROGRESS
            ).encode()
        block = association.blocks[0]
        if request.block_number != block.block_number - 1:
            association.blocks.clear()
            return GetResponseWithDatablock(
                invoke, True, request.block_number, DataAccessResult.LONG_GET_ABORTED
            ).encode()
        association.blocks.pop(0)
        return replace(block, invoke_id_and_priority=invoke).encode()
