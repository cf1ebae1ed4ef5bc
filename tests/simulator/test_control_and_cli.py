"""The loopback control port and the command line."""

import asyncio
import json

import pytest

from custom_components.microstar_dlms.dlms import AttributeRef, Obis
from custom_components.microstar_dlms.dlms.client import ConnectionSettings, MeterClient
from custom_components.microstar_dlms.dlms.hdlc import FrameKind
from microstar_sim import FAST, Busy, FakeClock, Silent, Simulator, SimulatorConfig
from microstar_sim.cli import build_config, build_parser, main
from microstar_sim.pytest_plugin import SimulatorFactory

from .wire_client import WireClient

FIELD_SNRM = bytes.fromhex("7EA0070303938C117E")


class ControlLine:
    """One connection to the control port."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def __call__(self, command: str) -> str:
        self.writer.write(command.encode() + b"\n")
        async with asyncio.timeout(2):
            return (await self.reader.readline()).decode().strip()


async def _control(simulator: SimulatorFactory) -> tuple[Simulator, ControlLine]:
    sim = await simulator(SimulatorConfig(timing=FAST, control_port=0))
    assert sim.control_port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.control_port)
    return sim, ControlLine(reader, writer)


async def test_control_port_silences_and_power_cycles(simulator: SimulatorFactory) -> None:
    """A running demo can make the meter go silent and come back."""
    sim, control = await _control(simulator)
    try:
        assert (await control("fault silent")).startswith("ok")
        async with await WireClient.connect(sim.port) as client:
            await client.send(FIELD_SNRM)
            await client.expect_silence()
            assert await control("clear") == "ok faults cleared"
            await client.send(FIELD_SNRM)
            await client.expect_silence()
            assert await control("power-cycle") == "ok power cycled"
            assert (await client.snrm()).kind is FrameKind.UA
        status = json.loads((await control("status")).removeprefix("ok "))
        assert status["meters"][0]["silent"] is False
        assert status["meters"][0]["link"] == {"client": 1, "stuck": False}
    finally:
        control.writer.close()


async def test_control_port_switches_faults_and_reports(simulator: SimulatorFactory) -> None:
    """Faults by spec, the list of armed faults, the record, and clear errors for typos."""
    sim, control = await _control(simulator)
    try:
        assert await control("fault busy") == "ok busy:text=Port already in use\\r\\n"
        assert Busy() in sim.faults
        assert (await control("faults")).startswith("ok busy")
        assert (await control("fault melt")).startswith("error unknown fault 'melt'")
        assert (await control("dance")).startswith("error unknown command")
        assert (await control("help")).startswith("ok commands:")
        assert await control("password 1 secret") == "ok password set"
        assert sim.meter().clients[1].password == "secret"
        assert await control("stale 1337") == "ok stale bytes added"
        record = json.loads((await control("record")).removeprefix("ok "))
        assert record["busy_replies"] == 0
        assert await control("clear") == "ok faults cleared"
        assert sim.faults == []
    finally:
        control.writer.close()


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    """--help lists every option with its help text and every fault name."""
    parser = build_parser()
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for action in parser._actions:
        for option in action.option_strings:
            assert option in text
        assert action.help, action.option_strings
    for name in ("silent", "busy", "drop-mid-response", "corrupt-fcs", "noise", "truncate",
                 "delay", "reject-association", "stuck-association", "data-access-error",
                 "energy-glitch"):  # fmt: skip
        assert name in text


def test_command_line_builds_the_configuration() -> None:
    """Options map onto the simulator configuration."""
    args = build_parser().parse_args(
        [
            "--port", "3334", "--profile", "microstar-1p", "--fast", "--fault", "silent",
            "--client", "1:secret", "--client", "16:", "--address-size", "4",
            "--serial", "21069999", "--inactivity-timeout", "30", "--turnaround", "50:60",
            "--meter", "serial=21065678,profile=microstar-3p", "--control-port", "-1",
        ]
    )  # fmt: skip
    config = build_config(args)
    assert config.gateway.port == 3334
    assert config.timing.fast
    assert (config.timing.turnaround_min, config.timing.turnaround_max) == (0.05, 0.06)
    assert config.faults == (Silent(),)
    assert config.control_port is None
    first, second = config.meters
    assert first.profile == "microstar-1p"
    assert first.address.physical == 9999
    assert first.inactivity_timeout == 30
    assert [(c.client_sap, c.password, c.read_only) for c in first.clients] == [
        (1, "secret", False),
        (16, None, True),
    ]
    assert second.serial_number == "21065678"
    assert second.profile == "microstar-3p"
    assert second.address.physical == 5678


def test_a_full_line_of_meters_from_the_command_line() -> None:
    """--meters 32: the RS-485 limit on one line, each meter at its own 4-byte address."""
    args = build_parser().parse_args(["--meters", "32", "--serial", "21061001"])
    meters = build_config(args).meters
    assert len(meters) == 32
    assert len({m.address for m in meters}) == 32
    assert meters[0].address_size == 1
    assert meters[31].serial_number == "21061032"
    assert meters[31].address.physical == 1032
    assert meters[31].address.size == 4


@pytest.mark.parametrize(
    "argv",
    [["--fault", "melt"], ["--client", "x"], ["--turnaround", "9:1"], ["--meter", "colour=red"]],
)
def test_bad_options_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Mistakes stop with a usage error instead of starting a different simulator."""
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 2
    assert "error" in capsys.readouterr().err


async def _values(sim: Simulator, *codes: str) -> list[object]:
    """Attribute 2 of ``codes`` (class 3 registers) read over the gateway, as a client reads."""
    settings = ConnectionSettings(
        endpoint=sim.endpoint, client_sap=1, password="2222222222", response_timeout=0.5
    )
    async with MeterClient(settings).session() as session:
        results = await session.read_attributes(
            [AttributeRef(3, Obis.parse(code), 2) for code in codes]
        )
    return [result.value for result in results]


async def test_control_port_holds_a_meters_power_and_its_energy_counts_it(
    simulator: SimulatorFactory,
) -> None:
    """``load 3600`` holds the meter's net power: the power registers show it, the import
    energy grows by 60 Wh a minute from the moment it was set; ``load -1800`` turns it into
    export; ``load model`` gives the household back; a bad load is refused."""
    clock = FakeClock()
    sim = await simulator(SimulatorConfig(timing=FAST, control_port=0, clock=clock))
    assert sim.control_port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.control_port)
    control = ControlLine(reader, writer)
    energy = ("1-1:1.8.0", "1-1:2.8.0")
    power = ("1-1:1.7.0", "1-1:2.7.0", "1-1:21.7.0", "1-1:41.7.0", "1-1:61.7.0")
    try:
        clock.advance(30)  # the model's household, integrated up to the step
        assert await control("load 3600 meter=0") == "ok load 3600 W"
        before = await _values(sim, *energy)
        assert await _values(sim, *power) == [3600, 0, 1440, 1260, 900]  # 40/35/25 % per phase
        clock.advance(60)
        after = await _values(sim, *energy)
        assert [a - b for a, b in zip(after, before, strict=True)] == [60, 0]  # type: ignore[operator]

        assert await control("load -1800") == "ok load -1800 W"
        assert (await _values(sim, *power))[:2] == [0, 1800]
        clock.advance(60)
        exported = await _values(sim, *energy)
        assert [a - b for a, b in zip(exported, after, strict=True)] == [0, 30]  # type: ignore[operator]

        assert await control("load model") == "ok load follows the model"
        assert sim.meter().model.held is None
        assert (await control("load lots")).startswith("error")
        assert (await control("load nan")).startswith("error")
        assert (await control("load")).startswith("error usage: load W|model")
    finally:
        writer.close()
