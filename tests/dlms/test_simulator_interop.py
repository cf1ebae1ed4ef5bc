"""The client against the simulator (microstar_sim, written by others on the same codecs)."""

import asyncio
from decimal import Decimal

import pytest

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    AuthenticationFailed,
    ConnectionSettings,
    GatewayBusy,
    MeterClient,
    NoAnswer,
    Obis,
    ScalerUnit,
    ServerAddress,
    Unit,
)
from microstar_sim import FAST, MeterConfig, SimulatorConfig
from microstar_sim.faults import (
    Busy,
    CorruptFcs,
    DelayResponse,
    NoiseBytes,
    RejectAssociation,
    Silent,
    StuckAssociation,
    TruncateFrame,
)
from microstar_sim.pytest_plugin import SimulatorFactory

SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
VOLTAGE_SCALER = AttributeRef(3, Obis.parse("1-1:32.7.0"), 3)
OBJECT_LIST = AttributeRef(15, Obis.parse("0-0:40.0.0"), 2)


def field_settings(endpoint: str, **changes: object) -> ConnectionSettings:
    """Client 1 with the field's LLS password, 1-byte address, short timeouts."""
    values: dict[str, object] = {
        "endpoint": endpoint,
        "client_sap": 1,
        "password": "2222222222",
        "server": ServerAddress(1),
        "response_timeout": 0.4,
        "lock_timeout": 10.0,
    }
    values.update(changes)
    return ConnectionSettings(**values)  # type: ignore[arg-type]


async def test_field_poll_leaves_the_meter_free(simulator: SimulatorFactory) -> None:
    """Serial, a scaled voltage and the object list; afterwards nothing is left open."""
    sim = await simulator()
    async with MeterClient(field_settings(sim.endpoint)).session() as session:
        assert session.negotiated is not None
        assert not session.negotiated.multiple_references
        serial = await session.get(SERIAL)
        value, scaler = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER])
        objects = await session.get(OBJECT_LIST)
    await sim.settle()
    assert isinstance(serial, bytes)
    assert serial.decode() == "21061234"
    scaler_unit = ScalerUnit.from_value(scaler.value)
    assert scaler_unit.unit is Unit.VOLT
    assert isinstance(value.value, int)
    assert Decimal(150) < scaler_unit.apply(value.value) < Decimal(300)
    assert isinstance(objects, list)
    assert len(objects) > 20  # block transfer and segmentation through the gateway
    record = sim.record
    assert record.rlrq_received == 1
    assert record.disc_received == 1
    assert not record.open_sessions
    assert not record.open_associations


async def test_four_byte_address_of_the_serial_number(simulator: SimulatorFactory) -> None:
    """A meter configured for 4-byte addressing (physical 1234) answers that form only."""
    sim = await simulator(SimulatorConfig(meters=(MeterConfig(address_size=4),), timing=FAST))
    server = ServerAddress(1, 1234, 4)
    async with MeterClient(field_settings(sim.endpoint, server=server)).session() as session:
        assert await session.get(VOLTAGE_SCALER) is not None
    with pytest.raises(NoAnswer):
        async with MeterClient(field_settings(sim.endpoint)).session():
            pass


@pytest.mark.parametrize(
    "fault",
    [CorruptFcs(), NoiseBytes(), TruncateFrame(), DelayResponse(seconds=0.6)],
    ids=["corrupt-fcs", "noise", "truncated", "late"],
)
async def test_line_errors_are_recovered_by_retransmission(
    simulator: SimulatorFactory, fault: object
) -> None:
    """One damaged or late answer costs a retransmission, not the poll."""
    sim = await simulator()
    sim.set_fault(fault)  # type: ignore[arg-type]
    async with MeterClient(field_settings(sim.endpoint)).session() as session:
        assert isinstance(await session.get(VOLTAGE), int)
        assert await session.get(SERIAL) == b"21061234"
    await sim.settle()
    assert not sim.record.open_associations


async def test_busy_gateway(simulator: SimulatorFactory) -> None:
    """Another client holds the port: GatewayBusy with the gateway's words."""
    sim = await simulator()
    sim.set_fault(Busy())
    with pytest.raises(GatewayBusy, match="Port already in use"):
        async with MeterClient(field_settings(sim.endpoint)).session():
            pass


async def test_hung_meter_is_no_answer(simulator: SimulatorFactory) -> None:
    """TCP fine, meter silent: NoAnswer within the retries."""
    sim = await simulator()
    sim.set_fault(Silent())
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(NoAnswer):
        async with MeterClient(field_settings(sim.endpoint, retries=1)).session():
            pass
    assert loop.time() - started < 2 * 0.4 + 0.5


async def test_stuck_association_is_cleared_by_our_disc(simulator: SimulatorFactory) -> None:
    """A previous client left the link open: SNRM goes unanswered, our DISC frees the meter,
    so the next poll works (field notes §6: DISC first)."""
    sim = await simulator()
    sim.set_fault(StuckAssociation())
    settings = field_settings(sim.endpoint, retries=0)
    with pytest.raises(NoAnswer):
        async with MeterClient(settings).session():
            pass
    async with MeterClient(settings).session() as session:
        assert isinstance(await session.get(VOLTAGE), int)


async def test_wrong_password_and_rejection(simulator: SimulatorFactory) -> None:
    """Wrong password is AuthenticationFailed (diagnostic 13); the link is still closed."""
    sim = await simulator()
    with pytest.raises(AuthenticationFailed) as err:
        async with MeterClient(field_settings(sim.endpoint, password="wrong")).session():
            pass
    assert err.value.diagnostic == 13
    sim.set_fault(RejectAssociation(diagnostic=13))
    with pytest.raises(AuthenticationFailed):
        async with MeterClient(field_settings(sim.endpoint)).session():
            pass
    await sim.settle()
    assert not sim.record.open_sessions
    assert sim.record.disc_received == 2


async def test_two_meters_behind_one_gateway_are_polled_one_at_a_time(
    simulator: SimulatorFactory,
) -> None:
    """Two meters, two clients, one gateway: never two TCP connections."""
    meters = (
        MeterConfig(serial_number="21061234", address_size=4),
        MeterConfig(serial_number="21065678", address_size=4),
    )
    sim = await simulator(SimulatorConfig(meters=meters, timing=FAST))

    async def poll(physical: int) -> object:
        settings = field_settings(sim.endpoint, server=ServerAddress(1, physical, 4))
        async with MeterClient(settings).session() as session:
            return await session.get(SERIAL)

    serials = await asyncio.gather(poll(1234), poll(5678), poll(1234))
    assert serials == [b"21061234", b"21065678", b"21061234"]
    assert sim.record.max_concurrent_connections == 1


async def test_default_settings_use_get_with_list_where_the_meter_grants_it(
    simulator: SimulatorFactory,
) -> None:
    """The client proposes multiple-references, so a meter that grants it gets one request."""
    sim = await simulator(
        SimulatorConfig(timing=FAST, meters=(MeterConfig(grant_multiple_references=True),))
    )
    async with MeterClient(field_settings(sim.endpoint)).session() as session:
        assert session.negotiated is not None
        assert session.negotiated.multiple_references
        before = len(sim.record.frames)
        results = await session.read_attributes([SERIAL, VOLTAGE, VOLTAGE_SCALER])
        exchange = sim.record.frames[before:]
    assert all(result.ok for result in results)
    assert len([f for f in exchange if f.direction.name == "TO_METER"]) == 1
