"""Associations per client SAP: LLS passwords, public client, conformance like the field."""

from custom_components.microstar_dlms.dlms.apdu import (
    Aare,
    AcseDiagnostic,
    Conformance,
    ExceptionResponse,
    Mechanism,
    decode_apdu,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data
from custom_components.microstar_dlms.dlms.hdlc import FrameKind
from microstar_sim import FAST, ClientAccess, MeterConfig, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory

from .wire_client import WireClient

# Field AARQ: client 1, LLS, password 0123456789, conformance 00 30 1D, max PDU FFFF.
FIELD_AARQ = bytes.fromhex(
    "7EA0460303 1013AD E6E600 6038A109060760857405080101 8A020780 8B0760857405080201"
    " AC0C800A30313233343536373839 BE10040E01000000065F1F040000301DFFFF DADF7E".replace(" ", "")
)


async def test_field_aarq_with_its_password_is_accepted(simulator: SimulatorFactory) -> None:
    """The field's AARQ bytes open an association when the meter has that password."""
    meter = MeterConfig(clients=(ClientAccess(1, "0123456789"),))
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    async with await WireClient.connect(sim.port) as client:
        assert (await client.snrm()).kind is FrameKind.UA
        await client.send(FIELD_AARQ)
        client.send_seq = 1
        answer = await client.read_frame()
    aare = _decode_aare(answer.information)
    assert aare.accepted
    assert aare.mechanism is Mechanism.LOW
    assert aare.initiate is not None
    assert aare.initiate.conformance == Conformance.from_bytes3(bytes.fromhex("00301D"))
    assert aare.initiate.max_pdu_size == 512


def _decode_aare(information: bytes) -> Aare:
    aare = decode_apdu(strip_llc(information, response=True))
    assert isinstance(aare, Aare)
    return aare


async def test_wrong_password_is_rejected_with_authentication_failure(
    simulator: SimulatorFactory,
) -> None:
    """Field default client 1 expects 2222222222; anything else: AARE rejected, diagnostic 13."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.snrm()
        aare = await client.associate("0123456789")
        assert not aare.accepted
        assert aare.diagnostic == AcseDiagnostic.AUTHENTICATION_FAILURE
        assert aare.authentication_failed
        # Without an association nothing can be read.
        refusal = await client.exchange(bytes.fromhex("C001C100030101200700FF0200"))
        assert refusal[:1] == b"\xd8"
    assert sim.record.associations[0].accepted is False
    assert sim.record.open_associations == []


async def test_lls_client_without_password_is_rejected(simulator: SimulatorFactory) -> None:
    """Client 1 needs LLS: an AARQ without mechanism is refused (mechanism name required)."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.snrm()
        aare = await client.associate(None)
    assert not aare.accepted
    assert aare.diagnostic == AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED


async def test_public_client_reads_without_password(simulator: SimulatorFactory) -> None:
    """Client 16 associates without authentication and reads."""
    sim = await simulator()
    async with await WireClient.connect(sim.port, client_sap=16) as client:
        await client.open(password=None)
        serial = await client.get_data(1, "1-0:0.0.0", 2)
        await client.close_session()
    assert serial.value == b"21061234"
    assert sim.record.associations[0].client_sap == 16


async def test_client_32_uses_its_own_password(simulator: SimulatorFactory) -> None:
    """Client 32 has an 8-character LLS password by default."""
    sim = await simulator()
    async with await WireClient.connect(sim.port, client_sap=32) as client:
        await client.snrm()
        assert not (await client.associate("2222222222")).accepted
        assert (await client.associate("12345678")).accepted


async def test_password_can_change_while_running(simulator: SimulatorFactory) -> None:
    """A test can change the password (the user re-keyed the meter)."""
    sim = await simulator()
    sim.set_password(1, "87654321")
    async with await WireClient.connect(sim.port) as client:
        await client.snrm()
        assert not (await client.associate("2222222222")).accepted
        assert (await client.associate("87654321")).accepted


async def test_get_with_list_is_refused_like_the_field_meter(simulator: SimulatorFactory) -> None:
    """No multiple-references by default: GET-with-list gets an exception response."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        aare = await client.open()
        assert aare.initiate is not None
        assert not aare.initiate.conformance & Conformance.MULTIPLE_REFERENCES
        answer = await client.get_list([(3, "1-1:32.7.0", 2), (3, "1-1:32.7.0", 3)])
    assert isinstance(answer, ExceptionResponse)


async def test_multiple_references_switch_grants_get_with_list(
    simulator: SimulatorFactory,
) -> None:
    """With the switch on, GET-with-list answers every attribute in one response."""
    meter = MeterConfig(grant_multiple_references=True)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    async with await WireClient.connect(sim.port) as client:
        aare = await client.open()
        assert aare.initiate is not None
        assert aare.initiate.conformance & Conformance.MULTIPLE_REFERENCES
        answer = await client.get_list(
            [(3, "1-1:32.7.0", 3), (1, "1-0:0.0.0", 2), (3, "1-1:99.99.0", 2)]
        )
    assert isinstance(answer, tuple)
    assert isinstance(answer[0], Data)
    assert answer[0].to_python() == [-2, 35]
    assert isinstance(answer[1], Data)
    assert answer[1].value == b"21061234"
    assert not isinstance(answer[2], Data)  # object undefined


async def test_release_closes_association_but_not_link(simulator: SimulatorFactory) -> None:
    """RLRQ ends the association; DISC then ends the link; the record shows both."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        await client.release()
        assert sim.record.open_associations == []
        assert len(sim.record.open_sessions) == 1
        assert (await client.disc()).kind is FrameKind.UA
    record = sim.record
    assert record.rlrq_received == 1
    assert record.disc_received == 1
    assert record.open_sessions == []
