"""A reference client written by others (gurux-dlms) talks to the simulator over real loopback TCP.

gurux only builds and parses frames here; the bytes move through asyncio streams, so the
simulator's event loop is never blocked.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXDLMSException, GXReplyData
from gurux_dlms.enums import Authentication, Conformance, InterfaceType, ObjectType
from gurux_dlms.objects import (
    GXDLMSData,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
)
import pytest

from microstar_sim import FAST, FakeClock, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import CloseReason


class GuruxOverTcp:
    """Drives a GXDLMSClient's frames over an asyncio TCP stream."""

    def __init__(
        self, client: GXDLMSClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.client = client
        self.reader = reader
        self.writer = writer

    async def packet(self, request: bytes | bytearray | None, reply: GXReplyData) -> None:
        """Send one frame and read until gurux has a complete answer."""
        if request is None:
            return
        self.writer.write(bytes(request))
        await self.writer.drain()
        received = GXByteBuffer()
        notify = GXReplyData()
        while not self.client.getData(received, reply, notify):
            async with asyncio.timeout(3):
                chunk = await self.reader.read(4096)
            if not chunk:
                raise ConnectionError("simulator closed the connection")
            received.set(chunk)
        if reply.error:
            raise GXDLMSException(reply.error)

    async def block(self, request: bytes | bytearray | list[bytes], reply: GXReplyData) -> None:
        """Send a request and follow HDLC segmentation (RR) and GET block transfer."""
        for frame in request if isinstance(request, list) else [request]:
            await self.packet(frame, reply)
            while reply.isMoreData():
                await self.packet(self.client.receiverReady(reply), reply)

    async def connect(self) -> None:
        """SNRM/UA then AARQ/AARE."""
        reply = GXReplyData()
        await self.packet(self.client.snrmRequest(), reply)
        self.client.parseUAResponse(reply.data)
        reply = GXReplyData()
        await self.block(self.client.aarqRequest(), reply)
        self.client.parseAareResponse(reply.data)

    async def read(self, item: object, attribute: int) -> object:
        """GET one attribute into the gurux object."""
        reply = GXReplyData()
        await self.block(self.client.read(item, attribute)[0], reply)
        return self.client.updateValue(item, attribute, reply.value)

    async def close(self) -> None:
        """RLRQ then DISC."""
        reply = GXReplyData()
        await self.block(self.client.releaseRequest(), reply)
        reply = GXReplyData()
        await self.packet(self.client.disconnectRequest(), reply)


async def _gurux(
    port: int, client_sap: int = 1, password: str | None = "2222222222"
) -> GuruxOverTcp:
    auth = Authentication.LOW if password else Authentication.NONE
    client = GXDLMSClient(True, client_sap, 1, auth, password, InterfaceType.HDLC)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return GuruxOverTcp(client, reader, writer)


async def test_gurux_lls_session_reads_value_and_scaler(simulator: SimulatorFactory) -> None:
    """SNRM → AARQ(LLS) → GET value and scaler_unit → RLRQ → DISC, all from gurux."""
    sim = await simulator()
    session = await _gurux(sim.port)
    try:
        await session.connect()
        conformance = session.client.negotiatedConformance
        assert conformance & Conformance.GET
        assert conformance & Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
        assert not conformance & Conformance.MULTIPLE_REFERENCES
        voltage = GXDLMSRegister("1.1.32.7.0.255")
        await session.read(voltage, 3)
        await session.read(voltage, 2)
        serial = GXDLMSData("1.0.0.0.0.255")
        await session.read(serial, 2)
        await session.close()
    finally:
        session.writer.close()
    assert voltage.scaler == pytest.approx(0.01)
    assert voltage.unit == 35
    assert 215 < voltage.value < 245
    assert bytes(serial.value) == b"21061234"
    record = sim.record
    assert record.disc_received == 1
    assert record.rlrq_received == 1
    assert record.sessions[0].closed_by is CloseReason.DISC
    assert record.open_associations == []


async def test_gurux_wrong_password_is_refused(simulator: SimulatorFactory) -> None:
    """gurux reports the authentication failure the simulator sends."""
    sim = await simulator()
    session = await _gurux(sim.port, password="0123456789")
    try:
        reply = GXReplyData()
        await session.packet(session.client.snrmRequest(), reply)
        session.client.parseUAResponse(reply.data)
        reply = GXReplyData()
        await session.block(session.client.aarqRequest(), reply)
        with pytest.raises(GXDLMSException) as caught:
            session.client.parseAareResponse(reply.data)
    finally:
        session.writer.close()
    assert caught.value.diagnostic == 13  # authentication-failure
    assert "Authentication failure" in str(caught.value)


async def test_gurux_reads_object_list_with_block_transfer(simulator: SimulatorFactory) -> None:
    """The association object list arrives in several GET blocks and gurux parses it."""
    sim = await simulator()
    session = await _gurux(sim.port)
    try:
        await session.connect()
        reply = GXReplyData()
        await session.block(session.client.getObjectsRequest(), reply)
        objects = session.client.parseObjects(reply.data, True)
        await session.close()
    finally:
        session.writer.close()
    names = {(o.objectType, o.logicalName) for o in objects}
    assert (ObjectType.DATA, "1.0.0.0.0.255") in names
    assert (ObjectType.CLOCK, "0.0.1.0.0.255") in names
    assert (ObjectType.REGISTER, "1.1.32.7.0.255") in names
    assert (ObjectType.PROFILE_GENERIC, "1.1.99.1.0.255") in names
    datablocks = [f for f in sim.record.frames_from_meter() if b"\xe6\xe7\x00\xc4\x02" in f.data]
    assert len(datablocks) >= 2


async def test_gurux_reads_load_profile_buffer(simulator: SimulatorFactory) -> None:
    """Capture objects, then the whole buffer (block transfer), then rows by entry."""
    clock = FakeClock(datetime(2025, 1, 15, 10, 0, tzinfo=UTC))
    sim = await simulator(SimulatorConfig(timing=FAST, clock=clock))
    session = await _gurux(sim.port)
    try:
        await session.connect()
        profile = GXDLMSProfileGeneric("1.1.99.1.0.255")
        await session.read(profile, 3)
        await session.read(profile, 2)
        whole = list(profile.buffer)
        reply = GXReplyData()
        await session.block(session.client.readRowsByEntry(profile, 1, 4), reply)
        rows = session.client.updateValue(profile, 2, reply.value)
        await session.close()
    finally:
        session.writer.close()
    assert [c[0].objectType for c in profile.captureObjects] == [
        ObjectType.CLOCK,
        ObjectType.REGISTER,
        ObjectType.REGISTER,
        ObjectType.DEMAND_REGISTER,
    ]
    assert len(whole) == 192
    first_time = whole[0][0]
    assert first_time.value.year == 2025
    imports = [row[1] for row in whole]
    assert imports == sorted(imports)
    assert isinstance(rows, list)
    assert len(rows) == 4
    assert [row[1:] for row in rows] == [row[1:] for row in whole[:4]]
    datablocks = [f for f in sim.record.frames_from_meter() if b"\xe6\xe7\x00\xc4\x02" in f.data]
    assert len(datablocks) >= 10
