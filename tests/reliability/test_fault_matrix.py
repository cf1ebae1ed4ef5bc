"""The fault matrix: the coordinator in the HA test harness against the simulator, one row per
way the field fails (issue 8).

For each row: the poll ends within its time bound; the simulator's record shows DISC or a
closed socket and no association left open (or the documented reason why not); entities are
unavailable, or show right values; the right repair issue (or none) exists; the next healthy
poll recovers without a reload.

Polls run on the real clock with a 0.25 s response timeout (the harness answers in
milliseconds); ``WallClock`` moves Home Assistant's clock where a repair needs minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
from decimal import Decimal
import socket
import time

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.const import ISSUE_GATEWAY_BUSY, ISSUE_METER_SILENT
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.dlms.transport import endpoint_lock
from microstar_sim import (
    FAST,
    Busy,
    CloseReason,
    CorruptFcs,
    DataAccessFailure,
    DelayResponse,
    DropMidResponse,
    EnergyGlitch,
    FakeClock,
    GatewayConfig,
    MeterConfig,
    NoiseBytes,
    RejectAssociation,
    ResponseKind,
    Silent,
    Simulator,
    SimulatorConfig,
    StuckAssociation,
    TruncateFrame,
)
from microstar_sim.pytest_plugin import SimulatorFactory

from .conftest import RESPONSE_TIMEOUT, SERIAL, config_entry
from .harness import (
    ENERGY,
    POWER,
    VOLTAGE,
    every_class_due,
    issues,
    meter_value,
    state,
    timed_refresh,
    track_energy,
    wall_clock,
)

pytestmark = pytest.mark.usefixtures("enable_custom_integrations")

# One poll, worst case in this harness: a silent meter costs 3 SNRM tries x 0.25 s plus the
# 0.3 s drain; a slow meter 3 GET tries plus the 2 x 0.25 s close budget. Anything near the
# coordinator's own 150 s bound would be a hang.
POLL_BOUND = 3.0
REPAIR_POLL_SPACING = 70.0  # seconds of HA wall clock between polls of a repair row


@pytest.fixture
def meter_clock() -> FakeClock:
    """The meters' clock: values only change when a test moves it (so values are exact)."""
    return FakeClock()


@pytest.fixture
async def sim(
    simulator: SimulatorFactory,
    meters: tuple[MeterConfig, ...],
    gateway: GatewayConfig,
    meter_clock: FakeClock,
) -> Simulator:
    """The simulated gateway and meter, on a clock the test moves."""
    return await simulator(
        SimulatorConfig(meters=meters, gateway=gateway, timing=FAST, clock=meter_clock)
    )


@pytest.fixture
async def loaded(
    hass: HomeAssistant, sim: Simulator
) -> tuple[MockConfigEntry, MicrostarCoordinator]:
    """The meter set up (first poll done); polls only when the test says so."""
    entry = config_entry(sim, polling=False)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    yield entry, entry.runtime_data.coordinator
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def assert_values_right(
    hass: HomeAssistant, sim: Simulator, coordinator: MicrostarCoordinator
) -> None:
    """Entities available and showing exactly what the meter holds (its clock stands still)."""
    values = coordinator.data.values
    assert values[ENERGY].value == Decimal(meter_value(sim, ENERGY))
    assert values[VOLTAGE].value is not None
    assert values[POWER].value is not None
    for key in (ENERGY, VOLTAGE, POWER):
        assert state(hass, SERIAL, key) != STATE_UNAVAILABLE, key
    # kWh on screen, Wh on the meter (scaler 0).
    assert abs(float(state(hass, SERIAL, ENERGY)) * 1000 - meter_value(sim, ENERGY)) < 1


def assert_all_unavailable(hass: HomeAssistant) -> None:
    """A failed poll: values disappear instead of going stale or wrong."""
    for key in (ENERGY, VOLTAGE, POWER):
        assert state(hass, SERIAL, key) == STATE_UNAVAILABLE, key


async def connections_closed(sim: Simulator, within: float = 1.0) -> None:
    """Wait for the gateway to notice the client's close (a socket close reaches the other end
    a moment later); a connection still open after ``within`` seconds was left open."""
    await sim.settle()
    for _ in range(int(within / 0.01)):
        if not sim.record.open_connections:
            break
        await asyncio.sleep(0.01)
    assert not sim.record.open_connections, f"socket left open: {sim.record.open_connections}"


def discs_sent(sim: Simulator) -> int:
    """DISC frames that reached the meter's line (a hung meter does not count them itself)."""
    return sum(1 for frame in sim.record.frames_to_meter() if frame.summary.startswith("DISC"))


async def assert_nothing_left_open(sim: Simulator) -> None:
    """The meter holds no link or association and the gateway no connection."""
    await connections_closed(sim)
    record = sim.record
    assert not record.open_connections, record.open_connections
    assert not record.open_sessions, record.open_sessions
    assert not record.open_associations, record.open_associations
    assert record.max_concurrent_connections <= 1


async def recover(
    hass: HomeAssistant,
    sim: Simulator,
    coordinator: MicrostarCoordinator,
    meter_clock: FakeClock,
) -> None:
    """The next healthy poll brings everything back, without a reload."""
    entry = coordinator.config_entry
    meter_clock.advance(30)
    every_class_due(coordinator)
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert coordinator.last_update_success, coordinator.last_exception
    assert entry.state is ConfigEntryState.LOADED
    assert_values_right(hass, sim, coordinator)
    assert not issues(hass)
    await assert_nothing_left_open(sim)


@dataclass(frozen=True)
class FailingRow:
    """A fault that makes polls fail until it is switched off."""

    arm: Callable[[Simulator], None]
    failure: str  # the coordinator's failure kind (translation key)
    polls: int = 1
    repair: str | None = None
    disarm: Callable[[Simulator], None] = lambda sim: sim.clear_faults()
    session_reaches_meter: bool = True  # the poll got as far as an HDLC link


FAILING_ROWS = {
    "silent meter": FailingRow(
        lambda sim: sim.set_fault(Silent()),
        "no_answer",
        polls=4,
        repair=ISSUE_METER_SILENT,
        disarm=lambda sim: sim.power_cycle(),
        session_reaches_meter=False,
    ),
    "gateway busy": FailingRow(
        lambda sim: sim.set_fault(Busy()),
        "gateway_busy",
        polls=3,
        repair=ISSUE_GATEWAY_BUSY,
        session_reaches_meter=False,
    ),
    "corrupt FCS on every answer": FailingRow(
        lambda sim: sim.set_fault(CorruptFcs(on=ResponseKind.GET, count=None)), "protocol_error"
    ),
    "slow meter past the timeout": FailingRow(
        lambda sim: sim.set_fault(DelayResponse(seconds=1.0, on=ResponseKind.GET)),
        "response_timeout",
    ),
    "association rejected": FailingRow(
        lambda sim: sim.set_fault(RejectAssociation(diagnostic=1, count=1)),
        "association_rejected",
    ),
    "stuck association from a previous client": FailingRow(
        lambda sim: sim.set_fault(StuckAssociation(client_sap=32)),
        "no_answer",
        disarm=lambda sim: None,  # our DISC after the unanswered SNRM ends it
    ),
}


@pytest.mark.parametrize("row", [pytest.param(row, id=name) for name, row in FAILING_ROWS.items()])
async def test_failing_row(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
    row: FailingRow,
) -> None:
    """Polls fail in bounded time; entities unavailable; the right repair; then recovery."""
    entry, coordinator = loaded
    before = coordinator.data.values[ENERGY].value
    await sim.settle()
    sim.record.clear()
    row.arm(sim)
    with wall_clock() as clock:
        for _ in range(row.polls):
            elapsed = await timed_refresh(hass, coordinator)
            assert elapsed < POLL_BOUND, f"poll took {elapsed:.2f} s"
            assert not coordinator.last_update_success
            assert coordinator.health.last_failure_kind == row.failure, coordinator.last_exception
            clock.advance(REPAIR_POLL_SPACING)
        assert_all_unavailable(hass)
        assert coordinator.data.values[ENERGY].value == before  # nothing new, nothing faked
        expected = {f"{row.repair}_{entry.entry_id}"} if row.repair else set()
        assert issues(hass) == expected
        assert entry.state is ConfigEntryState.LOADED
        assert not hass.config_entries.flow.async_progress_by_handler(entry.domain)

        await connections_closed(sim)
        record = sim.record
        if row.session_reaches_meter:
            assert record.disc_received >= 1, "no DISC after the failed session"
        if row.failure == "no_answer":
            assert discs_sent(sim) >= row.polls, "no blind DISC after an unanswered SNRM"
        assert not record.open_sessions, record.open_sessions
        assert not record.open_associations, record.open_associations

        row.disarm(sim)
        await recover(hass, sim, coordinator, meter_clock)


RECOVERING_ROWS = {
    "corrupt FCS once": CorruptFcs(on=ResponseKind.GET, count=1),
    "noise bytes": NoiseBytes(count=1),
    "noise bytes before every answer (no frame start in them)": NoiseBytes(
        noise=b"\x00\xff\x55\x13", count=None
    ),
    "truncated frame": TruncateFrame(keep=6, on=ResponseKind.GET, count=1),
    "corrupt FCS on the UA": CorruptFcs(on=ResponseKind.UA, count=1),
}


@pytest.mark.parametrize(
    "fault", [pytest.param(fault, id=name) for name, fault in RECOVERING_ROWS.items()]
)
async def test_line_error_is_absorbed_within_the_poll(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
    fault: CorruptFcs | NoiseBytes | TruncateFrame,
) -> None:
    """A line error the HDLC retransmission repairs: the poll succeeds with exact values."""
    _, coordinator = loaded
    await sim.settle()
    sim.record.clear()
    sim.set_fault(fault)
    meter_clock.advance(30)
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert coordinator.last_update_success, coordinator.last_exception
    assert_values_right(hass, sim, coordinator)
    assert not issues(hass)
    await assert_nothing_left_open(sim)
    assert sim.record.disc_received == 1
    sim.clear_faults()
    await recover(hass, sim, coordinator, meter_clock)


async def test_false_frame_starts_in_the_noise_do_not_fail_the_poll(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """Line noise holding ``7E A0`` (a false frame start) before every answer, each answer
    itself intact: the deframer resynchronises on the real frame, so the poll should succeed."""
    _, coordinator = loaded
    sim.set_fault(NoiseBytes(noise=b"\x00\x7e\xa0\x55\xff", count=None))
    meter_clock.advance(30)
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert coordinator.last_update_success, coordinator.last_exception
    assert_values_right(hass, sim, coordinator)


async def test_drop_mid_response(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """The gateway closes TCP in the middle of an answer. No DISC can be sent then, and
    closing TCP does not reset the meter (field notes §3): its link stays open until the next
    poll's SNRM replaces it. That is the documented exception; the next poll leaves nothing."""
    _, coordinator = loaded
    await sim.settle()
    sim.record.clear()
    sim.set_fault(DropMidResponse(after_bytes=5, on=ResponseKind.GET))
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert coordinator.health.last_failure_kind == "cannot_connect"
    assert_all_unavailable(hass)
    assert not issues(hass)
    await connections_closed(sim)
    record = sim.record
    dropped = [c for c in record.connections if c.closed_by is CloseReason.DROPPED]
    assert len(dropped) == 1
    # Left open only on the dropped connection, never on another.
    assert {s.connection for s in record.open_sessions} <= {dropped[0].id}
    assert {a.connection for a in record.open_associations} <= {dropped[0].id}
    await recover(hass, sim, coordinator, meter_clock)
    assert all(s.closed_by is not None for s in sim.record.sessions)


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_connection_refused(
    hass: HomeAssistant,
    simulator: SimulatorFactory,
    meter_clock: FakeClock,
    free_port: int,
) -> None:
    """The gateway is down (rebooting): connection refused; it comes back on the same port."""
    sim = await simulator(
        SimulatorConfig(gateway=GatewayConfig(port=free_port), timing=FAST, clock=meter_clock)
    )
    entry = config_entry(sim, polling=False)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator

    await sim.stop()
    for _ in range(3):
        elapsed = await timed_refresh(hass, coordinator)
        assert elapsed < POLL_BOUND
        assert coordinator.health.last_failure_kind == "cannot_connect"
    assert_all_unavailable(hass)
    assert not issues(hass)

    await sim.start()
    assert sim.port == free_port
    await recover(hass, sim, coordinator, meter_clock)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_data_access_error_on_one_object(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """One object answers a data-access error: only its entity is unknown, none unavailable."""
    _, coordinator = loaded
    sim.set_fault(DataAccessFailure("1-1:32.7.0", attribute=2))
    meter_clock.advance(30)
    every_class_due(coordinator)
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert coordinator.last_update_success
    assert coordinator.data.values[VOLTAGE].value is None
    assert state(hass, SERIAL, VOLTAGE) == STATE_UNKNOWN
    assert coordinator.data.values[ENERGY].value == Decimal(meter_value(sim, ENERGY))
    assert state(hass, SERIAL, ENERGY) != STATE_UNAVAILABLE
    assert state(hass, SERIAL, POWER) != STATE_UNAVAILABLE
    assert not issues(hass)
    await assert_nothing_left_open(sim)
    sim.clear_faults()
    await recover(hass, sim, coordinator, meter_clock)


async def test_energy_glitch(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """A zero and then a lower energy reading: neither is published, nothing goes backwards,
    and the next real reading is shown."""
    _, coordinator = loaded
    energy_entity = hass.states.get(f"sensor.microstar_{SERIAL}_energy_import")
    assert energy_entity is not None
    published, unsubscribe = track_energy(hass, [energy_entity.entity_id])
    shown = state(hass, SERIAL, ENERGY)
    for mode in ("zero", "smaller"):
        sim.set_fault(EnergyGlitch("1-1:1.8.0", mode=mode))
        meter_clock.advance(30)
        every_class_due(coordinator)
        elapsed = await timed_refresh(hass, coordinator)
        assert elapsed < POLL_BOUND
        assert coordinator.last_update_success
        assert state(hass, SERIAL, ENERGY) == shown, f"{mode} glitch published"
    assert coordinator.health.glitches_dropped == 2
    assert not issues(hass)
    await assert_nothing_left_open(sim)
    meter_clock.advance(3600)  # an hour of consumption, so the next reading is visibly higher
    await recover(hass, sim, coordinator, meter_clock)
    assert float(state(hass, SERIAL, ENERGY)) >= float(shown)
    unsubscribe()
    assert not published.decreases, published.decreases


async def test_authentication_failure_asks_for_the_password(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """The meter's password changed: reauth is offered; when it is right again, polls recover
    (the reauth flow stays for the user to dismiss)."""
    entry, coordinator = loaded
    sim.set_password(1, "9999999999")
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert coordinator.health.last_failure_kind == "authentication_failed"
    assert_all_unavailable(hass)
    flows = hass.config_entries.flow.async_progress_by_handler(entry.domain)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert not issues(hass)
    await assert_nothing_left_open(sim)
    sim.set_password(1, "2222222222")
    await recover(hass, sim, coordinator, meter_clock)


@pytest.mark.parametrize("gateway", [GatewayConfig(idle_timeout=0.15)])
async def test_gateway_idle_timeout_during_a_session(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """The gateway closes a client silent for 0.15 s; a slow answer keeps the client silent
    longer than that mid-session. The socket is closed by the gateway, so no DISC goes out and
    the meter keeps its link until the next SNRM (documented exception, as for a drop)."""
    _, coordinator = loaded
    await sim.settle()
    sim.record.clear()
    sim.set_fault(DelayResponse(seconds=0.6, on=ResponseKind.GET))
    elapsed = await timed_refresh(hass, coordinator)
    assert elapsed < POLL_BOUND
    assert not coordinator.last_update_success
    assert coordinator.health.last_failure_kind in ("cannot_connect", "response_timeout")
    assert_all_unavailable(hass)
    await connections_closed(sim)
    record = sim.record
    assert any(c.closed_by is CloseReason.IDLE_TIMEOUT for c in record.connections)
    sim.clear_faults()
    await recover(hass, sim, coordinator, meter_clock)


async def test_unload_in_the_middle_of_a_poll(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
) -> None:
    """HA unloads the entry (shutdown, reload, removal) while a slow poll is on the wire: the
    unload does not wait for the meter, the poll still ends within its bound and the session
    is closed with DISC; no task, timer or socket is left behind."""
    entry, coordinator = loaded
    await sim.settle()
    sim.record.clear()
    sim.set_fault(DelayResponse(seconds=0.6, on=ResponseKind.GET))
    started = time.perf_counter()
    poll = hass.async_create_task(coordinator.async_refresh())
    await asyncio.sleep(0.1)
    assert not poll.done(), "the poll should still be waiting for the meter"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert time.perf_counter() - started < 1.0, "unload waited for the meter"
    assert entry.state is ConfigEntryState.NOT_LOADED
    await asyncio.wait_for(poll, POLL_BOUND)
    assert time.perf_counter() - started < POLL_BOUND
    await hass.async_block_till_done()
    await connections_closed(sim)
    record = sim.record
    assert record.disc_received >= 1
    assert not record.open_sessions
    assert not record.open_associations
    assert not issues(hass)


async def test_poll_cancelled_at_shutdown(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: tuple[MockConfigEntry, MicrostarCoordinator],
    meter_clock: FakeClock,
) -> None:
    """HA stops and cancels the running poll mid-session: the session still releases the
    meter (DISC) and the socket promptly, the endpoint lock is free, and a later poll works."""
    _, coordinator = loaded
    await sim.settle()
    sim.record.clear()
    sim.set_fault(DelayResponse(seconds=0.6, on=ResponseKind.GET))
    task = asyncio.create_task(coordinator._async_update_data())
    await asyncio.sleep(0.1)
    cancelled_at = time.perf_counter()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, POLL_BOUND)
    assert task.cancelled() or task.exception() is not None
    assert time.perf_counter() - cancelled_at < 2 * RESPONSE_TIMEOUT + 1.0
    async with endpoint_lock(coordinator.meter_config.endpoint, 0.01):
        pass
    await connections_closed(sim)
    record = sim.record
    assert record.disc_received >= 1
    assert not record.open_sessions
    assert not record.open_associations
    sim.clear_faults()
    await recover(hass, sim, coordinator, meter_clock)


def test_matrix_covers_every_fault_of_the_issue() -> None:
    """Issue 8's list of faults, each with its row here."""
    rows = (
        set(FAILING_ROWS)
        | set(RECOVERING_ROWS)
        | {
            "drop mid-response",
            "connection refused",
            "data-access errors on one object",
            "energy glitch",
            "authentication failure",
            "gateway idle timeout during a session",
            "HA shutdown (entry unload) in the middle of a poll",
            "poll cancelled at shutdown",
        }
    )
    issue = {
        "silent meter",
        "gateway busy",
        "connection refused",
        "drop mid-response",
        "corrupt FCS once",
        "noise bytes",
        "truncated frame",
        "slow meter past the timeout",
        "association rejected",
        "stuck association from a previous client",
        "data-access errors on one object",
        "energy glitch",
        "gateway idle timeout during a session",
        "HA shutdown (entry unload) in the middle of a poll",
    }
    assert issue <= rows
