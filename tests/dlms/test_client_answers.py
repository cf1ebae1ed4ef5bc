"""What the client makes of every odd answer a meter can give: a named error, never a hang,
and the session still ends with DISC."""

import asyncio
import logging

import pytest

from custom_components.microstar_dlms.dlms import (
    AssociationRejected,
    ConnectionFailed,
    ConnectionSettings,
    DataAccessResult,
    DlmsError,
    EncodeError,
    MeterClient,
    ProtocolError,
    RequestRefusedError,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.apdu import (
    AttributeRef,
    ExceptionResponse,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
)
from custom_components.microstar_dlms.dlms.hdlc import HdlcFrame, client_address, i_control
from microstar_sim import Fault, FixedInvokeId, OddAnswer, OddFrame, RequestKind, Simulator
from microstar_sim.pytest_plugin import SimulatorFactory

from .simulated import (
    CLOCK,
    FIRMWARE,
    OBJECT_LIST,
    SERIAL,
    SERIAL_NUMBER,
    VOLTAGE,
    VOLTAGE_SCALER,
    closed,
    settings_for as shared_settings,
    start,
    value_of,
)

METER = ServerAddress(1)
DM = HdlcFrame(client_address(1), METER, 0x1F).encode()
FRMR = HdlcFrame(client_address(1), METER, 0x97, b"\x01\x02\x03").encode()
OUT_OF_SEQUENCE = HdlcFrame(client_address(1), METER, i_control(5, 1), b"\xe6\xe7\x00").encode()
SNRM, AARQ, GET, GET_NEXT, GET_LIST, RLRQ = (
    RequestKind.SNRM,
    RequestKind.AARQ,
    RequestKind.GET,
    RequestKind.GET_NEXT,
    RequestKind.GET_LIST,
    RequestKind.RLRQ,
)


def settings_for(sim: Simulator, **changes: object) -> ConnectionSettings:
    """The shared test settings, with a shorter response timeout and no retransmissions."""
    return shared_settings(sim, **{"response_timeout": 0.3, "retries": 0, **changes})


async def _read(sim: Simulator, ref: AttributeRef = SERIAL) -> object:
    async with MeterClient(settings_for(sim)).session() as session:
        return await session.get(ref)


@pytest.mark.parametrize(
    ("fault", "error", "match", "ref"),
    [
        (OddFrame(SNRM, DM), ProtocolError, "refuses the link", SERIAL),
        (OddFrame(SNRM, FRMR), ProtocolError, "rejected SNRM", SERIAL),
        (
            OddAnswer(AARQ, ExceptionResponse(1, 2).encode()),
            AssociationRejected,
            "association refused",
            SERIAL,
        ),
        (
            OddAnswer(AARQ, GetResponseNormal(0xC1, DataAccessResult.SUCCESS).encode()),
            ProtocolError,
            "expected an AARE",
            SERIAL,
        ),
        (OddFrame(GET, DM), ProtocolError, "dropped the link", SERIAL),
        (
            OddFrame(GET, OUT_OF_SEQUENCE),
            ProtocolError,
            "only bad frames",
            SERIAL,
        ),
        (
            OddAnswer(GET_NEXT, GetResponseWithDatablock(0xC1, False, 9, b"x").encode()),
            ProtocolError,
            "block transfer: datablock 9 received",
            OBJECT_LIST,
        ),
    ],
    ids=[
        "SNRM answered DM",
        "SNRM answered FRMR",
        "AARQ answered exception",
        "AARQ answered GET",
        "DM mid-session",
        "I-frame out of sequence",
        "datablock out of sequence",
    ],
)
async def test_odd_answers_are_named_errors_and_end_with_disc(
    simulator: SimulatorFactory,
    fault: Fault,
    error: type[DlmsError],
    match: str,
    ref: AttributeRef,
) -> None:
    """Each odd answer surfaces as the error a field engineer can act on."""
    sim = await start(simulator, fault)
    with pytest.raises(error, match=match):
        await _read(sim, ref)
    await closed(sim)
    said_dm = isinstance(fault, OddFrame) and fault.frame in (DM, FRMR)
    if not said_dm:
        assert sim.record.heard()[-1] == "DISC"  # a meter saying DM holds nothing


@pytest.mark.parametrize(
    ("fault", "match", "ref"),
    [
        (OddAnswer(GET, b"\xc4\x09\xc1"), "undecodable answer", SERIAL),
        (
            OddAnswer(GET, ExceptionResponse(1, 2).encode()),
            "the meter answered exception response",
            SERIAL,
        ),
        (
            OddAnswer(GET, GetResponseWithList(0xC1, ()).encode()),
            "unexpected GetResponseWithList",
            SERIAL,
        ),
        (
            OddAnswer(GET, GetResponseWithDatablock(0xC1, True, 1, b"\x09\x05ab").encode()),
            "bad data in its block transfer",
            SERIAL,
        ),
        (
            OddAnswer(GET_NEXT, GetResponseWithList(0xC1, ()).encode()),
            "GET-Request-Next: unexpected",
            OBJECT_LIST,
        ),
    ],
    ids=[
        "GET answer undecodable",
        "GET answered exception",
        "GET answered with a list",
        "block data undecodable",
        "GET-next answered with a list",
    ],
)
async def test_odd_get_answers_fail_only_their_item(
    simulator: SimulatorFactory, fault: Fault, match: str, ref: AttributeRef
) -> None:
    """An answer to one GET that is no usable GET-Response fails that item (issue 24): the
    session goes on and ends with RLRQ and DISC."""
    sim = await start(simulator, fault)
    async with MeterClient(settings_for(sim)).session() as session:
        (result,) = await session.read_attributes([ref])
    await closed(sim)
    assert isinstance(result.error, RequestRefusedError)
    assert match in str(result.error)
    assert sim.record.heard()[-2:] == ["ReleaseRequest", "DISC"]


async def test_an_answer_for_another_invoke_id_is_taken(simulator: SimulatorFactory) -> None:
    """A meter that does not echo the invoke id is read (neither Gurux nor u9n checks it)."""
    sim = await start(simulator, FixedInvokeId(0xC5))
    assert await _read(sim) == SERIAL_NUMBER


async def test_first_datablock_carrying_a_failure_fails_that_item(
    simulator: SimulatorFactory,
) -> None:
    """A block transfer refused at its first block: that attribute fails, the poll goes on."""
    failed = GetResponseWithDatablock(0xC1, True, 1, DataAccessResult.READ_WRITE_DENIED)
    sim = await start(simulator, OddAnswer(GET, failed.encode()))
    async with MeterClient(settings_for(sim)).session() as session:
        (result,) = await session.read_attributes([OBJECT_LIST])
    assert result.error is not None
    assert result.error.result is DataAccessResult.READ_WRITE_DENIED


async def test_list_answers_in_datablocks(simulator: SimulatorFactory) -> None:
    """A GET-with-list answer too long for one APDU comes in datablocks and reassembles."""
    # A 36-byte PDU takes the request for three (34 bytes), not their 45-byte answer.
    sim = await start(simulator, grant_multiple_references=True, max_pdu_size=36)
    refs = [CLOCK, FIRMWARE, SERIAL]
    async with MeterClient(settings_for(sim)).session() as session:
        results = await session.read_attributes(refs)
    assert [r.value for r in results] == [value_of(sim, ref) for ref in refs]
    heard = sim.record.heard()
    assert heard.count("GetRequestWithList") == 1
    assert heard.count("GetRequestNext") >= 1


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            GetResponseWithDatablock(0xC1, True, 1, DataAccessResult.OTHER_REASON).encode(),
            [DataAccessResult.OTHER_REASON] * 2,
        ),
        (GetResponseWithDatablock(0xC1, True, 1, b"\x05\x01").encode(), [None, None]),
    ],
    ids=["refused in its first block", "undecodable block data"],
)
async def test_list_in_datablocks_that_fails(
    simulator: SimulatorFactory, answer: bytes, expected: list[object]
) -> None:
    """A list refused in its first block fails each item; undecodable block data makes the
    client fall back to one GET per attribute."""
    sim = await start(simulator, OddAnswer(GET_LIST, answer), grant_multiple_references=True)
    async with MeterClient(settings_for(sim)).session() as session:
        results = await session.read_attributes([VOLTAGE, SERIAL])
    assert [r.error.result if r.error else None for r in results] == expected


async def test_list_fallback_across_chunks_and_a_silent_list(simulator: SimulatorFactory) -> None:
    """A small PDU splits the list in chunks: after the first chunk fails, later chunks are
    read one by one. A meter that never answers a list fails the poll but not the next one."""
    refused = OddAnswer(GET_LIST, ExceptionResponse(1, 2).encode())
    sim = await start(simulator, refused, grant_multiple_references=True, max_pdu_size=40)
    refs = [VOLTAGE, VOLTAGE_SCALER, SERIAL, VOLTAGE, SERIAL]
    async with MeterClient(settings_for(sim)).session() as session:
        results = await session.read_attributes(refs)
    assert [r.ok for r in results] == [True] * 5
    assert sim.record.heard().count("GetRequestWithList") == 1

    silent = await start(simulator, OddAnswer(GET_LIST, b""), grant_multiple_references=True)
    client = MeterClient(settings_for(silent))
    with pytest.raises(DlmsError):
        async with client.session() as session:
            await session.read_attributes([VOLTAGE, SERIAL])
    async with client.session() as session:
        results = await session.read_attributes([VOLTAGE, SERIAL])
    assert [r.ok for r in results] == [True, True]
    assert silent.record.heard().count("GetRequestWithList") == 1


async def test_request_longer_than_the_meters_pdu_is_refused(simulator: SimulatorFactory) -> None:
    """A request the meter's PDU size cannot take is not sent."""
    sim = await start(simulator, max_pdu_size=12)
    with pytest.raises(EncodeError, match="exceed the meter's PDU size"):
        await _read(sim)
    assert "GetRequestNormal" not in sim.record.heard()


async def test_a_closed_session_refuses_reads_and_closes_once(simulator: SimulatorFactory) -> None:
    """After the context the session is closed: reads fail clearly, close is idempotent."""
    sim = await start(simulator)
    async with MeterClient(settings_for(sim)).session() as session:
        pass
    await session.close()
    await session.abort()
    with pytest.raises(ProtocolError, match="not open"):
        await session.get(SERIAL)
    await closed(sim)
    assert sim.record.heard().count("DISC") == 1


async def test_after_dm_the_link_refuses_to_send(simulator: SimulatorFactory) -> None:
    """The meter dropped the link mid-session; a caller that goes on gets a clear error."""
    sim = await start(simulator, OddFrame(GET, DM))
    async with MeterClient(settings_for(sim)).session() as session:
        with pytest.raises(ProtocolError, match="dropped the link"):
            await session.get(SERIAL)
        with pytest.raises(ProtocolError, match="cannot send"):
            await session.get(SERIAL)


async def test_unexpected_rlrq_answer_still_disconnects(simulator: SimulatorFactory) -> None:
    """RLRQ answered with something else: logged, DISC still goes out."""
    sim = await start(simulator, OddAnswer(RLRQ, ExceptionResponse(1, 2).encode()))
    async with MeterClient(settings_for(sim)).session() as session:
        await session.get(SERIAL)
    await closed(sim)
    assert sim.record.heard()[-2:] == ["ReleaseRequest", "DISC"]


async def test_gateway_closing_at_once_is_connection_failed() -> None:
    """A gateway that accepts and closes without a word: ConnectionFailed, named so."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = ConnectionSettings(endpoint=f"socket://127.0.0.1:{port}", client_sap=1)
        with pytest.raises(ConnectionFailed, match="closed the connection"):
            async with MeterClient(settings).session():
                pass
    finally:
        server.close()
        await server.wait_closed()


async def test_a_failing_trace_hook_does_not_fail_the_poll(
    simulator: SimulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken trace callback is logged; the reading goes on."""

    def hook(record: object) -> None:
        raise RuntimeError("hook broke")

    sim = await start(simulator)
    client = MeterClient(settings_for(sim), trace=hook)
    with caplog.at_level(logging.ERROR):
        async with client.session() as session:
            assert await session.get(SERIAL) == SERIAL_NUMBER
    assert "trace hook failed" in caplog.text
