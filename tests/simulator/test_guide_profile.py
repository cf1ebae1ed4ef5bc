"""The guide meter: every object of the vendor's table, with values that agree with each other."""

from datetime import UTC, datetime

from custom_components.microstar_dlms.dlms import ConnectionSettings, MeterClient, ServerAddress
from custom_components.microstar_dlms.dlms.axdr import CosemDateTime
from microstar_sim import GUIDE_PROFILE, FakeClock, SimulatorConfig, TimingConfig, profile_meter
from microstar_sim.guide import COVER_HISTORY_DEPTH, guide_codes, guide_rows
from microstar_sim.meter import SimulatedMeter
from microstar_sim.pytest_plugin import SimulatorFactory

START = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


async def _guide(simulator: SimulatorFactory, clock: FakeClock) -> SimulatedMeter:
    sim = await simulator(
        SimulatorConfig(
            meters=(profile_meter(GUIDE_PROFILE),), timing=TimingConfig(fast=True), clock=clock
        )
    )
    return sim.meter(0)


def _int(meter: SimulatedMeter, obis: str) -> int:
    value = meter.value(obis).value
    assert isinstance(value, int), obis
    return value


async def test_every_row_of_the_vendor_table_is_an_object(simulator: SimulatorFactory) -> None:
    """Each of the 447 rows answers with the class the guide gives (the history row 10 times)."""
    meter = await _guide(simulator, FakeClock(START))
    rows = guide_rows()
    assert len(rows) == 447
    held = {obj.obis: obj.class_id for obj in meter.objects}
    for row in rows:
        for obis in guide_codes(row):
            assert held.get(obis) == row.class_id, row.obis
    assert len(held) == 447 - 1 + COVER_HISTORY_DEPTH + 3  # + association, firmware, HDLC setup


async def test_counters_agree(simulator: SimulatorFactory) -> None:
    """Tariffs sum to totals, channels 2 + 3 make channel 1, energy grows with power."""
    clock = FakeClock(START.replace(hour=19))  # the evening peak: importing
    meter = await _guide(simulator, clock)
    for c in (1, 2, 3, 4, 9, 10):
        for b in (1, 2, 3):
            total = _int(meter, f"1-{b}:{c}.8.0")
            assert total == sum(_int(meter, f"1-{b}:{c}.8.{e}") for e in range(1, 5))
        assert _int(meter, f"1-1:{c}.8.0") == _int(meter, f"1-2:{c}.8.0") + _int(
            meter, f"1-3:{c}.8.0"
        )
        monthly = _int(meter, f"1-1:{c}.9.0")
        assert monthly == sum(_int(meter, f"1-1:{c}.9.{e}") for e in range(1, 5))
    before = _int(meter, "1-1:1.8.0")
    power = _int(meter, "1-1:1.7.0")
    clock.advance(3600)
    assert _int(meter, "1-1:1.8.0") > before
    assert power > 0
    assert _int(meter, "1-3:1.7.0") == 0  # the standby source carries nothing
    assert 1 <= _int(meter, "0-0:96.14.0") <= 4  # the active tariff


async def test_dates_are_in_the_past(simulator: SimulatorFactory) -> None:
    """Billing period end, configuration change, cover openings: date-times before now."""
    meter = await _guide(simulator, FakeClock(START))
    stamps = {}
    for obis in ("1-0:0.1.2", "0-0:96.2.1", "0-0:96.20.6", "0-0:96.51.4", "0.0.96.51.4.3"):
        raw = meter.value(obis).value
        assert isinstance(raw, bytes), obis
        stamp = CosemDateTime.decode(raw).to_datetime()
        assert stamp is not None
        stamps[obis] = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        assert stamps[obis] <= START, obis
    assert (stamps["1-0:0.1.2"].day, stamps["1-0:0.1.2"].hour) == (1, 0)  # month start
    assert stamps["0.0.96.51.4.3"] < stamps["0-0:96.51.4"]  # history goes back


async def test_guide_association_and_link(simulator: SimulatorFactory) -> None:
    """The AARE offers a 6400-byte PDU; the UA carries max info 128/128 in 2-byte form."""
    sim = await simulator(
        SimulatorConfig(meters=(profile_meter(GUIDE_PROFILE),), timing=TimingConfig(fast=True))
    )
    trace: list[object] = []
    client = MeterClient(
        ConnectionSettings(
            endpoint=sim.endpoint, client_sap=1, password="2222222222", server=ServerAddress(1)
        ),
        trace=trace.append,
    )
    async with client.session() as session:
        assert session.negotiated is not None
        assert session.negotiated.server_max_pdu == 6400
        assert session.negotiated.max_info_rx == 128
    ua = next(r for r in trace if "UA" in getattr(r, "summary", ""))
    assert "05 02 00 80 06 02 00 80" in ua.hex  # type: ignore[attr-defined]
