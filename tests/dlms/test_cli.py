"""scripts/meter: decode explains field frames; test/read work against a meter."""

import asyncio
from decimal import Decimal
import io
import re

import pytest

from custom_components.microstar_dlms.dlms.apdu import AttributeRef, GetRequestNormal
from custom_components.microstar_dlms.dlms.hdlc import HdlcFrame, ServerAddress, client_address
from custom_components.microstar_dlms.dlms.obis import Obis, ScalerUnit, Unit
from microstar_sim import ClientAccess, Simulator
from microstar_sim.pytest_plugin import SimulatorFactory
from microstar_tools.meter import (
    build_parser,
    cmd_follow,
    cmd_read,
    cmd_test,
    main,
    make_client,
    parse_target,
    read_targets,
    settings_from,
)

from .simulated import SINGLE_PHASE, VOLTAGE, VOLTAGE_SCALER, start, value_of
from .vectors import AARQ_LLS_10, SCALER_UNIT_INFO, SNRM_MALFORMED, UA_VENDOR


def run_decode(*frames: bytes) -> str:
    """Output of ``scripts/meter decode`` for frames pasted as spaced hex."""
    out = io.StringIO()
    assert main(["decode", *(f.hex(" ") for f in frames)], out) == 0
    return out.getvalue()


def test_decode_explains_the_lls_aarq_without_the_password() -> None:
    """Addresses, CRCs, LLC and the AARQ fields; the password is masked."""
    text = run_decode(AARQ_LLS_10)
    assert "HCS 13 AD OK" in text
    assert "FCS DA DF OK" in text
    assert "AARQ mechanism LOW, password 10 bytes (masked)" in text
    assert "00 30 1D" in text
    assert "30 31 32 33" not in text
    assert "0123456789" not in text


def test_decode_rejects_the_malformed_snrm_and_reads_the_vendor_ua() -> None:
    """The field's bad parameter group is called out; the vendor UA's parameters shown."""
    text = run_decode(SNRM_MALFORMED, UA_VENDOR)
    assert "params   INVALID" in text
    assert "says 18 (0x12) but 20 bytes follow" in text
    assert "logical 1, physical 17 (4 bytes)" in text
    assert "max info tx 128 rx 128, window tx 1 rx 1" in text


def test_decode_shows_data_and_crc_errors() -> None:
    """A scaler_unit answer decoded; a corrupted FCS shows the expected value."""
    good = HdlcFrame(client_address(1), ServerAddress(1), 0x52, SCALER_UNIT_INFO).encode()
    bad = good[:-3] + b"\x00\x00\x7e"
    text = run_decode(good, bad)
    assert "structure{integer -3, enum 33}" in text
    assert "FCS 00 00 WRONG (expected 4D C0)" in text


def test_decode_explains_a_set_response() -> None:
    """The guide's SET answer (tag C5, vendor addressing: client 16, physical 17) is explained,
    not called undecodable (issue 12)."""
    info = bytes.fromhex("E6 E7 00 C5 01 C1 00")
    frame = HdlcFrame(client_address(16), ServerAddress(1, 17, 4), 0x30, info).encode()
    text = run_decode(frame)
    assert "SET-Response-Normal invoke 0xC1" in text
    assert "data-access-result success" in text
    assert "undecodable" not in text


def test_decode_not_hex() -> None:
    """A friendly refusal."""
    out = io.StringIO()
    assert main(["decode", "hello"], out) == 2


def test_targets() -> None:
    """Bare OBIS reads a register value; class/OBIS/attribute is explicit."""
    assert str(parse_target("1-1:32.7.0").ref) == "3/1-1:32.7.0/2"
    assert parse_target("1-1:32.7.0").scaled
    assert str(parse_target("1-0:0.0.0").ref) == "1/1-0:0.0.0/2"
    assert str(parse_target("8/0-0:1.0.0/2").ref) == "8/0-0:1.0.0/2"


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MICROSTAR_PASSWORD keeps the password out of shell history."""
    monkeypatch.setenv("MICROSTAR_PASSWORD", "2222222222")
    args = build_parser().parse_args(["test", "--host", "127.0.0.1", "--client-sap", "1"])
    settings = settings_from(args)
    assert settings.password == "2222222222"
    assert settings.endpoint == "socket://127.0.0.1:3333"
    args = build_parser().parse_args(
        ["test", "--host", "h", "--address-size", "4", "--server-physical", "1234"]
    )
    assert settings_from(args).server.encode() == bytes.fromhex("00 02 12 A5")


async def test_test_and_read_commands_against_a_meter(
    simulator: SimulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`test` prints serial and negotiated values; `read` prints the scaled voltage in V; trace
    is masked."""
    monkeypatch.setenv("MICROSTAR_PASSWORD", "0123456789")
    sim = await start(simulator, profile=SINGLE_PHASE, clients=(ClientAccess(1, "0123456789"),))
    common = ["--host", sim.host, "--port", str(sim.port), "--client-sap", "1"]
    out = io.StringIO()
    await cmd_test(build_parser().parse_args(["test", *common, "--trace"]), out)
    assert "serial number     21061234" in out.getvalue()
    assert "server max PDU    512" in out.getvalue()
    assert "AC 0C 80 0A ** **" in out.getvalue()
    assert "30 31 32 33 34" not in out.getvalue()
    out = io.StringIO()
    args = build_parser().parse_args(["read", *common, "1-1:32.7.0", "1-1:52.7.0"])
    await cmd_read(args, out)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(f"{_volts(sim)} V")
    assert "object undefined" in lines[1]


def _volts(sim: Simulator) -> Decimal:
    """The simulated meter's voltage L1, scaled."""
    raw = value_of(sim, VOLTAGE)
    assert isinstance(raw, int)
    return ScalerUnit.from_value(value_of(sim, VOLTAGE_SCALER)).apply(raw)


async def test_follow_polls_until_cancelled(simulator: SimulatorFactory) -> None:
    """`follow` keeps polling (one session each) until interrupted."""
    sim = await start(simulator)
    args = build_parser().parse_args(
        [
            "follow",
            "--host",
            sim.host,
            "--port",
            str(sim.port),
            "--interval",
            "0.05",
            "1-1:32.7.0",
        ]
    )
    out = io.StringIO()
    task = asyncio.create_task(cmd_follow(args, out))
    reading = f"{_volts(sim)} V"
    async with asyncio.timeout(5):
        while out.getvalue().count(reading) < 3:  # noqa: ASYNC110 - polling output
            await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reads = [r.attribute for r in sim.record.requests() if isinstance(r, GetRequestNormal)]
    assert len(sim.record.connections) >= 3
    assert reads.count(VOLTAGE) >= 3
    assert reads.count(VOLTAGE_SCALER) == 1  # scalers do not change: read once


async def test_read_scales_a_demand_register_from_its_attribute_4(
    simulator: SimulatorFactory,
) -> None:
    """A demand register (class 5) keeps its scaler_unit in attribute 4 (3 is the last average):
    both averages print in watts, scaled by what attribute 4 holds."""
    sim = await simulator()
    demand = Obis.parse("1-1:1.4.0")
    args = build_parser().parse_args(
        ["read", "--host", sim.host, "--port", str(sim.port), "5/1-1:1.4.0/2", "5/1-1:1.4.0/3"]
    )
    targets = [parse_target(text) for text in args.obis]
    scalers: dict[AttributeRef, ScalerUnit] = {}
    async with make_client(args, io.StringIO()).session() as session:
        lines = await read_targets(session, targets, scalers)
    assert scalers == {AttributeRef(5, demand, 4): ScalerUnit(0, Unit.WATT)}
    assert re.fullmatch(r"1-1:1\.4\.0\s+5/2  \d+ W", lines[0]), lines
    assert re.fullmatch(r"1-1:1\.4\.0\s+5/3  \d+ W", lines[1]), lines
    out = io.StringIO()
    assert await cmd_read(args, out) == 0
    assert [line.endswith(" W") for line in out.getvalue().splitlines()] == [True, True]
