"""Field reports against the client: meters that bend the standard, and sessions cut short.

Each test is one defect of issue 12, reproduced with the simulator over loopback sockets.
"""

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
    ExceptionResponse,
    GetResponseNormal,
    GetResponseWithList,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.hdlc import HdlcFrame, client_address
from microstar_sim import (
    DatablocksFromZero,
    IgnoreDisc,
    OddAnswer,
    OddFrame,
    ReceiveReadyFirst,
    RequestKind,
)
from microstar_sim.pytest_plugin import SimulatorFactory

from .simulated import (
    OBJECT_LIST,
    SERIAL,
    SERIAL_NUMBER,
    VOLTAGE,
    VOLTAGE_SCALER,
    closed,
    settings_for,
    start,
    value_of,
)

METER = ServerAddress(1)


async def test_datablocks_numbered_from_zero_reassemble(simulator: SimulatorFactory) -> None:
    """Item 2: a meter numbering its first GET datablock 0 still gives its object list."""
    sim = await start(simulator, DatablocksFromZero(), max_pdu_size=116)  # 100-byte blocks
    async with MeterClient(settings_for(sim)).session() as session:
        objects = await session.get(OBJECT_LIST)
    assert isinstance(objects, list)
    assert len(objects) == len(sim.meter().objects)
    assert sim.record.heard().count("GetRequestNext") >= 2


@pytest.mark.parametrize(
    "answer",
    [
        ExceptionResponse(1, 2).encode(),  # rejected: service not allowed
        GetResponseWithList(0xC1, (Data(DataType.LONG_UNSIGNED, 1),)).encode(),  # capped
        GetResponseNormal(0xC1, DataAccessResult.OTHER_REASON).encode(),  # mis-answered
    ],
    ids=["rejected", "capped", "mis-answered"],
)
async def test_granted_list_that_fails_falls_back_to_single_gets(
    simulator: SimulatorFactory, answer: bytes
) -> None:
    """Item 3: the meter grants multiple-references but fails GET-with-list: every value still
    reads, and the next poll asks one attribute per GET without trying the list again."""
    failing = OddAnswer(RequestKind.GET_LIST, answer)
    sim = await start(simulator, failing, grant_multiple_references=True)
    refs = [VOLTAGE, VOLTAGE_SCALER, SERIAL]
    client = MeterClient(settings_for(sim))
    for _ in range(2):
        async with client.session() as session:
            results = await session.read_attributes(refs)
        assert [r.value for r in results] == [value_of(sim, ref) for ref in refs]
    assert sim.record.heard().count("GetRequestWithList") == 1


async def test_ua_with_an_odd_parameter_group_opens_the_session(
    simulator: SimulatorFactory,
) -> None:
    """Item 4: a UA whose group length byte disagrees, with max-info above 2030 and a window of
    9, still opens a link: the client uses what parses and clamps the rest."""
    odd = bytes.fromhex("81 80 12 05 02 10 00 06 02 00 80 07 04 00 00 00 09 08 04 00 00 00 01")
    ua = HdlcFrame(client_address(1), METER, 0x73, odd).encode()
    sim = await start(simulator, OddFrame(RequestKind.SNRM, ua))
    async with MeterClient(settings_for(sim)).session() as session:
        assert session.negotiated is not None
        assert session.negotiated.max_info_rx == 2030  # meter's tx 0x1000, clamped
        assert session.negotiated.max_info_tx == 128
        assert session.negotiated.window_rx == 7  # meter's tx window 9, clamped
        assert session.negotiated.window_tx == 1
        assert await session.get(SERIAL) == SERIAL_NUMBER


async def test_frmr_goes_straight_to_disc(simulator: SimulatorFactory) -> None:
    """Item 7: the meter rejects a GET with FRMR; the client does not retry it for 3 x the
    response timeout but ends the session with DISC at once."""
    frmr = HdlcFrame(client_address(1), METER, 0x97, b"\x10\x00\x00").encode()
    sim = await start(simulator, OddFrame(RequestKind.GET, frmr, count=1))
    settings = settings_for(sim, response_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ProtocolError, match="FRMR"):
        async with MeterClient(settings).session() as session:
            await session.get(SERIAL)
    elapsed = time.monotonic() - started
    await closed(sim)
    heard = sim.record.heard()
    assert heard[heard.index("GetRequestNormal") + 1 :] == ["DISC"]
    # Not retried: three retries would take three response timeouts (3 s) at the least.
    assert elapsed < 2.5 * settings.response_timeout


async def test_bare_rr_is_answered_with_a_poll(simulator: SimulatorFactory) -> None:
    """Item 7: a meter that first answers RR(F=1) (nothing yet) gets polled with RR and then
    delivers; the request is never resent."""
    sim = await start(simulator, ReceiveReadyFirst())
    async with MeterClient(settings_for(sim, retries=0)).session() as session:
        results = await session.read_attributes([VOLTAGE, SERIAL])
    assert [r.value for r in results] == [value_of(sim, VOLTAGE), SERIAL_NUMBER]
    heard = sim.record.heard()
    assert heard.count("GetRequestNormal") == 2
    assert heard.count("RR") == 2  # one poll per GET


async def test_garbage_answering_snrm_is_no_answer(simulator: SimulatorFactory) -> None:
    """Item 8: on a noisy or shared RS-485 line, bad frames in reply to SNRM are not an answer:
    the client reports NoAnswer, so address detection moves on to the next candidate."""
    other = HdlcFrame(client_address(1), METER, 0x73).encode()
    garbage = other[:-3] + bytes([other[-3] ^ 0xFF]) + other[-2:]  # FCS broken
    junk = OddFrame(RequestKind.SNRM, garbage + b"\x7e\xa0\x07\x03\x03\x00\x00\x00\x7e")
    sim = await start(simulator, junk)
    with pytest.raises(NoAnswer):
        async with MeterClient(settings_for(sim, retries=1)).session():
            pass


async def test_failed_get_next_fails_one_item_not_the_poll(simulator: SimulatorFactory) -> None:
    """Item 9: a meter ending a block transfer with a normal response carrying a data-access
    result fails that attribute only; the next one still reads."""
    failed = GetResponseNormal(0xC1, DataAccessResult.OTHER_REASON).encode()
    sim = await start(simulator, OddAnswer(RequestKind.GET_NEXT, failed))
    async with MeterClient(settings_for(sim)).session() as session:
        listed, serial = await session.read_attributes([OBJECT_LIST, SERIAL])
    assert listed.error is not None
    assert listed.error.result is DataAccessResult.OTHER_REASON
    assert serial.value == SERIAL_NUMBER


async def test_unanswered_disc_first_does_not_spoil_a_good_session(
    simulator: SimulatorFactory,
) -> None:
    """Item 10: after an unclean end the next session opens with DISC; when that DISC gets no
    answer the session still opens and, being in step, ends with RLRQ and DISC as normal."""
    sim = await start(simulator, IgnoreDisc(count=2))
    client = MeterClient(settings_for(sim))
    async with client.session() as session:
        await session.get(SERIAL)  # its DISC goes unanswered: an unclean end
    async with client.session() as session:
        assert await session.get(SERIAL) == SERIAL_NUMBER
    # A meter silent to DISC is no longer waited for (issue 24): the last DISC is sent as the
    # connection closes; let the meter read it.
    await closed(sim)
    assert sim.record.heard()[-9:] == [
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
