"""Field reports against the client: meters that bend the standard, and sessions cut short.

Each test is one defect of issue 12, reproduced with the fake meter over loopback sockets.
"""

import asyncio
import time

import pytest

from custom_components.microstar_dlms.dlms import (
    DataAccessResult,
    MeterClient,
    NoAnswer,
    ProtocolError,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    Conformance,
    ExceptionResponse,
    GetResponseNormal,
    GetResponseWithList,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.hdlc import HdlcFrame, client_address

from .fake_meter import (
    OBJECT_LIST,
    SERIAL,
    VOLTAGE,
    VOLTAGE_SCALER,
    FakeGateway,
    FakeMeter,
    settings_for,
)

LIST_GRANT = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES


async def test_datablocks_numbered_from_zero_reassemble() -> None:
    """Item 2: a meter numbering its first GET datablock 0 still gives its object list."""
    meter = FakeMeter(block_size=100, first_block_number=0)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            objects = await session.get(OBJECT_LIST)
    assert isinstance(objects, list)
    assert len(objects) == 40
    assert meter.record.frames.count("GetRequestNext") >= 2


@pytest.mark.parametrize(
    "answer",
    [
        ExceptionResponse(1, 2).encode(),  # rejected: service not allowed
        GetResponseWithList(0xC1, (Data(DataType.LONG_UNSIGNED, 1),)).encode(),  # capped
        GetResponseNormal(0xC1, DataAccessResult.OTHER_REASON).encode(),  # mis-answered
    ],
    ids=["rejected", "capped", "mis-answered"],
)
async def test_granted_list_that_fails_falls_back_to_single_gets(answer: bytes) -> None:
    """Item 3: the meter grants multiple-references but fails GET-with-list: every value still
    reads, and the next poll asks one attribute per GET without trying the list again."""
    meter = FakeMeter(conformance=LIST_GRANT, list_answer=answer)
    async with FakeGateway(meter) as gateway:
        client = MeterClient(settings_for(gateway))
        for _ in range(2):
            async with client.session() as session:
                results = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER, SERIAL])
            assert [r.value for r in results] == [23001, [-2, 35], b"12341234"]
    assert meter.record.list_requests == 1


async def test_ua_with_an_odd_parameter_group_opens_the_session() -> None:
    """Item 4: a UA whose group length byte disagrees, with max-info above 2030 and a window of
    9, still opens a link: the client uses what parses and clamps the rest."""
    odd = bytes.fromhex("81 80 12 05 02 10 00 06 02 00 80 07 04 00 00 00 09 08 04 00 00 00 01")
    meter = FakeMeter(ua_information=odd)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            assert session.negotiated is not None
            assert session.negotiated.max_info_rx == 2030  # meter's tx 0x1000, clamped
            assert session.negotiated.max_info_tx == 128
            assert session.negotiated.window_rx == 7  # meter's tx window 9, clamped
            assert session.negotiated.window_tx == 1
            assert await session.get(SERIAL) == b"12341234"


async def test_frmr_goes_straight_to_disc() -> None:
    """Item 7: the meter rejects a GET with FRMR; the client does not retry it for 3 x the
    response timeout but ends the session with DISC at once."""
    meter = FakeMeter(frmr_on_get=True)
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway, response_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="FRMR"):
            async with MeterClient(settings).session() as session:
                await session.get(SERIAL)
        elapsed = time.monotonic() - started
    frames = meter.record.frames
    assert frames[frames.index("GetRequestNormal") + 1 :] == ["DISC"]
    # Not retried: three retries would take three response timeouts (3 s) at the least.
    assert elapsed < 2.5 * settings.response_timeout


async def test_bare_rr_is_answered_with_a_poll() -> None:
    """Item 7: a meter that first answers RR(F=1) (nothing yet) gets polled with RR and then
    delivers; the request is never resent."""
    meter = FakeMeter(hold_answers=True)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway, retries=0)).session() as session:
            results = await session.read_attributes([VOLTAGE, SERIAL])
    assert [r.value for r in results] == [23001, b"12341234"]
    assert meter.record.frames.count("GetRequestNormal") == 2


async def test_garbage_answering_snrm_is_no_answer() -> None:
    """Item 8: on a noisy or shared RS-485 line, bad frames in reply to SNRM are not an answer:
    the client reports NoAnswer, so address detection moves on to the next candidate."""
    other = HdlcFrame(client_address(1), ServerAddress(1), 0x73).encode()
    garbage = other[:-3] + bytes([other[-3] ^ 0xFF]) + other[-2:]  # FCS broken
    meter = FakeMeter(snrm_answer=garbage + b"\x7e\xa0\x07\x03\x03\x00\x00\x00\x7e")
    async with FakeGateway(meter) as gateway:
        with pytest.raises(NoAnswer):
            async with MeterClient(settings_for(gateway, retries=1)).session():
                pass


async def test_failed_get_next_fails_one_item_not_the_poll() -> None:
    """Item 9: a meter ending a block transfer with a normal response carrying a data-access
    result fails that attribute only; the next one still reads."""
    meter = FakeMeter(
        block_size=100, next_answer=GetResponseNormal(0xC1, DataAccessResult.OTHER_REASON).encode()
    )
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            listed, serial = await session.read_attributes([OBJECT_LIST, SERIAL])
    assert listed.error is not None
    assert listed.error.result is DataAccessResult.OTHER_REASON
    assert serial.value == b"12341234"


async def test_unanswered_disc_first_does_not_spoil_a_good_session() -> None:
    """Item 10: after an unclean end the next session opens with DISC; when that DISC gets no
    answer the session still opens and, being in step, ends with RLRQ and DISC as normal."""
    meter = FakeMeter(ignore_disc=2)
    async with FakeGateway(meter) as gateway:
        client = MeterClient(settings_for(gateway))
        async with client.session() as session:
            await session.get(SERIAL)  # its DISC goes unanswered: an unclean end
        async with client.session() as session:
            assert await session.get(SERIAL) == b"12341234"
        # A meter silent to DISC is no longer waited for (issue 24): the last DISC is sent
        # as the connection closes; let the meter read it.
        for _ in range(500):
            if not meter.record.concurrent:
                break
            await asyncio.sleep(0.01)
    assert meter.record.frames[-9:] == [
        "DISC",
        "SNRM",
        "I",
        "Aarq",
        "I",
        "GetRequestNormal",
        "I",
        "ReleaseRequest",
        "DISC",
    ]
