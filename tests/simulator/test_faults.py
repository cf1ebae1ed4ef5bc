"""Each fault really happens on the wire, and goes away the way the field says it does."""

import pytest

from custom_components.microstar_dlms.dlms.apdu import AcseDiagnostic
from custom_components.microstar_dlms.dlms.axdr import Data
from custom_components.microstar_dlms.dlms.errors import DataAccessResult, FrameError
from custom_components.microstar_dlms.dlms.hdlc import FrameKind, decode_frame
from microstar_sim import (
    FAST,
    Busy,
    CorruptFcs,
    DataAccessFailure,
    DelayResponse,
    DropMidResponse,
    EnergyGlitch,
    FakeClock,
    NoiseBytes,
    RejectAssociation,
    ResponseKind,
    Silent,
    SimulatorConfig,
    StuckAssociation,
    TruncateFrame,
    parse_fault,
)
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import CloseReason

from .wire_client import WireClient

VOLTAGE = (3, "1-1:32.7.0", 2)
FIELD_SNRM = bytes.fromhex("7EA007030393 8C117E".replace(" ", ""))
GET_VOLTAGE = bytes.fromhex("E6E600C001C100030101200700FF0200")


async def test_silent_meter_needs_a_power_cycle(simulator: SimulatorFactory) -> None:
    """Silent: TCP accepted, no answer to anything; clear_faults does not help; power cycle does."""
    sim = await simulator()
    sim.set_fault(Silent())
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        await client.expect_silence()
        sim.clear_faults()
        await client.send(FIELD_SNRM)
        await client.expect_silence()
        sim.power_cycle()
        assert (await client.snrm()).kind is FrameKind.UA


async def test_busy_gateway_refuses_every_client(simulator: SimulatorFactory) -> None:
    """Busy: another client holds the port; we get the ser2net text and a closed socket."""
    sim = await simulator()
    sim.set_fault(Busy())
    async with await WireClient.connect(sim.port) as client:
        assert await client.read_raw(1.0) == b"Port already in use\r\n"
    assert sim.record.busy_replies == 1
    sim.clear_faults()
    async with await WireClient.connect(sim.port) as client:
        assert (await client.snrm()).kind is FrameKind.UA


async def test_drop_mid_response_closes_tcp_after_some_bytes(simulator: SimulatorFactory) -> None:
    """The connection dies after 5 bytes of the GET answer; the meter keeps its session."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        sim.set_fault(DropMidResponse(after_bytes=5))
        await client.send(client.i_frame(GET_VOLTAGE))
        received = await client.read_raw(1.0)
    assert len(received) == 5
    assert received[:2] == b"\x7e\xa0"
    await sim.settle()
    connection = sim.record.connections[0]
    assert connection.closed_by is CloseReason.DROPPED
    assert len(sim.record.open_sessions) == 1


async def test_corrupt_fcs(simulator: SimulatorFactory) -> None:
    """The GET answer arrives complete but its FCS is wrong; the next one is fine."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        sim.set_fault(CorruptFcs())
        await client.send(client.i_frame(GET_VOLTAGE))
        damaged = await client.read_raw(0.5)
        with pytest.raises(FrameError, match="FCS"):
            decode_frame(damaged)
        client.recv_seq += 1
        assert isinstance(await client.get(*VOLTAGE), Data)


async def test_noise_before_an_answer(simulator: SimulatorFactory) -> None:
    """Noise bytes (with a false frame start) arrive before the UA; a deframer skips them."""
    sim = await simulator()
    sim.set_fault(NoiseBytes(noise=b"\x00\x7e\xa0\x55\xff", on=ResponseKind.UA))
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        raw = await client.read_raw(0.5)
    assert raw.startswith(b"\x00\x7e\xa0\x55\xff")
    ua = decode_frame(raw[5:])
    assert ua.kind is FrameKind.UA


async def test_truncated_frame(simulator: SimulatorFactory) -> None:
    """Only the first bytes of the answer arrive; then nothing."""
    sim = await simulator()
    sim.set_fault(TruncateFrame(keep=6, on=ResponseKind.UA))
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        raw = await client.read_raw(0.5)
        assert raw == bytes.fromhex("7EA01E030373")
        assert (await client.snrm()).kind is FrameKind.UA  # the fault fired once


async def test_delay_beyond_timeout(simulator: SimulatorFactory) -> None:
    """The answer comes, but only after the configured delay."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        sim.set_fault(DelayResponse(seconds=0.6))
        await client.send(client.i_frame(GET_VOLTAGE))
        assert await client.read_raw(0.4) == b""
        late = decode_frame(await client.read_raw(0.5))
    assert late.kind is FrameKind.I


async def test_reject_association(simulator: SimulatorFactory) -> None:
    """Even the right password gets AARE rejected with the chosen diagnostic."""
    sim = await simulator()
    sim.set_fault(RejectAssociation(diagnostic=1))
    async with await WireClient.connect(sim.port) as client:
        await client.snrm()
        aare = await client.associate()
    assert not aare.accepted
    assert aare.diagnostic == AcseDiagnostic.NO_REASON_GIVEN


async def test_stuck_association_until_disc(simulator: SimulatorFactory) -> None:
    """A vanished client holds the link: SNRM gets silence; DISC frees the meter."""
    sim = await simulator()
    sim.set_fault(StuckAssociation(client_sap=32))
    assert len(sim.record.open_associations) == 1
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        await client.expect_silence()
        assert (await client.disc()).kind is FrameKind.UA
        await client.open()
    assert sim.record.associations[0].closed_by is CloseReason.DISC


async def test_stuck_association_until_inactivity_timeout(simulator: SimulatorFactory) -> None:
    """Or wait out the 180 s inactivity timeout; ignored SNRMs do not extend it."""
    clock = FakeClock()
    sim = await simulator(SimulatorConfig(timing=FAST, clock=clock))
    sim.set_fault(StuckAssociation())
    async with await WireClient.connect(sim.port) as client:
        clock.advance(100)
        await client.send(FIELD_SNRM)
        await client.expect_silence(0.2)
        clock.advance(80)
        assert (await client.snrm()).kind is FrameKind.UA
    assert sim.record.sessions[0].closed_by is CloseReason.INACTIVITY


async def test_data_access_error_on_chosen_object(simulator: SimulatorFactory) -> None:
    """GET of the chosen object answers the chosen data-access result; others read normally."""
    sim = await simulator()
    sim.set_fault(
        DataAccessFailure("1-1:32.7.0", attribute=2, result=DataAccessResult.TEMPORARY_FAILURE)
    )
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        assert await client.get(*VOLTAGE) == DataAccessResult.TEMPORARY_FAILURE
        assert await client.get(*VOLTAGE) == DataAccessResult.TEMPORARY_FAILURE
        assert isinstance(await client.get(3, "1-1:32.7.0", 3), Data)
        assert isinstance(await client.get(3, "1-1:52.7.0", 2), Data)
        sim.clear_faults()
        assert isinstance(await client.get(*VOLTAGE), Data)


@pytest.mark.parametrize("mode", ["zero", "smaller"])
async def test_energy_glitch_once(simulator: SimulatorFactory, mode: str) -> None:
    """One read of the import register returns 0 or a smaller value; the next is right again."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        good = (await client.get_data(3, "1-1:1.8.0", 2)).value
        sim.set_fault(EnergyGlitch(mode=mode))
        glitched = (await client.get_data(3, "1-1:1.8.0", 2)).value
        again = (await client.get_data(3, "1-1:1.8.0", 2)).value
    assert isinstance(good, int)
    assert isinstance(glitched, int)
    assert isinstance(again, int)
    assert glitched == 0 if mode == "zero" else 0 < glitched < good
    assert again >= good


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("silent", Silent()),
        ("busy", Busy()),
        ("drop-mid-response:7", DropMidResponse(after_bytes=7)),
        ("corrupt-fcs:on=aare,count=2", CorruptFcs(on=ResponseKind.AARE, count=2)),
        ("noise:ff00", NoiseBytes(noise=b"\xff\x00")),
        ("truncate:keep=3,on=any", TruncateFrame(keep=3, on=ResponseKind.ANY)),
        ("delay:10", DelayResponse(seconds=10.0)),
        ("reject-association:13", RejectAssociation(diagnostic=13)),
        ("stuck-association:client=16", StuckAssociation(client_sap=16)),
        (
            "data-access-error:1-1:32.7.0,result=object-unavailable,count=always",
            DataAccessFailure("1-1:32.7.0", result=DataAccessResult.OBJECT_UNAVAILABLE),
        ),
        ("energy-glitch:1-1:2.8.0,mode=smaller", EnergyGlitch("1-1:2.8.0", mode="smaller")),
    ],
)
def test_fault_specs_parse(spec: str, expected: object) -> None:
    """The command-line / control-port syntax builds each fault."""
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["melt", "delay:soon", "truncate:cut=3", "data-access-error:1-1:foo", "energy-glitch:mode=big"],
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    """Typos give a clear error instead of a silently different fault."""
    with pytest.raises(ValueError, match=r"fault|OBIS|glitch"):
        parse_fault(spec)


async def test_faults_from_config_apply_at_start(simulator: SimulatorFactory) -> None:
    """SimulatorConfig(faults=...) is what --fault uses."""
    sim = await simulator(SimulatorConfig(timing=FAST, faults=(Busy("Port disabled\r\n"),)))
    async with await WireClient.connect(sim.port) as client:
        assert await client.read_raw(1.0) == b"Port disabled\r\n"
