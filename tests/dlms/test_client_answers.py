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
    DEFAULT_CONFORMANCE,
    AttributeRef,
    Conformance,
    ExceptionResponse,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.hdlc import HdlcFrame, client_address, i_control

from .fake_meter import (
    OBJECT_LIST,
    SERIAL,
    VOLTAGE,
    VOLTAGE_SCALER,
    FakeGateway,
    FakeMeter,
    settings_for as shared_settings,
)

METER = ServerAddress(1)
DM = HdlcFrame(client_address(1), METER, 0x1F).encode()
FRMR = HdlcFrame(client_address(1), METER, 0x97, b"\x01\x02\x03").encode()
LIST_GRANT = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES


def settings_for(gateway: FakeGateway, **changes: object) -> ConnectionSettings:
    """The shared test settings, with a shorter response timeout and no retransmissions."""
    return shared_settings(gateway, **{"response_timeout": 0.3, "retries": 0, **changes})


async def _read(meter: FakeMeter, ref: AttributeRef = SERIAL) -> object:
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            return await session.get(ref)


@pytest.mark.parametrize(
    ("meter", "error", "match"),
    [
        (FakeMeter(snrm_answer=DM), ProtocolError, "refuses the link"),
        (FakeMeter(snrm_answer=FRMR), ProtocolError, "rejected SNRM"),
        (
            FakeMeter(answers={"Aarq": ExceptionResponse(1, 2).encode()}),
            AssociationRejected,
            "association refused",
        ),
        (
            FakeMeter(answers={"Aarq": GetResponseNormal(0xC1, DataAccessResult.SUCCESS).encode()}),
            ProtocolError,
            "expected an AARE",
        ),
        (FakeMeter(frame_answers={"GetRequestNormal": DM}), ProtocolError, "dropped the link"),
        (
            FakeMeter(
                frame_answers={
                    "GetRequestNormal": HdlcFrame(
                        client_address(1), METER, i_control(5, 1), b"\xe6\xe7\x00"
                    ).encode()
                }
            ),
            ProtocolError,
            "only bad frames",
        ),
        (
            FakeMeter(
                block_size=100,
                next_answer=GetResponseWithDatablock(0xC1, False, 9, b"x").encode(),
            ),
            ProtocolError,
            "block transfer: datablock 9 received",
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
    meter: FakeMeter, error: type[DlmsError], match: str
) -> None:
    """Each odd answer surfaces as the error a field engineer can act on."""
    ref = OBJECT_LIST if meter.next_answer is not None else SERIAL
    with pytest.raises(error, match=match):
        await _read(meter, ref)
    if meter.snrm_answer is None and DM not in meter.frame_answers.values():
        assert meter.record.frames[-1] == "DISC"  # a meter saying DM holds nothing


@pytest.mark.parametrize(
    ("meter", "match"),
    [
        (FakeMeter(answers={"GetRequestNormal": b"\xc4\x09\xc1"}), "undecodable answer"),
        (
            FakeMeter(answers={"GetRequestNormal": ExceptionResponse(1, 2).encode()}),
            "the meter answered exception response",
        ),
        (
            FakeMeter(answers={"GetRequestNormal": GetResponseWithList(0xC1, ()).encode()}),
            "unexpected GetResponseWithList",
        ),
        (
            FakeMeter(
                answers={
                    "GetRequestNormal": GetResponseWithDatablock(
                        0xC1, True, 1, b"\x09\x05ab"
                    ).encode()
                }
            ),
            "bad data in its block transfer",
        ),
        (
            FakeMeter(block_size=100, next_answer=GetResponseWithList(0xC1, ()).encode()),
            "GET-Request-Next: unexpected",
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
async def test_odd_get_answers_fail_only_their_item(meter: FakeMeter, match: str) -> None:
    """An answer to one GET that is no usable GET-Response fails that item (issue 24): the
    session goes on and ends with RLRQ and DISC."""
    ref = OBJECT_LIST if meter.next_answer is not None else SERIAL
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            (result,) = await session.read_attributes([ref])
    assert isinstance(result.error, RequestRefusedError)
    assert match in str(result.error)
    assert meter.record.frames[-2:] == ["ReleaseRequest", "DISC"]


async def test_an_answer_for_another_invoke_id_is_taken() -> None:
    """A meter that does not echo the invoke id is read (neither Gurux nor u9n checks it)."""
    answer = GetResponseNormal(0xC5, Data(DataType.LONG_UNSIGNED, 7)).encode()
    assert await _read(FakeMeter(answers={"GetRequestNormal": answer})) == 7


async def test_first_datablock_carrying_a_failure_fails_that_item() -> None:
    """A block transfer refused at its first block: that attribute fails, the poll goes on."""
    failed = GetResponseWithDatablock(0xC1, True, 1, DataAccessResult.READ_WRITE_DENIED)
    meter = FakeMeter(answers={"GetRequestNormal": failed.encode()})
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            (result,) = await session.read_attributes([OBJECT_LIST])
    assert result.error is not None
    assert result.error.result is DataAccessResult.READ_WRITE_DENIED


async def test_list_answers_in_datablocks() -> None:
    """A GET-with-list answer too long for one APDU comes in datablocks and reassembles."""
    meter = FakeMeter(conformance=LIST_GRANT, block_size=20)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            results = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER, SERIAL])
    assert [r.value for r in results] == [23001, [-2, 35], b"12341234"]
    assert meter.record.list_requests == 1


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
async def test_list_in_datablocks_that_fails(answer: bytes, expected: list[object]) -> None:
    """A list refused in its first block fails each item; undecodable block data makes the
    client fall back to one GET per attribute."""
    meter = FakeMeter(conformance=LIST_GRANT, list_answer=answer)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            results = await session.read_attributes([VOLTAGE, SERIAL])
    assert [r.error.result if r.error else None for r in results] == expected


async def test_list_fallback_across_chunks_and_a_silent_list() -> None:
    """A small PDU splits the list in chunks: after the first chunk fails, later chunks are
    read one by one. A meter that never answers a list fails the poll but not the next one."""
    meter = FakeMeter(
        conformance=LIST_GRANT, max_pdu=40, list_answer=ExceptionResponse(1, 2).encode()
    )
    refs = [VOLTAGE, VOLTAGE_SCALER, SERIAL, VOLTAGE, SERIAL]
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            results = await session.read_attributes(refs)
    assert [r.ok for r in results] == [True] * 5
    assert meter.record.list_requests == 1

    silent = FakeMeter(conformance=LIST_GRANT, list_answer=b"")
    async with FakeGateway(silent) as gateway:
        client = MeterClient(settings_for(gateway))
        with pytest.raises(DlmsError):
            async with client.session() as session:
                await session.read_attributes([VOLTAGE, SERIAL])
        async with client.session() as session:
            results = await session.read_attributes([VOLTAGE, SERIAL])
    assert [r.ok for r in results] == [True, True]
    assert silent.record.list_requests == 1


async def test_request_longer_than_the_meters_pdu_is_refused() -> None:
    """A request the meter's PDU size cannot take is not sent."""
    with pytest.raises(EncodeError, match="exceed the meter's PDU size"):
        await _read(FakeMeter(max_pdu=12))


async def test_a_closed_session_refuses_reads_and_closes_once() -> None:
    """After the context the session is closed: reads fail clearly, close is idempotent."""
    meter = FakeMeter()
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            pass
        await session.close()
        await session.abort()
        with pytest.raises(ProtocolError, match="not open"):
            await session.get(SERIAL)
    assert meter.record.frames.count("DISC") == 1


async def test_after_dm_the_link_refuses_to_send() -> None:
    """The meter dropped the link mid-session; a caller that goes on gets a clear error."""
    meter = FakeMeter(frame_answers={"GetRequestNormal": DM})
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            with pytest.raises(ProtocolError, match="dropped the link"):
                await session.get(SERIAL)
            with pytest.raises(ProtocolError, match="cannot send"):
                await session.get(SERIAL)


async def test_unexpected_rlrq_answer_still_disconnects() -> None:
    """RLRQ answered with something else: logged, DISC still goes out."""
    meter = FakeMeter(answers={"ReleaseRequest": ExceptionResponse(1, 2).encode()})
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            await session.get(SERIAL)
    assert meter.record.frames[-2:] == ["ReleaseRequest", "DISC"]


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
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken trace callback is logged; the reading goes on."""

    def hook(record: object) -> None:
        raise RuntimeError("hook broke")

    meter = FakeMeter()
    async with FakeGateway(meter) as gateway:
        client = MeterClient(settings_for(gateway), trace=hook)
        with caplog.at_level(logging.ERROR):
            async with client.session() as session:
                assert await session.get(SERIAL) == b"12341234"
    assert "trace hook failed" in caplog.text
