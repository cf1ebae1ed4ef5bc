"""The meter's HDLC server behaves like the field meter: addressing, SNRM/UA, DISC, segmentation."""

from custom_components.microstar_dlms.dlms.hdlc import (
    FrameKind,
    HdlcParameters,
    ServerAddress,
    decode_frame,
    snrm_frame,
)
from microstar_sim import FAST, FakeClock, MeterConfig, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import CloseReason

from .wire_client import WireClient

FIELD_SNRM = bytes.fromhex("7EA00703039 38C117E".replace(" ", ""))
FIELD_DISC = bytes.fromhex("7EA0070303538 0D77E".replace(" ", ""))
SNRM_TWO_BYTE = bytes.fromhex("7EA0080203039 305777E".replace(" ", ""))
SNRM_PHYSICAL_1234 = bytes.fromhex("7EA00A000212A503937941 7E".replace(" ", ""))


async def test_field_snrm_gets_ua_with_default_parameters(simulator: SimulatorFactory) -> None:
    """The field's SNRM bytes get a UA offering 128/128 and window 1."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        ua = await client.read_frame()
        assert ua.kind is FrameKind.UA
        assert ua.destination == ServerAddress(1)
        assert ua.source == ServerAddress(1)
        assert HdlcParameters.decode(ua.information) == HdlcParameters(128, 128, 1, 1)
        await client.send(FIELD_DISC)
        assert (await client.read_frame()).kind is FrameKind.UA
    assert sim.record.sessions[0].closed_by is CloseReason.DISC


async def test_disc_when_not_connected_gets_dm(simulator: SimulatorFactory) -> None:
    """DISC without a link: DM (disconnected mode)."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        assert (await client.disc()).kind is FrameKind.DM
    assert sim.record.disc_received == 1


async def test_two_byte_address_is_ignored_by_one_byte_meter(simulator: SimulatorFactory) -> None:
    """The field team's 2-byte SNRM (valid frame, wrong address form) gets silence."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.send(SNRM_TWO_BYTE)
        await client.expect_silence()
        await client.send(FIELD_SNRM)
        assert (await client.read_frame()).kind is FrameKind.UA
    assert sim.record.sessions[0].client_sap == 1


async def test_four_byte_meter_answers_serial_derived_physical_address(
    simulator: SimulatorFactory,
) -> None:
    """A meter addressed with 4 bytes (physical = last 4 serial digits) answers the field SNRM."""
    meter = MeterConfig(serial_number="21061234", address_size=4)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        await client.expect_silence()
        await client.send(SNRM_PHYSICAL_1234)
        ua = await client.read_frame()
    assert ua.kind is FrameKind.UA
    assert ua.source == ServerAddress(1, 1234, 4)


async def test_unknown_client_sap_gets_silence(simulator: SimulatorFactory) -> None:
    """Client SAP 17 is not configured: the meter stays silent, as with a wrong address."""
    sim = await simulator()
    async with await WireClient.connect(sim.port, client_sap=17) as client:
        await client.send(snrm_frame(ServerAddress(1), 17))
        await client.expect_silence()
    assert sim.record.sessions == []


async def test_snrm_negotiates_smaller_sizes(simulator: SimulatorFactory) -> None:
    """A client asking for 64-byte frames gets 64 and the answer comes in 64-byte segments."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        ua = await client.snrm(HdlcParameters(64, 64, 1, 1))
        agreed = HdlcParameters.decode(ua.information)
        assert (agreed.max_info_tx, agreed.max_info_rx) == (64, 64)
        assert (await client.associate()).accepted
        value = await client.get_data(1, "1-0:0.0.0", 2)
        assert value.value == b"21061234"
    answers = [decode_frame(f.data) for f in sim.record.frames_from_meter()]
    assert all(len(a.information) <= 64 for a in answers)


async def test_long_answer_is_segmented_with_rr(simulator: SimulatorFactory) -> None:
    """The object list needs several frames; the client's RR fetches each next segment."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        objects = await client.get_data(15, "0-0:40.0.0", 2)
        await client.close_session()
    assert isinstance(objects.value, tuple)
    segmented = [f for f in sim.record.frames_from_meter() if "segmented" in f.summary]
    receive_ready = [f for f in sim.record.frames_to_meter() if f.summary.startswith("RR")]
    assert len(segmented) >= 3
    assert len(receive_ready) == len(segmented)


async def test_tcp_close_keeps_link_and_association(simulator: SimulatorFactory) -> None:
    """Closing TCP does not reset the meter: a new connection can go on with the old session."""
    sim = await simulator()
    first = await WireClient.connect(sim.port)
    await first.open()
    await first.close()
    await sim.settle()
    assert len(sim.record.open_sessions) == 1
    assert len(sim.record.open_associations) == 1
    second = await WireClient.connect(sim.port)
    second.send_seq, second.recv_seq = first.send_seq, first.recv_seq
    value = await second.get_data(3, "1-1:32.7.0", 3)
    assert value.to_python() == [-2, 35]
    await second.close_session()
    assert sim.record.open_sessions == []
    assert sim.record.open_associations == []


async def test_inactivity_timeout_drops_association_and_link(simulator: SimulatorFactory) -> None:
    """180 s without a valid frame: the link is gone, the next I-frame gets DM."""
    clock = FakeClock()
    sim = await simulator(SimulatorConfig(timing=FAST, clock=clock))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        clock.advance(179)
        assert (await client.get_data(3, "1-1:32.7.0", 3)).to_python() == [-2, 35]
        clock.advance(180)
        assert sim.record.sessions[0].closed_by is CloseReason.INACTIVITY
        assert sim.record.associations[0].closed_by is CloseReason.INACTIVITY
        await client.send(client.i_frame(b"\xe6\xe6\x00\x62\x00"))
        assert (await client.read_frame()).kind is FrameKind.DM


async def test_inactivity_timeout_is_settable(simulator: SimulatorFactory) -> None:
    """Tests can shorten the timeout."""
    clock = FakeClock()
    config = SimulatorConfig(meters=(MeterConfig(inactivity_timeout=5),), timing=FAST, clock=clock)
    sim = await simulator(config)
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        clock.advance(5)
    assert sim.record.open_sessions == []


async def test_snrm_on_open_link_starts_a_new_one(simulator: SimulatorFactory) -> None:
    """By default a new SNRM replaces the link (and drops its association)."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        assert (await client.snrm()).kind is FrameKind.UA
    assert sim.record.sessions[0].closed_by is CloseReason.SNRM
    assert sim.record.associations[0].closed_by is CloseReason.SNRM


async def test_snrm_on_open_link_can_be_ignored(simulator: SimulatorFactory) -> None:
    """With snrm_when_connected='ignore' a leftover link makes the meter silent until DISC."""
    meter = MeterConfig(snrm_when_connected="ignore")
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    first = await WireClient.connect(sim.port)
    await first.open()
    await first.close()  # vanished without DISC
    async with await WireClient.connect(sim.port) as client:
        await client.send(FIELD_SNRM)
        await client.expect_silence()
        assert (await client.disc()).kind is FrameKind.UA
        assert (await client.snrm()).kind is FrameKind.UA


async def test_lost_answer_is_sent_again_on_repeated_request(simulator: SimulatorFactory) -> None:
    """A client that repeats an I-frame (same N(S)) gets the same answer again."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        request = client.i_frame(bytes.fromhex("E6E600C001C100030101200700FF0300"))
        await client.send(request)
        first = await client.read_frame()
        await client.send(request)
        again = await client.read_frame()
    assert again == first
