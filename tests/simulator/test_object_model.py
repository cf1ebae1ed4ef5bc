"""The Microstar object model: OBIS set, scaler_unit, plausible evolving values, load profile."""

from datetime import UTC, datetime, timedelta

from custom_components.microstar_dlms.dlms.apdu import AccessSelection
from custom_components.microstar_dlms.dlms.axdr import CosemDateTime, Data, DataType
from custom_components.microstar_dlms.dlms.errors import DataAccessResult
from custom_components.microstar_dlms.dlms.obis import Obis, ScalerUnit, Unit
from microstar_sim import FAST, FakeClock, MeterConfig, SimulatorConfig
from microstar_sim.pytest_plugin import SimulatorFactory

from .wire_client import WireClient

THREE_PHASE_REGISTERS = {
    "1-1:1.8.0": Unit.WATT_HOUR,
    "1-1:2.8.0": Unit.WATT_HOUR,
    "1-1:3.8.0": Unit.VAR_HOUR,
    "1-1:9.8.0": Unit.VOLT_AMPERE_HOUR,
    "1-1:1.7.0": Unit.WATT,
    "1-1:14.7.0": Unit.HERTZ,
    "1-1:32.7.0": Unit.VOLT,
    "1-1:52.7.0": Unit.VOLT,
    "1-1:72.7.0": Unit.VOLT,
    "1-1:31.7.0": Unit.AMPERE,
    "1-1:51.7.0": Unit.AMPERE,
    "1-1:71.7.0": Unit.AMPERE,
    "1-1:13.7.0": Unit.COUNT,
}


async def _read_register(client: WireClient, obis: str) -> tuple[float, Unit]:
    raw = await client.get_data(3, obis, 2)
    scaler_unit = ScalerUnit.from_value((await client.get_data(3, obis, 3)).to_python())
    assert isinstance(raw.value, int)
    return float(scaler_unit.apply(raw.value)), scaler_unit.unit


async def test_three_phase_registers_have_plausible_values(simulator: SimulatorFactory) -> None:
    """Voltages near 230 V (scaler -2, unit V as in the field), currents, frequency near 50 Hz."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        readings = {obis: await _read_register(client, obis) for obis in THREE_PHASE_REGISTERS}
        voltage = await client.get_data(3, "1-1:32.7.0", 3)
        current = await client.get_data(3, "1-1:31.7.0", 3)
        await client.close_session()
    assert voltage.to_python() == [-2, 35]
    assert current.to_python() == [-3, 33]
    for obis, unit in THREE_PHASE_REGISTERS.items():
        assert readings[obis][1] == unit, obis
    for phase in ("32", "52", "72"):
        assert 215 < readings[f"1-1:{phase}.7.0"][0] < 245
    assert 49.8 < readings["1-1:14.7.0"][0] < 50.2
    assert 0 < readings["1-1:13.7.0"][0] <= 1
    assert readings["1-1:1.8.0"][0] > 12_000_000


async def test_single_phase_meter_answers_phase_b_and_c_with_object_undefined(
    simulator: SimulatorFactory,
) -> None:
    """microstar-1p: L1 is there, L2/L3 are data-access errors (object undefined)."""
    meter = MeterConfig(profile="microstar-1p")
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        assert isinstance(await client.get(3, "1-1:32.7.0", 2), Data)
        for obis in ("1-1:52.7.0", "1-1:72.7.0", "1-1:51.7.0", "1-1:71.7.0", "1-1:41.7.0"):
            assert await client.get(3, obis, 2) == DataAccessResult.OBJECT_UNDEFINED, obis


async def test_wrong_class_and_unknown_attribute(simulator: SimulatorFactory) -> None:
    """Class mismatch and a missing attribute give data-access results, the session goes on."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        assert await client.get(1, "1-1:32.7.0", 2) == DataAccessResult.OBJECT_CLASS_INCONSISTENT
        assert await client.get(3, "1-1:32.7.0", 9) == DataAccessResult.OBJECT_UNDEFINED
        assert isinstance(await client.get(3, "1-1:32.7.0", 2), Data)


async def test_energy_integrates_power_and_only_grows(simulator: SimulatorFactory) -> None:
    """Over a simulated day the import register grows by about the integrated power."""
    clock = FakeClock()
    sim = await simulator(SimulatorConfig(timing=FAST, clock=clock))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        previous = (await client.get_data(3, "1-1:1.8.0", 2)).value
        assert isinstance(previous, int)
        start = previous
        for _ in range(48):
            clock.advance(1800)
            await client.snrm()  # the link timed out; a poller would reconnect
            await client.associate()
            value = (await client.get_data(3, "1-1:1.8.0", 2)).value
            assert isinstance(value, int)
            assert value >= previous
            previous = value
    assert 3_000 < previous - start < 40_000  # a household's day, in Wh


async def test_clock_reads_meter_time(simulator: SimulatorFactory) -> None:
    """The clock attribute is a 12-byte date-time octet-string of the simulator's time."""
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    sim = await simulator(SimulatorConfig(timing=FAST, clock=FakeClock(start)))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        raw = (await client.get_data(8, "0-0:1.0.0", 2)).value
    assert isinstance(raw, bytes)
    assert CosemDateTime.decode(raw).to_datetime() == start


async def test_object_list_describes_what_the_meter_has(simulator: SimulatorFactory) -> None:
    """Association object list (block transfer): serial, clock, registers, profile; no phase B
    on the single-phase meter."""
    meter = MeterConfig(profile="microstar-1p")
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        entries = (await client.get_data(15, "0-0:40.0.0", 2)).to_python()
    assert isinstance(entries, list)
    listed = {}
    for entry in entries:
        assert isinstance(entry, list)
        class_id, _version, ln, _rights = entry
        assert isinstance(ln, bytes)
        listed[str(Obis.from_bytes(ln))] = class_id
    assert listed["1-0:0.0.0"] == 1
    assert listed["0-0:1.0.0"] == 8
    assert listed["0-0:40.0.0"] == 15
    assert listed["1-1:32.7.0"] == 3
    assert listed["1-1:1.6.0"] == 4
    assert listed["1-1:1.4.0"] == 5
    assert listed["1-1:99.1.0"] == 7
    assert "1-1:52.7.0" not in listed
    blocks = [f for f in sim.record.frames_from_meter() if f.data.find(b"\xc4\x02") > 0]
    assert len(blocks) >= 2


async def test_load_profile_buffer_grows_with_time(simulator: SimulatorFactory) -> None:
    """Two days of history at start; one more row each 15 minutes; energies non-decreasing."""
    clock = FakeClock(datetime(2025, 1, 15, 10, 7, tzinfo=UTC))
    sim = await simulator(SimulatorConfig(timing=FAST, clock=clock))
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        columns = (await client.get_data(7, "1-1:99.1.0", 3)).to_python()
        before = (await client.get_data(7, "1-1:99.1.0", 7)).value
        rows = (await client.get_data(7, "1-1:99.1.0", 2)).to_python()
        clock.advance(3600)
        await client.snrm()
        await client.associate()
        after = (await client.get_data(7, "1-1:99.1.0", 7)).value
    assert isinstance(columns, list)
    assert [c[0] for c in columns if isinstance(c, list)] == [8, 3, 3, 5]
    assert before == 192
    assert after == 196
    assert isinstance(rows, list)
    assert len(rows) == 192
    imports = [row[1] for row in rows if isinstance(row, list) and isinstance(row[1], int)]
    assert len(imports) == 192
    assert imports == sorted(imports)
    first = rows[0]
    assert isinstance(first, list)
    assert isinstance(first[0], bytes)
    stamp = CosemDateTime.decode(first[0]).to_datetime()
    assert stamp == datetime(2025, 1, 13, 10, 15, tzinfo=UTC)


async def test_load_profile_selective_access(simulator: SimulatorFactory) -> None:
    """By entry (selector 2) and by time range (selector 1) the meter returns just those rows."""
    clock = FakeClock(datetime(2025, 1, 15, 10, 0, tzinfo=UTC))
    sim = await simulator(SimulatorConfig(timing=FAST, clock=clock))
    u32 = DataType.DOUBLE_LONG_UNSIGNED
    by_entry = AccessSelection(
        2,
        Data.structure(Data(u32, 1), Data(u32, 3), Data(DataType.LONG_UNSIGNED, 1),
                       Data(DataType.LONG_UNSIGNED, 2)),
    )  # fmt: skip
    since = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)
    clock_column = Data.structure(
        Data(DataType.LONG_UNSIGNED, 8),
        Data.octet_string(bytes([0, 0, 1, 0, 0, 255])),
        Data(DataType.INTEGER, 2),
        Data(DataType.LONG_UNSIGNED, 0),
    )
    by_range = AccessSelection(
        1,
        Data.structure(
            clock_column,
            Data.octet_string(CosemDateTime.from_datetime(since).encode()),
            Data.octet_string(CosemDateTime.from_datetime(since + timedelta(hours=1)).encode()),
            Data.array(),
        ),
    )
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        entries = (await client.get_data(7, "1-1:99.1.0", 2, by_entry)).to_python()
        ranged = (await client.get_data(7, "1-1:99.1.0", 2, by_range)).to_python()
    assert isinstance(entries, list)
    assert len(entries) == 3
    assert all(isinstance(row, list) and len(row) == 2 for row in entries)
    assert isinstance(ranged, list)
    assert len(ranged) == 5  # 08:00, 08:15, 08:30, 08:45, 09:00 inclusive
    assert all(isinstance(row, list) and len(row) == 4 for row in ranged)


async def test_demand_registers(simulator: SimulatorFactory) -> None:
    """Class 5 demand register and class 4 max demand with its capture time."""
    sim = await simulator()
    async with await WireClient.connect(sim.port) as client:
        await client.open()
        last_average = (await client.get_data(5, "1-1:1.4.0", 3)).value
        period = (await client.get_data(5, "1-1:1.4.0", 8)).value
        maximum = (await client.get_data(4, "1-1:1.6.0", 2)).value
        captured = (await client.get_data(4, "1-1:1.6.0", 5)).value
    assert isinstance(last_average, int)
    assert isinstance(maximum, int)
    assert 0 <= last_average <= maximum
    assert period == 900
    assert isinstance(captured, bytes)
    assert CosemDateTime.decode(captured).to_datetime() is not None
