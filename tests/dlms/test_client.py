"""The asyncio client against a fake meter over real loopback sockets."""

import asyncio
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
from custom_components.microstar_dlms.dlms.apdu import DEFAULT_CONFORMANCE, Conformance
from custom_components.microstar_dlms.dlms.transport import display_endpoint

from .fake_meter import (
    OBJECT_LIST,
    PASSWORD,
    SERIAL,
    VOLTAGE,
    VOLTAGE_L2,
    VOLTAGE_SCALER,
    FakeGateway,
    FakeMeter,
    settings_for,
)
from .vectors import SNRM_1BYTE


async def test_session_reads_values_and_releases() -> None:
    """A normal poll: SNRM, AARQ, GETs, then RLRQ and DISC in that order."""
    meter = FakeMeter(password=PASSWORD.encode())
    async with FakeGateway(meter) as gateway:
        client = MeterClient(settings_for(gateway))
        async with client.session() as session:
            assert session.negotiated is not None
            assert session.negotiated.conformance == DEFAULT_CONFORMANCE
            assert session.negotiated.server_max_pdu == 0x01F4
            assert session.negotiated.max_info_tx == 128
            results = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER, VOLTAGE_L2])
            serial = await session.get(SERIAL)
    assert results[0].value == 23001
    scaler = ScalerUnit.from_value(results[1].value)
    assert scaler.unit is Unit.VOLT
    assert str(scaler.apply(results[0].value)) == "230.01"  # type: ignore[arg-type]
    assert results[2].error is not None
    assert results[2].error.result is DataAccessResult.OBJECT_UNDEFINED
    assert serial == b"12341234"
    frames = meter.record.frames
    assert frames[:3] == ["SNRM", "I", "Aarq"]
    assert frames.index("ReleaseRequest") < frames.index("DISC")
    assert frames[-1] == "DISC"
    assert meter.record.get_requests == 4  # one GET per attribute, no multiple-references
    assert meter.record.list_requests == 0


async def test_get_raises_data_access_error() -> None:
    """A single get of a missing object raises; the session stays usable."""
    async with FakeGateway(FakeMeter()) as gateway:
        async with MeterClient(settings_for(gateway, password=None)).session() as session:
            with pytest.raises(DataAccessError) as err:
                await session.get(VOLTAGE_L2)
            assert err.value.result is DataAccessResult.OBJECT_UNDEFINED
            assert await session.get(VOLTAGE) == 23001


async def test_release_and_disconnect_after_an_exception() -> None:
    """An error in the caller's code still ends with RLRQ, DISC and a closed socket."""
    meter = FakeMeter()
    async with FakeGateway(meter) as gateway:

        async def poll_with_a_bug() -> None:
            async with MeterClient(settings_for(gateway)).session() as session:
                await session.get(VOLTAGE)
                raise RuntimeError("caller bug")

        with pytest.raises(RuntimeError, match="caller bug"):
            await poll_with_a_bug()
        await _wait_until(lambda: meter.record.concurrent == 0)
    assert meter.record.frames[-2:] == ["ReleaseRequest", "DISC"]


async def test_release_and_disconnect_after_cancellation_mid_read() -> None:
    """Cancelled while waiting for a GET answer: DISC goes out at once (it ends the association
    too), the answer is not waited for, and the caller sees the cancellation within one
    response timeout."""
    meter = FakeMeter(get_delay=0.3)
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway, response_timeout=1.0)

        async def poll() -> None:
            async with MeterClient(settings).session() as session:
                await session.get(VOLTAGE)

        task = asyncio.create_task(poll())
        await _wait_until(lambda: meter.record.get_requests == 1)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        # One response timeout for DISC's answer, plus scheduling slack on a loaded machine.
        assert time.monotonic() - started < settings.response_timeout + 0.5
        await _wait_until(lambda: meter.record.concurrent == 0)
    assert meter.record.frames[-2:] == ["GetRequestNormal", "DISC"]


async def test_concurrent_sessions_to_one_endpoint_are_serialized() -> None:
    """Two callers (two meters behind one gateway) never hold two TCP connections at once."""
    meter = FakeMeter(get_delay=0.05)
    async with FakeGateway(meter) as gateway:

        async def poll() -> object:
            async with MeterClient(settings_for(gateway)).session() as session:
                return await session.get(VOLTAGE)

        values = await asyncio.gather(poll(), poll(), poll())
    assert values == [23001, 23001, 23001]
    assert meter.record.connections == 3
    assert meter.record.max_concurrent == 1


async def test_endpoint_busy_when_the_lock_wait_runs_out() -> None:
    """A second caller gives up after lock_timeout with EndpointBusy."""
    async with FakeGateway(FakeMeter()) as gateway:
        async with MeterClient(settings_for(gateway)).session():
            other = MeterClient(settings_for(gateway, lock_timeout=0.1))
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
async def test_gateway_busy_text_is_reported_within_one_read_timeout(text: bytes) -> None:
    """The ASCII reply of a busy gateway is GatewayBusy, not a framing error, and fast."""
    meter = FakeMeter(busy_text=text)
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway, response_timeout=1.0)
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


async def test_silent_meter_is_no_answer_within_the_configured_timeout() -> None:
    """TCP works, the meter never answers SNRM: NoAnswer after the retries, no longer."""
    meter = FakeMeter(silent=True)
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway, response_timeout=0.3, retries=2)
        started = time.monotonic()
        with pytest.raises(NoAnswer, match="no HDLC answer to SNRM"):
            async with MeterClient(settings).session():
                pass
        elapsed = time.monotonic() - started
        await _wait_until(lambda: meter.record.concurrent == 0)
    assert elapsed < 3 * 0.3 + 0.6
    assert meter.record.frames == ["SNRM", "SNRM", "SNRM", "DISC"]


async def test_wrong_address_form_is_no_answer() -> None:
    """The field case: a 2-byte address to a meter listening on the 1-byte form."""
    async with FakeGateway(FakeMeter()) as gateway:
        settings = settings_for(gateway, server=ServerAddress(1, 1, 2), response_timeout=0.2)
        with pytest.raises(NoAnswer):
            async with MeterClient(settings).session():
                pass


async def test_wrong_password_is_authentication_failed_and_disconnects() -> None:
    """Rejected AARE with diagnostic 13: AuthenticationFailed, then DISC."""
    meter = FakeMeter(password=b"2222222222")
    async with FakeGateway(meter) as gateway:
        with pytest.raises(AuthenticationFailed, match="authentication failure") as err:
            async with MeterClient(settings_for(gateway)).session():
                pass
        await _wait_until(lambda: meter.record.concurrent == 0)
    assert err.value.diagnostic == 13
    assert meter.record.frames[-1] == "DISC"
    assert "ReleaseRequest" not in meter.record.frames


async def test_connection_refused() -> None:
    """Nothing listens: ConnectionFailed with the endpoint in the message."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ConnectionSettings(endpoint=f"socket://127.0.0.1:{port}", connect_timeout=2)
    with pytest.raises(ConnectionFailed, match=str(port)):
        async with MeterClient(settings).session():
            pass


async def test_block_transfer_and_segmentation_are_transparent() -> None:
    """A 1.4 kB object list comes in 300-byte datablocks, each cut into 128-byte segments."""
    meter = FakeMeter(block_size=300)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            data = await session.get_data(OBJECT_LIST)
    assert data == meter.objects[OBJECT_LIST]
    payload = len(meter.objects[OBJECT_LIST].encode())
    assert meter.record.frames.count("GetRequestNext") == (payload + 299) // 300 - 1
    assert meter.record.frames.count("RR") >= 2 * (payload // 300)


async def test_negotiated_larger_frames() -> None:
    """SNRM with a parameter group; the UA's values become the session's."""
    meter = FakeMeter(hdlc=HdlcParameters(256, 256, 1, 1))
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway, hdlc_parameters=HdlcParameters(512, 512, 1, 1))
        async with MeterClient(settings).session() as session:
            assert session.negotiated is not None
            assert session.negotiated.max_info_rx == 256
            assert session.negotiated.max_info_tx == 256
            assert len(await session.get(OBJECT_LIST)) == 40  # type: ignore[arg-type]


async def test_get_with_list_only_when_granted() -> None:
    """With multiple-references granted, three attributes cost one request."""
    granted = DEFAULT_CONFORMANCE | Conformance.MULTIPLE_REFERENCES
    meter = FakeMeter(conformance=granted)
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway, conformance=granted)
        async with MeterClient(settings).session() as session:
            results = await session.read_attributes([VOLTAGE, VOLTAGE_SCALER, VOLTAGE_L2])
    assert meter.record.list_requests == 1
    assert meter.record.get_requests == 1
    assert [r.ok for r in results] == [True, True, False]


async def test_lost_answer_is_retransmitted() -> None:
    """The meter's answer is lost once: the client repeats its frame and carries on."""
    meter = FakeMeter(drop_answers=1)
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway, response_timeout=0.3)).session() as s:
            assert await s.get(VOLTAGE) == 23001
            assert await s.get(VOLTAGE_SCALER) is not None
    assert meter.record.get_requests == 2  # the repeated frame is answered from the link
    assert meter.record.frames.count("I") == 5  # AARQ, GET, the same GET again, GET, RLRQ


async def test_stale_bytes_before_snrm_are_skipped() -> None:
    """Bytes from an old exchange and line noise waiting at the gateway do not disturb SNRM."""
    meter = FakeMeter(greeting=b"\x00\xff" + SNRM_1BYTE[:5] + b"\x7e\x7e")
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            assert await session.get(VOLTAGE) == 23001


async def test_after_a_clean_end_the_next_drain_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The meter answered our DISC and nothing was stale: the next session does not wait the
    full quiet window before SNRM (made 1 s here, against the short one after a clean end)."""
    monkeypatch.setattr(client_module, "_DRAIN_QUIET", 1.0)
    monkeypatch.setattr(client_module, "_DRAIN_MAX", 2.0)
    async with FakeGateway(FakeMeter()) as gateway:
        opened = []
        for _ in range(2):
            started = time.monotonic()
            async with MeterClient(settings_for(gateway)).session() as session:
                opened.append(time.monotonic() - started)
                assert await session.get(VOLTAGE) == 23001
    assert opened[0] >= 1.0  # nothing known about the line: the full window
    assert opened[1] < 0.5  # our own clean end before: the short one


@pytest.mark.parametrize("delay", [0.0, 0.03], ids=["at-connect", "after-the-short-drain"])
async def test_stale_bytes_after_a_clean_end_are_still_skipped(delay: float) -> None:
    """Stale bytes at the gateway after our clean end (another client, a late answer): found by
    the short drain (which then waits the full window) or, arriving later, skipped by SNRM."""
    meter = FakeMeter(greeting=b"\x00\xff" + SNRM_1BYTE[:5] + b"\x7e\x7e", greeting_delay=delay)
    async with FakeGateway(meter) as gateway:
        for _ in range(3):
            async with MeterClient(settings_for(gateway)).session() as session:
                assert await session.get(VOLTAGE) == 23001
    assert meter.record.connections == 3


async def test_four_byte_address() -> None:
    """Physical 1234 in the 4-byte form reaches a meter with that address."""
    server = ServerAddress(1, 1234, 4)
    async with FakeGateway(FakeMeter(address=server)) as gateway:
        async with MeterClient(settings_for(gateway, server=server)).session() as session:
            assert await session.get(VOLTAGE) == 23001


async def test_password_never_in_trace_or_log(caplog: pytest.LogCaptureFixture) -> None:
    """TX/RX trace and DEBUG log show the AARQ with the password masked as **."""
    caplog.set_level(logging.DEBUG)
    records: list[TraceRecord] = []
    meter = FakeMeter(password=PASSWORD.encode())
    async with FakeGateway(meter) as gateway:
        settings = settings_for(gateway)
        async with MeterClient(settings, trace=records.append).session() as session:
            await session.get(VOLTAGE)
    assert meter.record.aarq_passwords == [PASSWORD.encode()]
    hex_password = PASSWORD.encode().hex(" ").upper()
    text = "\n".join(str(r) for r in records) + caplog.text
    assert PASSWORD not in text
    assert hex_password not in text
    assert hex_password.replace(" ", "") not in text.replace(" ", "")
    assert PASSWORD not in repr(settings)
    aarq = next(r for r in records if "AC 0C 80 0A" in r.hex)
    assert "AC 0C 80 0A ** ** ** ** ** ** ** ** ** **" in aarq.hex
    assert {r.direction for r in records} == {"TX", "RX"}
    assert all(later.monotonic >= r.monotonic for r, later in itertools.pairwise(records))


async def _wait_until(predicate: object, within: float = 2.0) -> None:
    """Poll a condition the fake meter updates asynchronously."""
    assert callable(predicate)
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the record is a plain dataclass
            await asyncio.sleep(0.01)


async def test_false_frame_start_in_noise_before_every_answer() -> None:
    """Noise holding 7E A0 in front of each (intact) answer: the client reads on and the poll
    succeeds without retransmissions."""
    meter = FakeMeter(noise_before_answers=b"\x00\x7e\xa0\x55\xff")
    async with FakeGateway(meter) as gateway:
        async with MeterClient(settings_for(gateway)).session() as session:
            assert await session.get(VOLTAGE) == 23001
            assert await session.get(SERIAL) == b"12341234"
    assert meter.record.get_requests == 2


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
