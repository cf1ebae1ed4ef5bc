"""A meter with no socket: bytes from the sans-IO session in, the meter's bytes out.

Built from the core's server-side codecs (``HdlcServerLink``, the APDU encoders), so the
session's tests run as pure function calls: no event loop, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    Aare,
    Aarq,
    AssociationResult,
    AttributeRef,
    Conformance,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithList,
    InitiateResponse,
    ReleaseRequest,
    ReleaseResponse,
    decode_apdu,
    split_into_blocks,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data
from custom_components.microstar_dlms.dlms.errors import DataAccessResult
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.hdlc_link import HdlcServerLink
from custom_components.microstar_dlms.dlms.session import (
    DlmsSession,
    FrameArrived,
    Idle,
    NeedData,
    NoiseArrived,
    OperationResult,
    Transmit,
)


@dataclass
class WireMeter:
    """A meter that answers every frame at once; ``heard`` lists frame kinds and APDU names."""

    objects: dict[AttributeRef, Data]
    conformance: Conformance = DEFAULT_CONFORMANCE
    max_pdu: int = 0xFFFF
    block_size: int = 0  # 0: never answer in datablocks
    first_block_number: int = 1
    list_answer: bytes | None = None  # raw APDU answering every GET-with-list
    refusals: dict[AttributeRef, bytes] = field(default_factory=dict)  # raw APDU for a GET
    echo_invoke: bool = True  # False: every GET answer carries invoke id C1
    padding: bytes = b""  # bytes after every GET answer's APDU
    llc: bytes = b"\xe6\xe7\x00"  # the LLC header of every answer
    answer_rlrq: bool = True  # False: RLRQ is never answered
    answer_disc: bool = True  # False: DISC is never answered (the link stays up)
    hdlc: HdlcParameters = field(default_factory=HdlcParameters)
    address: ServerAddress = field(default_factory=lambda: ServerAddress(1))
    heard: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Line state."""
        self.link = HdlcServerLink(self.address, self.hdlc)
        self._deframer = Deframer()
        self._blocks: list[bytes] = []

    def feed(self, data: bytes) -> bytes:
        """The client's bytes in, everything the meter sends back out."""
        self._deframer.feed(data)
        out = b""
        while (frame := self._deframer.next_event()) is not None:
            if not isinstance(frame, HdlcFrame):
                continue
            self.heard.append(frame.kind.value)
            if frame.kind is FrameKind.DISC and not self.answer_disc:
                continue
            replies, request = self.link.receive(frame)
            out += b"".join(replies)
            if request is not None:
                out += self._answer(decode_apdu(strip_llc(request, response=False)))
        return out

    def _answer(self, apdu: object) -> bytes:
        self.heard.append(type(apdu).__name__)
        if isinstance(apdu, Aarq):
            granted = self.conformance & apdu.initiate.conformance
            answer = Aare(
                AssociationResult.ACCEPTED,
                initiate=InitiateResponse(granted, self.max_pdu),
                mechanism=apdu.mechanism,
            ).encode()
        elif isinstance(apdu, ReleaseRequest):
            if not self.answer_rlrq:
                return b""
            answer = ReleaseResponse().encode()
        elif isinstance(apdu, GetRequestNext):
            answer = self._blocks.pop(0)
        elif isinstance(apdu, GetRequestWithList):
            if self.list_answer is not None:
                answer = self.list_answer
            else:
                results = tuple(self._lookup(ref) for ref in apdu.attributes)
                answer = GetResponseWithList(apdu.invoke_id_and_priority, results).encode()
        elif isinstance(apdu, GetRequestNormal):
            answer = self.refusals.get(apdu.attribute) or self._get(apdu)
        else:
            raise AssertionError(f"the meter cannot answer {apdu}")
        if isinstance(apdu, GetRequestNormal | GetRequestNext | GetRequestWithList):
            if not self.echo_invoke and answer[:1] == b"\xc4":
                answer = answer[:2] + b"\xc1" + answer[3:]
            answer += self.padding
        return self.link.respond(self.llc + answer)

    def _lookup(self, ref: AttributeRef) -> Data | DataAccessResult:
        return self.objects.get(ref, DataAccessResult.OBJECT_UNDEFINED)

    def _get(self, apdu: GetRequestNormal) -> bytes:
        invoke = apdu.invoke_id_and_priority
        result = self._lookup(apdu.attribute)
        if not (self.block_size and isinstance(result, Data)):
            return GetResponseNormal(invoke, result).encode()
        shift = self.first_block_number - 1
        blocks = [
            replace(b, block_number=b.block_number + shift).encode()
            for b in split_into_blocks(invoke, result.encode(), self.block_size)
        ]
        self._blocks = blocks[1:]
        return blocks[0]

    def frames_heard(self) -> list[str]:
        """Only the HDLC frame kinds the meter heard."""
        kinds = {kind.value for kind in FrameKind}
        return [name for name in self.heard if name in kinds]


def run(session: DlmsSession, meter: WireMeter) -> tuple[OperationResult, list[bytes]]:
    """Drive the session's running operation against the meter; its result and what it sent."""
    sent: list[bytes] = []
    while True:
        event = session.next_event()
        if isinstance(event, Transmit):
            sent.append(event.data)
            if answer := meter.feed(event.data):
                session.receive_data(answer)
        elif isinstance(event, NeedData):
            raise AssertionError("the meter answered everything, yet the session waits")
        elif isinstance(event, Idle):
            raise AssertionError("no operation is running")
        elif not isinstance(event, FrameArrived | NoiseArrived):
            return event, sent
