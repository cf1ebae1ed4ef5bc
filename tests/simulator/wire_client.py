"""A test's own hand on the wire: frames built with the core codecs, sent over real loopback TCP.

Deliberately minimal and explicit (sequence numbers, RR for segments, GET-next for blocks), so a
test can also send exactly the bytes it wants and see exactly what comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    Aare,
    Aarq,
    AccessSelection,
    AttributeRef,
    Conformance,
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
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, Reader, decode_data
from custom_components.microstar_dlms.dlms.errors import FrameError
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    Noise,
    ServerAddress,
    client_address,
    disc_frame,
    i_control,
    rr_control,
    snrm_frame,
)
from custom_components.microstar_dlms.dlms.obis import Obis

FIELD_SERVER = ServerAddress(1)
PROPOSED = Conformance.from_bytes3(bytes.fromhex("007E1F"))  # a generous client proposal


class WireClient:
    """One TCP connection to the simulator's gateway."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        server: ServerAddress = FIELD_SERVER,
        client_sap: int = 1,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.server = server
        self.client_sap = client_sap
        self.deframer = Deframer()
        self.noise: list[bytes] = []
        self.bad_frames: list[FrameError] = []
        self.send_seq = 0
        self.recv_seq = 0
        self.invoke = 1

    @classmethod
    async def connect(
        cls, port: int, server: ServerAddress = FIELD_SERVER, client_sap: int = 1
    ) -> Self:
        """Open TCP to 127.0.0.1:port."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, server, client_sap)

    async def close(self) -> None:
        """Close TCP (no DISC: that is the test's choice)."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- bytes ------------------------------------------------------------------------------------

    async def send(self, data: bytes | HdlcFrame) -> None:
        """Send raw bytes or a frame."""
        self.writer.write(data.encode() if isinstance(data, HdlcFrame) else data)
        await self.writer.drain()

    async def read_raw(self, seconds: float) -> bytes:
        """Everything that arrives within ``seconds`` (until EOF)."""
        out = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(left):
                    chunk = await self.reader.read(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    async def read_frame(self, within: float = 2.0) -> HdlcFrame:
        """The next valid frame; noise and bad frames are kept in ``noise``/``bad_frames``."""
        async with asyncio.timeout(within):
            while True:
                try:
                    event = self.deframer.next_event()
                except FrameError as err:
                    self.bad_frames.append(err)
                    continue
                if isinstance(event, HdlcFrame):
                    return event
                if isinstance(event, Noise):
                    self.noise.append(event.data)
                    continue
                chunk = await self.reader.read(4096)
                if not chunk:
                    raise ConnectionResetError("the gateway closed the connection")
                self.deframer.feed(chunk)

    async def expect_silence(self, seconds: float = 0.3) -> None:
        """Assert that nothing at all arrives for ``seconds``."""
        data = await self.read_raw(seconds)
        assert data == b"", f"expected silence, got {data.hex(' ')}"

    # -- HDLC -------------------------------------------------------------------------------------

    async def snrm(self, parameters: HdlcParameters | None = None) -> HdlcFrame:
        """SNRM; returns the answer (UA expected)."""
        await self.send(snrm_frame(self.server, self.client_sap, parameters))
        answer = await self.read_frame()
        if answer.kind is FrameKind.UA:
            self.send_seq = self.recv_seq = 0
        return answer

    async def disc(self) -> HdlcFrame:
        """DISC; returns UA or DM."""
        await self.send(disc_frame(self.server, self.client_sap))
        return await self.read_frame()

    def i_frame(self, information: bytes, segmented: bool = False) -> HdlcFrame:
        """The next I-frame (advances N(S))."""
        frame = HdlcFrame(
            self.server,
            client_address(self.client_sap),
            i_control(self.send_seq, self.recv_seq),
            information,
            segmented,
        )
        self.send_seq = (self.send_seq + 1) % 8
        return frame

    async def exchange(self, apdu: bytes) -> bytes:
        """Send an APDU in one I-frame, collect a possibly segmented answer; return its APDU."""
        await self.send(self.i_frame(add_llc(apdu)))
        information = bytearray()
        while True:
            frame = await self.read_frame()
            if frame.kind is not FrameKind.I:
                raise AssertionError(f"expected an I-frame, got {frame.describe()}")
            assert frame.send_seq == self.recv_seq, "meter N(S) out of sequence"
            self.recv_seq = (self.recv_seq + 1) % 8
            information += frame.information
            if not frame.segmented:
                return strip_llc(bytes(information), response=True)
            rr = HdlcFrame(self.server, client_address(self.client_sap), rr_control(self.recv_seq))
            await self.send(rr)

    # -- xDLMS ------------------------------------------------------------------------------------

    async def associate(
        self,
        password: str | None = "2222222222",
        conformance: Conformance = PROPOSED,
        max_pdu: int = 0xFFFF,
    ) -> Aare:
        """AARQ (LLS when a password is given); returns the AARE."""
        aarq = Aarq(
            Mechanism.LOW if password is not None else None,
            password.encode() if password is not None else None,
            InitiateRequest(conformance, max_pdu),
        )
        answer = decode_apdu(await self.exchange(aarq.encode()))
        assert isinstance(answer, Aare), answer
        return answer

    async def open(self, password: str | None = "2222222222") -> Aare:
        """SNRM + AARQ, asserting both succeed."""
        ua = await self.snrm()
        assert ua.kind is FrameKind.UA, ua.describe()
        aare = await self.associate(password)
        assert aare.accepted, aare.describe_rejection()
        return aare

    def _invoke(self) -> int:
        self.invoke = self.invoke % 15 + 1
        return 0xC0 | self.invoke

    async def get(
        self, class_id: int, obis: str, attribute: int, selection: AccessSelection | None = None
    ) -> GetResult:
        """GET one attribute, following block transfer; returns Data or a DataAccessResult."""
        ref = AttributeRef(class_id, Obis.parse(obis), attribute)
        answer = decode_apdu(
            await self.exchange(GetRequestNormal(self._invoke(), ref, selection).encode())
        )
        if isinstance(answer, GetResponseNormal):
            return answer.result
        assert isinstance(answer, GetResponseWithDatablock), answer
        payload = await self._collect_blocks(answer)
        return Data.decode(payload)

    async def get_data(
        self, class_id: int, obis: str, attribute: int, selection: AccessSelection | None = None
    ) -> Data:
        """GET that must succeed."""
        result = await self.get(class_id, obis, attribute, selection)
        assert isinstance(result, Data), f"GET {obis}/{attribute} failed: {result!r}"
        return result

    async def _collect_blocks(self, first: GetResponseWithDatablock) -> bytes:
        blocks = [first]
        while not blocks[-1].last_block:
            request = GetRequestNext(first.invoke_id_and_priority, blocks[-1].block_number)
            answer = decode_apdu(await self.exchange(request.encode()))
            assert isinstance(answer, GetResponseWithDatablock), answer
            assert answer.block_number == blocks[-1].block_number + 1
            blocks.append(answer)
        parts = [b.raw_data for b in blocks]
        assert all(isinstance(p, bytes) for p in parts), parts
        return b"".join(p for p in parts if isinstance(p, bytes))

    async def get_list(self, refs: list[tuple[int, str, int]]) -> tuple[GetResult, ...] | object:
        """GET-with-list; returns the results, or the APDU when the meter refuses."""
        request = GetRequestWithList(
            self._invoke(), tuple(AttributeRef(c, Obis.parse(o), a) for c, o, a in refs)
        )
        answer = decode_apdu(await self.exchange(request.encode()))
        if isinstance(answer, GetResponseWithList):
            return answer.results
        if isinstance(answer, GetResponseWithDatablock):
            payload = await self._collect_blocks(answer)
            reader = Reader(payload)
            count = reader.length()
            results: list[GetResult] = []
            for _ in range(count):
                assert reader.byte() == 0
                results.append(decode_data(reader))
            return tuple(results)
        return answer

    async def release(self) -> object:
        """RLRQ; returns the answer APDU."""
        answer = decode_apdu(await self.exchange(ReleaseRequest().encode()))
        assert isinstance(answer, ReleaseResponse), answer
        return answer

    async def close_session(self) -> None:
        """RLRQ, DISC, TCP close: what a well-behaved client does."""
        await self.release()
        ua = await self.disc()
        assert ua.kind is FrameKind.UA
        await self.close()


__all__ = ["DEFAULT_CONFORMANCE", "FIELD_SERVER", "WireClient"]
