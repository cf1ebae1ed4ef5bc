"""The asyncio client against the simulator over real loopback sockets."""

import asyncio
from decimal import Decimal
import itertools
import logging
import socket
import time

import pytest

from custom_components.microstar_dlms.dlms import (
    AuthenticationFailed,
    ConnectionFailed,
    ConnectionSettings,
    DataAccessError,
    DataAccessResult,
    EndpointBusy,
    GatewayBusy,
    HdlcParameters,
    MeterClient,
    NoAnswer,
    ScalerUnit,
    ServerAddress,
    TraceRecord,
    Unit,
    client as client_module,
)
from custom_components.microstar_dlms.dlms.apdu import (
    DEFAULT_CONFORMANCE,
    Aarq,
    Conformance,
)
from custom_components.microstar_dlms.dlms.transport import display_endpoint
from microstar_sim import (
    Busy,
    ClientAccess,
    DelayResponse,
    NoiseBytes,
    Silent,
    Simulator,
    TruncateFrame,
)
from microstar_sim.pytest_plugin import SimulatorFactory

from .simulated import (
    OBJECT_LIST,
    PASSWORD,
    SERIAL,
    SERIAL_NUMBER,
    SINGLE_PHASE,
    VOLTAGE,
    VOLTAGE_L2,
    VOLTAGE_SCALER,
    closed,
    settings_for,
    start,
    value_of,
    wait_until,
)
from .vectors import SNRM_1BYTE

STALE = b"\x00\xff" + SNRM_1BYTE[:5] + b"\x7e\x7e"  # noise and half a frame from an old exchange


async def test_session_reads_values_and_releases(simulator: SimulatorFactory) -> None:
    """A normal poll: SNRM, AARQ, GETs, then RLRQ and DISC in that order."""
    sim = await start(simulator, profile=SINGLE_PHASE)
    client = MeterClient(settings_for(sim))
    async with client.session() as session:
        assert session.negotiated is not None
        assert session.negotiated.conformance == DEFAULT_CONFORMANCE
        assert session.negotiated.server_max_pdu == 512
        assert session.negotiated.max_info_tx == 128
        results = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER, VOLTAGE_L2])
        serial = await session.get(SERIAL)
    await sim.settle()
    assert results[0].value == value_of(sim, VOLTAGE)
    scaler = ScalerUnit.from_value(results[1].value)
    assert scaler.unit is Unit.VOLT
    assert scaler.apply(results[0].value) == Decimal(results[0].value) / 100  # type: ignore[arg-type]
    assert results[2].error is not None
    assert results[2].error.result is DataAccessResult.OBJECT_UNDEFINED
    assert serial == SERIAL_NUMBER
    heard = sim.record.heard()
    assert heard[:3] == ["SNRM", "I", "Aarq"]
    assert heard.index("ReleaseRequest") < heard.index("DISC")
    assert heard[-1] == "DISC"
    assert heard.count("GetRequestNormal") == 4  # one GET per attribute, no multiple-references
    assert "GetRequestWithList" not in heard


async def test_get_raises_data_access_error(simulator: SimulatorFactory) -> None:
    """A single get of a missing object raises; the session stays usable."""
    sim = await start(simulator, profile=SINGLE_PHASE)
    public = settings_for(sim, client_sap=16, password=None)
    async with MeterClient(public).session() as session:
        with pytest.raises(DataAccessError) as err:
            await session.get(VOLTAGE_L2)
        assert err.value.result is DataAccessResult.OBJECT_UNDEFINED
        assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)


async def test_release_and_disconnect_after_an_exception(simulator: SimulatorFactory) -> None:
    """An error in the caller's code still ends with RLRQ, DISC and a closed socket."""
    sim = await start(simulator)

    async def poll_with_a_bug() -> None:
        async with MeterClient(settings_for(sim)).session() as session:
            await session.get(VOLTAGE)
            raise RuntimeError("caller bug")

    with pytest.raises(RuntimeError, match="caller bug"):
        await poll_with_a_bug()
    await closed(sim)
    assert sim.record.heard()[-2:] == ["ReleaseRequest", "DISC"]


async def test_release_and_disconnect_after_cancellation_mid_read(
    simulator: SimulatorFactory,
) -> None:
    """Cancelled while waiting for a GET answer: DISC goes out at once (it ends the association
    too), the answer is not waited for, and the caller sees the cancellation within one
    response timeout."""
    sim = await start(simulator, DelayResponse(0.3, count=None))
    settings = settings_for(sim, response_timeout=1.0)

    async def poll() -> None:
        async with MeterClient(settings).session() as session:
            await session.get(VOLTAGE)

    task = asyncio.create_task(poll())
    await wait_until(lambda: "GetRequestNormal" in sim.record.heard())
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    # One response timeout for DISC's answer, plus scheduling slack on a loaded machine.
    assert time.monotonic() - started < settings.response_timeout + 0.5
    await closed(sim)
    assert sim.record.heard()[-2:] == ["GetRequestNormal", "DISC"]


async def test_concurrent_sessions_to_one_endpoint_are_serialized(
    simulator: SimulatorFactory,
) -> None:
    """Two callers (two meters behind one gateway) never hold two TCP connections at once."""
    sim = await start(simulator, DelayResponse(0.05, count=None))

    async def poll() -> object:
        async with MeterClient(settings_for(sim)).session() as session:
            return await session.get(VOLTAGE)

    values = await asyncio.gather(poll(), poll(), poll())
    assert values == [value_of(sim, VOLTAGE)] * 3
    assert len(sim.record.connections) == 3
    assert sim.record.max_concurrent_connections == 1


async def test_endpoint_busy_when_the_lock_wait_runs_out(simulator: SimulatorFactory) -> None:
    """A second caller gives up after lock_timeout with EndpointBusy."""
    sim = await start(simulator)
    async with MeterClient(settings_for(sim)).session():
        other = MeterClient(settings_for(sim, lock_timeout=0.1))
        with pytest.raises(EndpointBusy, match=r"127\.0\.0\.1"):
            async with other.session():
                pass


@pytest.mark.parametrize(
    "text",
    [
        b"Port already in use\r\n",
        b"Port's device already in use\r\n",
        b"Port disabled\r\n",
        b"kicked off, new user is coming\r\n",
    ],
)
async def test_gateway_busy_text_is_reported_within_one_read_timeout(
    simulator: SimulatorFactory, text: bytes
) -> None:
    """The ASCII reply of a busy gateway is GatewayBusy, not a framing error, and fast."""
    sim = await start(simulator, Busy(text.decode()))
    settings = settings_for(sim, response_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(GatewayBusy) as err:
        async with MeterClient(settings).session():
            pass
    assert time.monotonic() - started < settings.response_timeout
    assert err.value.text == text.decode().strip()


async def test_busy_text_while_the_connection_stays_open() -> None:
    """A gateway that prints the text but keeps the socket open is still GatewayBusy."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Port already in use\r\n")
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = ConnectionSettings(endpoint=f"socket://127.0.0.1:{port}", response_timeout=1)
        started = time.monotonic()
        with pytest.raises(GatewayBusy):
            async with MeterClient(settings).session():
                pass
        assert time.monotonic() - started < 1.0
    finally:
        server.close()
        await server.wait_closed()


async def test_silent_meter_is_no_answer_within_the_configured_timeout(
    simulator: SimulatorFactory,
) -> None:
    """TCP works, the meter never answers SNRM: NoAnswer after the retries, no longer."""
    sim = await start(simulator, Silent())
    settings = settings_for(sim, response_timeout=0.3, retries=2)
    started = time.monotonic()
    with pytest.raises(NoAnswer, match="no HDLC answer to SNRM"):
        async with MeterClient(settings).session():
            pass
    elapsed = time.monotonic() - started
    await closed(sim)
    assert elapsed < 3 * 0.3 + 0.6
    assert sim.record.heard() == ["SNRM", "SNRM", "SNRM", "DISC"]


async def test_wrong_address_form_is_no_answer(simulator: SimulatorFactory) -> None:
    """The field case: a 2-byte address to a meter listening on the 1-byte form."""
    sim = await start(simulator)
    settings = settings_for(sim, server=ServerAddress(1, 1, 2), response_timeout=0.2)
    with pytest.raises(NoAnswer):
        async with MeterClient(settings).session():
            pass


async def test_wrong_password_is_authentication_failed_and_disconnects(
    simulator: SimulatorFactory,
) -> None:
    """Rejected AARE with diagnostic 13: AuthenticationFailed, then DISC."""
    sim = await start(simulator)
    with pytest.raises(AuthenticationFailed, match="authentication failure") as err:
        async with MeterClient(settings_for(sim, password="0123456789")).session():
            pass
    await closed(sim)
    assert err.value.diagnostic == 13
    assert sim.record.heard()[-1] == "DISC"
    assert "ReleaseRequest" not in sim.record.heard()


async def test_connection_refused() -> None:
    """Nothing listens: ConnectionFailed with the endpoint in the message."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ConnectionSettings(endpoint=f"socket://127.0.0.1:{port}", connect_timeout=2)
    with pytest.raises(ConnectionFailed, match=str(port)):
        async with MeterClient(settings).session():
            pass


async def test_block_transfer_and_segmentation_are_transparent(
    simulator: SimulatorFactory,
) -> None:
    """A 2.5 kB object list comes in 300-byte datablocks, each cut into 128-byte segments."""
    sim = await start(simulator, max_pdu_size=316)  # 300 bytes of data per block
    async with MeterClient(settings_for(sim)).session() as session:
        data = await session.get_data(OBJECT_LIST)
    listed = sim.meter().value(str(OBJECT_LIST.obis))
    assert data == listed
    payload = len(listed.encode())
    heard = sim.record.heard()
    assert heard.count("GetRequestNext") == (payload + 299) // 300 - 1
    assert heard.count("RR") >= 2 * (payload // 300)


async def test_negotiated_larger_frames(simulator: SimulatorFactory) -> None:
    """SNRM with a parameter group; the UA's values become the session's."""
    sim = await start(simulator, max_info_length=256)
    settings = settings_for(sim, hdlc_parameters=HdlcParameters(512, 512, 1, 1))
    async with MeterClient(settings).session() as session:
        assert session.negotiated is not None
        assert session.negotiated.max_info_rx == 256
        assert session.negotiated.max_info_tx == 256
        listed = await session.get(OBJECT_LIST)
    assert isinstance(listed, list)
    assert len(listed) == len(sim.meter().objects)
    assert max(len(f.data) for f in sim.record.frames_from_meter()) > 128


async def test_get_with_list_only_when_granted(simulator: SimulatorFactory) -> None:
    """With multiple-references granted, three attributes cost one request."""
    sim = await start(simulator, profile=SINGLE_PHASE, grant_multiple_references=True)
    granted = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
    async with MeterClient(settings_for(sim, conformance=granted)).session() as session:
        results = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER, VOLTAGE_L2])
    heard = sim.record.heard()
    assert heard.count("GetRequestWithList") == 1
    assert "GetRequestNormal" not in heard
    assert [r.ok for r in results] == [True, True, False]


async def test_lost_answer_is_retransmitted(simulator: SimulatorFactory) -> None:
    """The meter's answer is lost once: the client repeats its frame and carries on."""
    sim = await start(simulator, TruncateFrame(keep=0))  # the first GET answer never arrives
    async with MeterClient(settings_for(sim, response_timeout=0.3)).session() as s:
        assert await s.get(VOLTAGE) == value_of(sim, VOLTAGE)
        assert await s.get(VOLTAGE_SCALER) == [-2, 35]
    heard = sim.record.heard()
    assert heard.count("GetRequestNormal") == 3  # the first one twice, answered from the link
    assert heard.count("I") == 5  # AARQ, GET, the same GET again, GET, RLRQ


async def test_stale_bytes_before_snrm_are_skipped(simulator: SimulatorFactory) -> None:
    """Bytes from an old exchange and line noise waiting at the gateway do not disturb SNRM."""
    sim = await start(simulator)
    sim.add_stale_bytes(STALE)
    async with MeterClient(settings_for(sim)).session() as session:
        assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)


async def test_after_a_clean_end_the_next_drain_is_short(
    simulator: SimulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meter answered our DISC and nothing was stale: the next session does not wait the
    full quiet window before SNRM (made 1 s here, against the short one after a clean end)."""
    monkeypatch.setattr(client_module, "_DRAIN_QUIET", 1.0)
    monkeypatch.setattr(client_module, "_DRAIN_MAX", 2.0)
    sim = await start(simulator)
    opened = []
    for _ in range(2):
        started = time.monotonic()
        async with MeterClient(settings_for(sim)).session() as session:
            opened.append(time.monotonic() - started)
            assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
    assert opened[0] >= 1.0  # nothing known about the line: the full window
    assert opened[1] < 0.5  # our own clean end before: the short one


@pytest.mark.parametrize("delay", [0.0, 0.03], ids=["at-connect", "after-the-short-drain"])
async def test_stale_bytes_after_a_clean_end_are_still_skipped(
    simulator: SimulatorFactory, delay: float
) -> None:
    """Stale bytes at the gateway after our clean end (another client, a late answer): found by
    the short drain (which then waits the full window) or, arriving later, skipped by SNRM."""
    sim = await start(simulator)
    for _ in range(3):
        stale = asyncio.create_task(_stale_bytes_after_connect(sim, delay))
        async with MeterClient(settings_for(sim)).session() as session:
            assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
        await stale
    assert len(sim.record.connections) == 3


async def _stale_bytes_after_connect(sim: Simulator, delay: float) -> None:
    """Stale bytes reach the next client ``delay`` after it connects."""
    connections = len(sim.record.connections)
    await wait_until(lambda: len(sim.record.connections) > connections)
    await asyncio.sleep(delay)
    sim.add_stale_bytes(STALE)


async def test_four_byte_address(simulator: SimulatorFactory) -> None:
    """Physical 1234 in the 4-byte form reaches a meter with that address."""
    sim = await start(simulator, address_size=4)
    server = ServerAddress(1, 1234, 4)
    async with MeterClient(settings_for(sim, server=server)).session() as session:
        assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)


async def test_password_never_in_trace_or_log(
    simulator: SimulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """TX/RX trace and DEBUG log show the AARQ with the password masked as **."""
    caplog.set_level(logging.DEBUG)
    records: list[TraceRecord] = []
    sim = await start(simulator, clients=(ClientAccess(1, PASSWORD),))
    settings = settings_for(sim)
    async with MeterClient(settings, trace=records.append).session() as session:
        await session.get(VOLTAGE)
    aarqs = [apdu for apdu in sim.record.requests() if isinstance(apdu, Aarq)]
    assert [aarq.password for aarq in aarqs] == [PASSWORD.encode()]
    hex_password = PASSWORD.encode().hex(" ").upper()
    ours = [r for r in caplog.records if r.name.startswith("custom_components.")]  # not the meter's
    assert ours
    text = "\n".join([*(str(r) for r in records), *(r.getMessage() for r in ours)])
    assert PASSWORD not in text
    assert hex_password not in text
    assert hex_password.replace(" ", "") not in text.replace(" ", "")
    assert PASSWORD not in repr(settings)
    aarq = next(r for r in records if "AC 0C 80 0A" in r.hex)
    assert "AC 0C 80 0A ** ** ** ** ** ** ** ** ** **" in aarq.hex
    assert {r.direction for r in records} == {"TX", "RX"}
    assert all(later.monotonic >= r.monotonic for r, later in itertools.pairwise(records))


async def test_false_frame_start_in_noise_before_every_answer(
    simulator: SimulatorFactory,
) -> None:
    """Noise holding 7E A0 in front of each (intact) answer: the client reads on and the poll
    succeeds without retransmissions."""
    sim = await start(simulator, NoiseBytes(b"\x00\x7e\xa0\x55\xff", count=None))
    async with MeterClient(settings_for(sim)).session() as session:
        assert await session.get(VOLTAGE) == value_of(sim, VOLTAGE)
        assert await session.get(SERIAL) == SERIAL_NUMBER
    assert sim.record.heard().count("GetRequestNormal") == 2


async def test_bad_frames_only_to_snrm_is_no_answer() -> None:
    """Every answer to SNRM damaged: no valid frame came from our meter, so NoAnswer (address
    detection moves on), and the message names the damaged frames."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(100):
            writer.write(bytes.fromhex("7E A0 07 03 03 73 00 00 7E"))  # UA with a bad FCS

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = ConnectionSettings(
            endpoint=f"socket://127.0.0.1:{port}", client_sap=1, response_timeout=0.2
        )
        with pytest.raises(NoAnswer, match="damaged frames"):
            async with MeterClient(settings).session():
                pass
    finally:
        server.close()
        await server.wait_closed()


def test_messages_show_the_endpoint_without_secrets() -> None:
    """An ESPHome proxy URL may carry a key: messages show scheme, host, port and path only."""
    assert (
        display_endpoint("esphome://user:pw@10.0.0.5:6053/?key=c2VjcmV0&port_name=meter")
        == "esphome://10.0.0.5:6053/"
    )
    assert display_endpoint("socket://127.0.0.1:3333") == "socket://127.0.0.1:3333"
    assert display_endpoint("/dev/ttyUSB0") == "/dev/ttyUSB0"
    assert display_endpoint("rfc2217://[::1]:4000") == "rfc2217://[::1]:4000"


async def test_connection_errors_do_not_repeat_the_key() -> None:
    """A failed open reports the endpoint without its query string."""
    settings = ConnectionSettings(
        endpoint="socket://127.0.0.1:1?key=c2VjcmV0", connect_timeout=1.0, lock_timeout=1.0
    )
    with pytest.raises(ConnectionFailed) as caught:
        async with MeterClient(settings).session():
            pass
    assert "c2VjcmV0" not in str(caught.value)
