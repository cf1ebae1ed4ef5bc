"""The core client against meters that refuse, shift and stall in the field's ways (issue 24):
the simulator's fault modes, read through MeterClient as the integration reads."""

import asyncio
from itertools import pairwise

import pytest

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    Obis,
    RequestRefusedError,
    ServerAddress,
    client as client_module,
)
from custom_components.microstar_dlms.dlms.client import (
    ConnectionSettings,
    MeterClient,
    meter_memory,
)
from custom_components.microstar_dlms.dlms.hdlc import FrameKind, HdlcParameters, decode_frame
from custom_components.microstar_dlms.dlms.transport import MeterStream, open_stream
from microstar_sim import (
    FAST,
    AnswerFromAddressSize,
    DelayResponse,
    IgnoreDisc,
    IgnoreRelease,
    MeterConfig,
    ReceiveNotReady,
    RefuseWithException,
    ResponseKind,
    ResponseLlc,
    Simulator,
    SimulatorConfig,
    TimingConfig,
)
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import Direction

PASSWORD = "2222222222"
SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
OBJECT_LIST = AttributeRef(15, Obis.parse("0-0:40.0.0"), 2)
VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
VOLTAGE_SCALER = AttributeRef(3, Obis.parse("1-1:32.7.0"), 3)


def _settings(sim: Simulator, **changes: object) -> ConnectionSettings:
    base: dict[str, object] = {
        "endpoint": sim.endpoint,
        "client_sap": 1,
        "password": PASSWORD,
        "response_timeout": 0.3,
        "connect_timeout": 2.0,
        "lock_timeout": 2.0,
    }
    base.update(changes)
    return ConnectionSettings(**base)  # type: ignore[arg-type]  # test shorthand


@pytest.mark.parametrize("header", [b"\xe6\xe6\x00", b""], ids=["E6 E6 00", "no LLC"])
async def test_answers_with_another_llc_header_are_read(
    simulator: SimulatorFactory, header: bytes
) -> None:
    """A meter answering with the request's LLC header, or with none, is read like any other
    (Gurux accepts both)."""
    sim = await simulator()
    sim.set_fault(ResponseLlc(header))
    async with MeterClient(_settings(sim)).session() as session:
        results = await session.read_attributes([SERIAL, VOLTAGE, VOLTAGE_SCALER])
    assert [r.ok for r in results] == [True, True, True]
    assert results[0].value == b"21061234"
    assert results[2].value == [-2, 35]
    await sim.settle()
    assert sim.record.open_sessions == []


async def test_a_meter_answering_from_the_four_byte_form_is_read(
    simulator: SimulatorFactory,
) -> None:
    """A meter hand-set to logical 1, physical 17, asked in the 2-byte form, answers from the
    4-byte form: the session opens and reads at the first SNRM, not after three silent ones."""
    meter = MeterConfig(physical=17, address_size=2)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    sim.set_fault(AnswerFromAddressSize(4))
    settings = _settings(sim, server=ServerAddress(1, 17, 2))
    async with MeterClient(settings).session() as session:
        (serial,) = await session.read_attributes([SERIAL])
    assert serial.value == b"21061234"
    await sim.settle()
    assert [f.summary.split()[0] for f in sim.record.frames[:2]] == ["SNRM", "UA"]
    assert sim.record.open_sessions == []


@pytest.mark.parametrize("answer", ["exception", "service-error"])
@pytest.mark.parametrize("lists", [False, True], ids=["one GET each", "GET-with-list"])
async def test_a_refused_object_fails_only_its_item(
    simulator: SimulatorFactory, answer: str, lists: bool
) -> None:
    """The voltage's GET is refused with ExceptionResponse D8 01 02 or ConfirmedServiceError:
    that item fails, the others are read, the session ends with RLRQ and DISC. A meter that
    grants lists refuses the whole list: the read goes on one GET per attribute."""
    meter = MeterConfig(grant_multiple_references=lists)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    sim.set_fault(RefuseWithException("1-1:32.7.0", attribute=2, answer=answer))
    async with MeterClient(_settings(sim)).session() as session:
        serial, voltage, scaler = await session.read_attributes([SERIAL, VOLTAGE, VOLTAGE_SCALER])
        (again,) = await session.read_attributes([VOLTAGE])
    assert serial.value == b"21061234"
    assert scaler.value == [-2, 35]
    assert isinstance(voltage.error, RequestRefusedError)
    assert isinstance(again.error, RequestRefusedError)
    await sim.settle()
    record = sim.record
    assert record.rlrq_received == 1
    assert record.disc_received == 1
    assert record.open_sessions == []


async def _closed(sim: Simulator) -> None:
    """Wait until the gateway saw the client go and the line handled all it was sent."""
    for _ in range(200):
        await sim.settle()
        if not sim.record.open_connections:
            break
        await asyncio.sleep(0.01)
    await sim.settle()


def _to_meter(sim: Simulator) -> list[str]:
    """The kinds of the frames the meter received, in order (SNRM, I, RR, DISC...)."""
    return [f.summary.split()[0] for f in sim.record.frames if f.direction is Direction.TO_METER]


async def test_a_busy_meter_is_polled_not_sent_the_request_again(
    simulator: SimulatorFactory,
) -> None:
    """The meter acknowledges the GET with RNR and drops repeats: the client polls with RR when
    its wait runs out and reads the answer; the GET went out once (issue 24, item 3)."""
    sim = await simulator()
    sim.set_fault(ReceiveNotReady())
    async with MeterClient(_settings(sim)).session() as session:
        (serial,) = await session.read_attributes([SERIAL])
    assert serial.value == b"21061234"
    await sim.settle()
    assert _to_meter(sim) == ["SNRM", "I", "I", "RR", "I", "DISC"]


async def test_a_meter_sending_windows_of_three_is_polled_after_each_window(
    simulator: SimulatorFactory,
) -> None:
    """A client proposing a receive window of 3 to a meter that takes it: the meter sends three
    segments before each RR, and the client answers only the last of each (P/F=1), never in
    the middle of a window (issue 24, item 4). The object list arrives whole."""
    meter = MeterConfig(hdlc_window=3, max_pdu_size=6400)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    settings = _settings(sim, hdlc_parameters=HdlcParameters(window_rx=3))
    async with MeterClient(settings).session() as session:
        assert session.negotiated is not None
        assert session.negotiated.window_rx == 3
        (objects,) = await session.read_attributes([OBJECT_LIST])
    assert isinstance(objects.value, list)
    assert len(objects.value) > 40
    await sim.settle()
    heard = [decode_frame(f.data) for f in sim.record.frames if f.summary.startswith(("I ", "RR"))]
    answer = [f for f in heard if f.kind is FrameKind.I and f.segmented]
    assert len(answer) > 6
    for before, after in pairwise(heard):
        if after.kind is FrameKind.RR and after.destination == meter.address:
            assert before.kind is FrameKind.I
            assert before.poll_final, "an RR in the middle of the meter's window"
    polls = sum(1 for f in heard if f.kind is FrameKind.RR)
    assert polls == (len(answer) + 1 + 2) // 3 - 1


async def test_a_late_dm_to_the_disc_first_does_not_end_the_poll(
    simulator: SimulatorFactory,
) -> None:
    """The last session ended uncleanly, so this one says DISC first; the meter's DM comes after
    the wait ran out, once the SNRM is on its way. It answers the DISC: the SNRM's UA follows
    and the poll reads (issue 24, item 9)."""
    sim = await simulator()
    settings = _settings(sim)
    meter_memory(settings).unclean = True
    sim.set_fault(DelayResponse(seconds=0.5, on=ResponseKind.DM))
    async with MeterClient(settings).session() as session:
        (serial,) = await session.read_attributes([SERIAL])
    assert serial.value == b"21061234"
    await sim.settle()
    assert _to_meter(sim)[:3] == ["DISC", "SNRM", "I"]
    assert not meter_memory(settings).disc_unanswered  # it did answer, late


async def test_a_meter_that_never_answers_rlrq_or_disc_costs_one_poll_only(
    simulator: SimulatorFactory,
) -> None:
    """Through MeterClient: the first session learns that the meter answers neither RLRQ nor
    DISC (the close budget leaves the DISC its whole wait after the unanswered RLRQ); the
    second sends no RLRQ and does not wait for its DISCs (first and last); the third opens with
    SNRM. Every session reads (issue 24, item 6)."""
    sim = await simulator()
    sim.set_fault(IgnoreRelease())
    sim.set_fault(IgnoreDisc())
    settings = _settings(sim)
    client = MeterClient(settings)
    memory = meter_memory(settings)
    kinds: list[list[str]] = []
    for _ in range(3):
        async with client.session() as session:
            (serial,) = await session.read_attributes([SERIAL])
        assert serial.value == b"21061234"
        assert memory.rlrq_unanswered
        assert memory.disc_unanswered
        await _closed(sim)
        kinds.append(_to_meter(sim))
        sim.record.frames.clear()
    assert kinds[0] == ["SNRM", "I", "I", "I", "DISC"]  # AARQ, GET, RLRQ
    assert kinds[1] == ["DISC", "SNRM", "I", "I", "DISC"]  # AARQ, GET
    assert kinds[2] == ["SNRM", "I", "I", "DISC"]
    assert sim.record.rlrq_received == 0  # the meter never took it as one


async def test_a_meter_that_answers_disc_after_all_is_waited_for_again(
    simulator: SimulatorFactory,
) -> None:
    """One DISC went unanswered and the meter was taken for one that never answers. Its DM to
    the next DISC-first, arriving while the SNRM waits, shows it does answer: its DISCs are
    waited for again."""
    sim = await simulator()
    sim.set_fault(IgnoreDisc(count=1))
    settings = _settings(sim)
    memory = meter_memory(settings)
    client = MeterClient(settings)
    async with client.session() as session:
        await session.read_attributes([SERIAL])
    assert memory.disc_unanswered
    async with client.session() as session:
        await session.read_attributes([SERIAL])
    assert not memory.disc_unanswered


async def test_an_answer_left_at_the_gateway_shows_the_meter_answers_disc(
    simulator: SimulatorFactory,
) -> None:
    """A meter taken for one that never answers DISC gets its last DISC as the connection
    closes; its UA waits at the gateway, and the next session's drain finds it: that meter's
    DISCs are waited for again."""
    timing = TimingConfig(baudrate=115200, turnaround_min=0.05, turnaround_max=0.05)
    sim = await simulator(SimulatorConfig(timing=timing))
    settings = _settings(sim)
    memory = meter_memory(settings)
    memory.disc_unanswered = True
    client = MeterClient(settings)
    async with client.session() as session:
        await session.read_attributes([SERIAL])
    await _closed(sim)
    assert memory.disc_unanswered
    async with client.session() as session:
        assert not memory.disc_unanswered
        await session.read_attributes([SERIAL])


class DrainSpy:
    """Wraps ``open_stream``: the read timeouts of each stream before its first write (the
    drain before SNRM); the stream itself is the real one."""

    def __init__(self) -> None:
        """Nothing read yet."""
        self.reads: list[float] = []

    async def open_stream(self, endpoint: str, baudrate: int, within: float) -> MeterStream:
        """The real stream, its reads noted until it first writes."""
        stream = await open_stream(endpoint, baudrate, within)
        read, write = stream.read, stream.write
        draining = [True]

        async def noted_read(within: float) -> bytes:
            if draining[0]:
                self.reads.append(within)
            return await read(within)

        async def first_write(data: bytes, within: float) -> None:
            draining[0] = False
            await write(data, within)

        stream.read = noted_read  # type: ignore[method-assign]  # a spy around the real one
        stream.write = first_write  # type: ignore[method-assign]
        return stream


async def test_after_another_meters_unclean_end_the_line_is_drained_in_full(
    simulator: SimulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two meters on one line. Meter B's last session ended cleanly, then meter A's did not
    (its DISC went unanswered): whatever A still sends is the line's, so B's next session waits
    for the full quiet window (50 ms) before its SNRM, not the 10 ms of a line known quiet."""
    meters = (
        MeterConfig(serial_number="21061234", address_size=4),
        MeterConfig(serial_number="21065678", address_size=4),
    )
    sim = await simulator(SimulatorConfig(meters=meters, timing=FAST))
    meter_a, meter_b = (_settings(sim, server=m.address) for m in meters)
    spy = DrainSpy()
    monkeypatch.setattr(client_module, "open_stream", spy.open_stream)
    async with MeterClient(meter_b).session() as session:
        await session.read_attributes([SERIAL])
    sim.set_fault(IgnoreDisc(count=1), meter=0)
    async with MeterClient(meter_a).session() as session:
        await session.read_attributes([SERIAL])
    spy.reads.clear()
    async with MeterClient(meter_b).session() as session:
        (serial,) = await session.read_attributes([SERIAL])
    assert serial.value == b"21065678"
    assert spy.reads
    assert min(spy.reads) >= 0.05
