"""A small in-test meter behind a one-client gateway, built from the core's server-side codecs.

Just enough to prove the client's guarantees over real loopback sockets; the full simulator
lives in microstar_sim/.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    Aare,
    Aarq,
    AcseDiagnostic,
    AssociationResult,
    AttributeRef,
    Conformance,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithList,
    GetResult,
    InitiateResponse,
    Mechanism,
    ReleaseRequest,
    ReleaseResponse,
    add_llc,
    decode_apdu,
    split_into_blocks,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.client import ConnectionSettings
from custom_components.microstar_dlms.dlms.errors import DataAccessResult, DlmsError
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.hdlc_link import HdlcServerLink
from custom_components.microstar_dlms.dlms.obis import Obis

SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
VOLTAGE_SCALER = AttributeRef(3, Obis.parse("1-1:32.7.0"), 3)
VOLTAGE_L2 = AttributeRef(3, Obis.parse("1-1:52.7.0"), 2)
OBJECT_LIST = AttributeRef(15, Obis.parse("0-0:40.0.0"), 2)

DEFAULT_OBJECTS: dict[AttributeRef, Data] = {
    SERIAL: Data.octet_string(b"12341234"),
    VOLTAGE: Data(DataType.LONG_UNSIGNED, 23001),
    VOLTAGE_SCALER: Data.structure(Data(DataType.INTEGER, -2), Data(DataType.ENUM, 35)),
    OBJECT_LIST: Data.array(
        *(
            Data.structure(
                Data(DataType.LONG_UNSIGNED, 3),
                Data(DataType.UNSIGNED, 0),
                Data.octet_string(bytes([1, 1, n, 7, 0, 255])),
                Data.octet_string(bytes(20)),
            )
            for n in range(40)
        )
    ),
}


@dataclass
class MeterRecord:
    """What the meter and gateway saw, for assertions."""

    frames: list[str] = field(default_factory=list)  # frame kinds and APDU names, in order
    connections: int = 0
    concurrent: int = 0
    max_concurrent: int = 0
    aarq_passwords: list[bytes | None] = field(default_factory=list)
    get_requests: int = 0
    list_requests: int = 0
    reads: list[AttributeRef] = field(default_factory=list)  # attributes asked for

    def saw(self, name: str) -> bool:
        """Whether a frame kind or APDU name was received."""
        return name in self.frames


@dataclass
class FakeMeter:
    """Meter behaviour knobs."""

    address: ServerAddress = field(default_factory=lambda: ServerAddress(1))
    password: bytes | None = None  # None: any association accepted
    objects: dict[AttributeRef, Data] = field(default_factory=lambda: dict(DEFAULT_OBJECTS))
    conformance: Conformance = DEFAULT_CONFORMANCE
    max_pdu: int = 0x01F4
    hdlc: HdlcParameters = field(default_factory=HdlcParameters)
    block_size: int = 200
    get_delay: float = 0.0
    silent: bool = False
    drop_answers: int = 0  # lose this many answers after the AARE on the line
    greeting: bytes = b""  # stale bytes sent on connect
    greeting_delay: float = 0.0  # ... this long after the connect (a slow network's delivery)
    noise_before_answers: bytes = b""  # line noise in front of every answer
    busy_text: bytes | None = None  # act as a gateway with another client
    first_block_number: int = 1  # meters that number datablocks from 0 exist
    list_answer: bytes | None = None  # raw APDU answering every GET-with-list (a bad grant)
    next_answer: bytes | None = None  # raw APDU answering every GET-Request-Next
    ua_information: bytes | None = None  # raw UA information field (odd parameter groups)
    snrm_answer: bytes | None = None  # raw bytes sent instead of UA (line garbage)
    frmr_on_get: bool = False  # reject the first GET frame with FRMR
    hold_answers: bool = False  # answer a request with RR(F=1) and the data only when polled
    ignore_disc: int = 0  # leave this many DISCs unanswered
    # APDU name (e.g. "GetRequestNormal") -> raw APDU answering it (b"": no answer at all)
    answers: dict[str, bytes] = field(default_factory=dict)
    # APDU name -> raw bytes sent instead of an I-frame answer (DM, FRMR, odd frames)
    frame_answers: dict[str, bytes] = field(default_factory=dict)
    record: MeterRecord = field(default_factory=MeterRecord)

    def __post_init__(self) -> None:
        """Per-association state."""
        self._blocks: list[bytes] = []
        self._held: bytes | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One TCP client."""
        record = self.record
        record.connections += 1
        record.concurrent += 1
        record.max_concurrent = max(record.max_concurrent, record.concurrent)
        try:
            if self.busy_text is not None:
                writer.write(self.busy_text)
                await writer.drain()
                return
            if self.greeting:
                await asyncio.sleep(self.greeting_delay)
                writer.write(self.greeting)
            await self._serve(reader, writer)
        except ConnectionError, asyncio.IncompleteReadError:
            pass
        finally:
            record.concurrent -= 1
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = HdlcServerLink(self.address, self.hdlc)
        deframer = Deframer()
        while data := await reader.read(4096):
            deframer.feed(data)
            while True:
                try:
                    event = deframer.next_event()
                except DlmsError:
                    continue
                if event is None:
                    break
                if not isinstance(event, HdlcFrame):
                    continue
                await self._on_frame(link, event, writer)

    async def _on_frame(
        self, link: HdlcServerLink, frame: HdlcFrame, writer: asyncio.StreamWriter
    ) -> None:
        if frame.destination == self.address:
            self.record.frames.append(frame.kind.value)
        if self.silent:
            return
        if frame.kind is FrameKind.DISC and self.ignore_disc > 0:
            self.ignore_disc -= 1
            return
        if frame.kind is FrameKind.SNRM and self.snrm_answer is not None:
            writer.write(self.snrm_answer)
            await writer.drain()
            return
        if frame.kind is FrameKind.RR and self._held is not None:
            writer.write(link.respond(self._held))
            self._held = None
            await writer.drain()
            return
        replies, request = link.receive(frame)
        if frame.kind is FrameKind.SNRM and self.ua_information is not None:
            ua = HdlcFrame(frame.source, self.address, 0x73, self.ua_information)
            replies = [ua.encode()]
        for reply in replies:
            writer.write(reply)
        if request is None:
            await writer.drain()
            return
        apdu = decode_apdu(strip_llc(request, response=False))
        name = type(apdu).__name__
        self.record.frames.append(name)
        if name in self.frame_answers:
            writer.write(self.frame_answers[name])
            await writer.drain()
            return
        if self.frmr_on_get and isinstance(apdu, GetRequestNormal):
            self.frmr_on_get = False
            writer.write(HdlcFrame(frame.source, self.address, 0x97, b"\x10\x00\x00").encode())
            await writer.drain()
            return
        answer = self.answers[name] if name in self.answers else await self._answer(apdu)
        if not answer:
            return
        if self.hold_answers and not isinstance(apdu, Aarq | ReleaseRequest):
            self._held = add_llc(answer, response=True)
            writer.write(link._rr())  # RR(F=1): nothing to send yet
            await writer.drain()
            return
        reply = link.respond(add_llc(answer, response=True))
        if self.drop_answers > 0 and not isinstance(apdu, Aarq):
            self.drop_answers -= 1  # lost on the line: the meter did send it
            return
        writer.write(self.noise_before_answers + reply)
        await writer.drain()

    async def _answer(self, apdu: object) -> bytes | None:
        if isinstance(apdu, Aarq):
            return self._associate(apdu)
        if isinstance(apdu, ReleaseRequest):
            return ReleaseResponse().encode()
        if isinstance(apdu, GetRequestNormal | GetRequestWithList | GetRequestNext):
            self.record.get_requests += 1
            if self.get_delay:
                await asyncio.sleep(self.get_delay)
            return self._get(apdu)
        return None

    def _associate(self, aarq: Aarq) -> bytes:
        self.record.aarq_passwords.append(aarq.password)
        if self.password is not None and aarq.password != self.password:
            return Aare(
                AssociationResult.REJECTED_PERMANENT, AcseDiagnostic.AUTHENTICATION_FAILURE
            ).encode()
        return Aare(
            AssociationResult.ACCEPTED,
            initiate=InitiateResponse(self.conformance & aarq.initiate.conformance, self.max_pdu),
            mechanism=Mechanism.LOW if aarq.password else None,
        ).encode()

    def _lookup(self, ref: AttributeRef) -> GetResult:
        return self.objects.get(ref, DataAccessResult.OBJECT_UNDEFINED)

    def _get(self, apdu: GetRequestNormal | GetRequestWithList | GetRequestNext) -> bytes:
        invoke = apdu.invoke_id_and_priority
        if isinstance(apdu, GetRequestNext):
            if self.next_answer is not None:
                return self.next_answer
            return self._blocks.pop(0)
        if isinstance(apdu, GetRequestWithList):
            self.record.list_requests += 1
            if self.list_answer is not None:
                return self.list_answer
            self.record.reads.extend(apdu.attributes)
            results = tuple(self._lookup(ref) for ref in apdu.attributes)
            response = GetResponseWithList(invoke, results).encode()
            payload = response[3:]
        else:
            self.record.reads.append(apdu.attribute)
            response = GetResponseNormal(invoke, self._lookup(apdu.attribute)).encode()
            result = self._lookup(apdu.attribute)
            payload = result.encode() if isinstance(result, Data) else b""
        if len(response) <= self.block_size or not payload:
            return response
        shift = self.first_block_number - 1
        blocks = [
            replace(b, block_number=b.block_number + shift).encode()
            for b in split_into_blocks(invoke, payload, self.block_size)
        ]
        self._blocks = blocks[1:]
        return blocks[0]


class FakeGateway:
    """A TCP server on 127.0.0.1 running a FakeMeter; use as an async context manager."""

    def __init__(self, meter: FakeMeter) -> None:
        self.meter = meter
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def endpoint(self) -> str:
        """serialx URL of the gateway."""
        return f"socket://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeGateway:
        """Start listening on an ephemeral port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.meter.handle(reader, writer)
        finally:
            self._tasks.discard(task)

    async def __aexit__(self, *exc: object) -> None:
        """Stop and wait for every connection to end."""
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with asyncio.timeout(5):
            await self._server.wait_closed()


__all__ = ["FakeGateway", "FakeMeter", "FrameKind"]


PASSWORD = "0123456789"


def settings_for(gateway: FakeGateway, **changes: object) -> ConnectionSettings:
    """Client settings pointing at the fake gateway, with short test timeouts."""
    base: dict[str, object] = {
        "endpoint": gateway.endpoint,
        "client_sap": 1,
        "password": PASSWORD,
        "server": ServerAddress(1),
        "response_timeout": 0.5,
        "connect_timeout": 2.0,
        "lock_timeout": 5.0,
    }
    base.update(changes)
    return ConnectionSettings(**base)  # type: ignore[arg-type]
