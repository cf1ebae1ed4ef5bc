"""The project's own MeterClient against the simulator: readings, and each failure named right."""

import pytest

from custom_components.microstar_dlms.dlms import AttributeRef, Obis, ServerAddress
from custom_components.microstar_dlms.dlms.client import ConnectionSettings, MeterClient
from custom_components.microstar_dlms.dlms.errors import (
    AuthenticationFailed,
    DataAccessResult,
    GatewayBusy,
    NoAnswer,
)
from microstar_sim import (
    FAST,
    Busy,
    DataAccessFailure,
    MeterConfig,
    Silent,
    Simulator,
    SimulatorConfig,
    StuckAssociation,
    TimingConfig,
)
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_sim.record import CloseReason


def _settings(sim: Simulator, **changes: object) -> ConnectionSettings:
    base: dict[str, object] = {
        "endpoint": sim.endpoint,
        "client_sap": 1,
        "password": "2222222222",
        "response_timeout": 0.5,
        "connect_timeout": 2.0,
        "lock_timeout": 2.0,
        "retries": 1,
    }
    base.update(changes)
    return ConnectionSettings(**base)  # type: ignore[arg-type]


def _ref(class_id: int, obis: str, attribute: int) -> AttributeRef:
    return AttributeRef(class_id, Obis.parse(obis), attribute)


async def test_core_client_reads_and_closes_cleanly(simulator: SimulatorFactory) -> None:
    """A session reads values, scalers, the object list; RLRQ and DISC leave nothing open."""
    sim = await simulator()
    async with MeterClient(_settings(sim)).session() as session:
        results = await session.read_attributes(
            [_ref(3, "1-1:32.7.0", 2), _ref(3, "1-1:32.7.0", 3), _ref(1, "1-0:0.0.0", 2)]
        )
        objects = await session.get(_ref(15, "0-0:40.0.0", 2))
    assert [r.ok for r in results] == [True, True, True]
    assert results[1].value == [-2, 35]
    assert results[2].value == b"21061234"
    assert isinstance(objects, list)
    assert len(objects) > 40
    await sim.settle()
    record = sim.record
    assert record.open_sessions == []
    assert record.open_associations == []
    assert record.disc_received == 1
    assert record.max_concurrent_connections == 1


async def test_core_client_at_field_timing(simulator: SimulatorFactory) -> None:
    """At 9600 baud with field turnaround a small poll still completes within its timeouts."""
    sim = await simulator(SimulatorConfig(timing=TimingConfig()))
    async with MeterClient(_settings(sim, response_timeout=3.0)).session() as session:
        results = await session.read_attributes([_ref(3, "1-1:31.7.0", 2)])
    assert results[0].ok


async def test_core_client_names_each_failure(simulator: SimulatorFactory) -> None:
    """Busy gateway, silent meter, wrong password and a data-access error are told apart."""
    sim = await simulator()
    sim.set_fault(Busy())
    with pytest.raises(GatewayBusy):
        async with MeterClient(_settings(sim)).session():
            pass
    sim.clear_faults()
    with pytest.raises(AuthenticationFailed):
        async with MeterClient(_settings(sim, password="0123456789")).session():
            pass
    sim.set_fault(DataAccessFailure("1-1:32.7.0", result=DataAccessResult.HARDWARE_FAULT))
    async with MeterClient(_settings(sim)).session() as session:
        (result,) = await session.read_attributes([_ref(3, "1-1:32.7.0", 2)])
    assert result.error is not None
    assert result.error.result is DataAccessResult.HARDWARE_FAULT
    sim.set_fault(Silent())
    with pytest.raises(NoAnswer):
        async with MeterClient(_settings(sim)).session():
            pass
    sim.power_cycle()
    async with MeterClient(_settings(sim)).session() as session:
        assert session.negotiated is not None
        assert session.negotiated.max_info_tx == 128


async def test_core_client_recovers_from_stuck_association(simulator: SimulatorFactory) -> None:
    """A vanished client's association makes the meter ignore SNRM; the client's DISC ends it
    (field notes §6), so at the latest the second attempt gets through."""
    sim = await simulator()
    sim.set_fault(StuckAssociation(client_sap=32))
    attempts = 0
    for attempts in (1, 2):  # noqa: B007 - the count is the result
        try:
            async with MeterClient(_settings(sim)).session() as session:
                assert await session.get(_ref(1, "1-0:0.0.0", 2)) == b"21061234"
            break
        except NoAnswer:
            continue
    else:
        pytest.fail("still no answer after the client's DISC")
    await sim.settle()
    stuck = sim.record.associations[0]
    assert stuck.client_sap == 32
    assert stuck.closed_by is CloseReason.DISC
    assert attempts <= 2


async def test_core_client_four_byte_address(simulator: SimulatorFactory) -> None:
    """The serial-derived physical address in the 4-byte form."""
    meter = MeterConfig(serial_number="21061234", address_size=4)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    settings = _settings(sim, server=ServerAddress(1, 1234, 4))
    async with MeterClient(settings).session() as session:
        assert await session.get(_ref(1, "1-0:0.0.0", 2)) == b"21061234"
