"""Command line of the simulator (``scripts/simulator``): build the config, print it, run."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import replace
import logging
import signal
import sys

from .config import (
    ClientAccess,
    GatewayConfig,
    MeterConfig,
    SimulatorConfig,
    TimingConfig,
)
from .faults import FAULT_NAMES, describe_fault, parse_fault
from .profiles import PROFILE_MAX_PDU, PROFILES
from .replay import replay_file
from .simulator import Simulator

_DEFAULT_METER = MeterConfig()

EPILOG = f"""\
fault SPEC is NAME[:ARG][,KEY=VALUE...], repeatable; the same syntax works on the control port:
  silent                         TCP works, the meter answers nothing until power-cycle
  busy[:TEXT]                    every client gets "Port already in use\\r\\n" and is closed
  drop-mid-response[:BYTES]      close TCP after BYTES bytes of an answer (on=get, count=1)
  corrupt-fcs                    an answer with a wrong FCS (on=get, count=1)
  noise[:HEX]                    noise bytes before an answer (on=any, count=1)
  truncate[:KEEP]                only the first KEEP bytes of an answer (on=get, count=1)
  delay[:SECONDS]                an answer comes SECONDS late (on=get, count=1)
  reject-association[:DIAG]      AARE rejected with ACSE diagnostic DIAG (default 1)
  stuck-association[:SAP]        a vanished client SAP holds the link: SNRM ignored until
                                 DISC or the inactivity timeout
  data-access-error:OBIS         GET of OBIS answers a data-access error
                                 (attribute=N, result=hardware-fault|object-undefined|..)
  energy-glitch[:OBIS]           one bad read of an energy register (mode=zero|smaller|larger)
  refuse:OBIS                    GET of OBIS refused with ExceptionResponse D8 01 02
                                 (attribute=N, answer=exception|service-error|undecodable|list)
  answer-address-size[:SIZE]     answer from the 2- or 4-byte address form (default 4)
  rnr                            a GET acknowledged with RNR, answered when polled (count=1)
  rr-first                       every GET acknowledged with RR, answered when polled
  llc[:HEX]                      answers with this LLC header (default e6e600; llc:header= none)
  no-rlre                        RLRQ never answered
  no-ua-to-disc                  DISC drops the link, never answered
  blocks-from-zero               GET datablocks numbered from 0
  fixed-invoke-id[:BYTE]         every GET answer carries this invoke id (default 0xC1)
  padding[:HEX]                  bytes after every GET answer's APDU (default 0000)
  odd-answer:REQUEST,apdu=HEX    REQUEST (aarq|get|get-next|get-list|rlrq) answered with this
                                 APDU (apdu= : not answered at all)
  odd-frame:REQUEST,frame=HEX    REQUEST (snrm|aarq|get|...) answered with these raw bytes
  on=any|ua|dm|rr|aare|get|rlre  which answers a frame fault hits; count=N|always
names: {", ".join(FAULT_NAMES)}

control port (line-based, loopback): nc 127.0.0.1 PORT, then e.g.
  fault silent | power-cycle | clear | status | record | password 1 secret | help

examples:
  scripts/simulator --port 3333 --profile microstar-3p
  scripts/simulator --port 3333 --fast --fault silent
  scripts/simulator --port 3333 --profile microstar-guide
  scripts/simulator --port 3333 --replay config_entry-microstar_dlms-01J....json
  scripts/simulator --meter serial=21065678,address-size=4,profile=microstar-1p
  scripts/simulator --port 3333 --meters 32 --turnaround 250:250   # a full RS-485 line
"""


def _client(text: str) -> ClientAccess:
    """``SAP:PASSWORD[:ro]`` or ``SAP:`` (no authentication)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0].isdigit():
        raise argparse.ArgumentTypeError(f"client {text!r}: use SAP:PASSWORD, SAP: or SAP:PW:ro")
    read_only = len(parts) == 3 and parts[2] == "ro"
    password = parts[1] or None
    return ClientAccess(int(parts[0]), password, read_only or password is None)


def _fault(text: str) -> object:
    try:
        return parse_fault(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _turnaround(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    try:
        bounds = float(low) / 1000, float(high or low) / 1000
    except ValueError:
        raise argparse.ArgumentTypeError(f"turnaround {text!r}: use MIN_MS:MAX_MS") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"turnaround {text!r}: need 0 <= MIN <= MAX")
    return bounds


_METER_KEYS = {
    "profile": ("profile", str),
    "serial": ("serial_number", str),
    "logical": ("logical", int),
    "physical": ("physical", int),
    "address-size": ("address_size", int),
    "seed": ("seed", int),
    "window": ("hdlc_window", int),
}


MAX_METERS = 32  # RS-485 unit loads on one line


def _meter_spec(text: str) -> dict[str, object]:
    changes: dict[str, object] = {}
    for part in filter(None, text.split(",")):
        key, eq, value = part.partition("=")
        if not eq or key not in _METER_KEYS:
            raise argparse.ArgumentTypeError(
                f"--meter {text!r}: use KEY=VALUE with keys {', '.join(_METER_KEYS)}"
            )
        name, convert = _METER_KEYS[key]
        try:
            changes[name] = convert(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"--meter {text!r}: {err}") from None
    return changes


def _meter_count(text: str) -> int:
    count = int(text)
    if not 1 <= count <= MAX_METERS:
        raise argparse.ArgumentTypeError(f"--meters {text}: 1 to {MAX_METERS} on one line")
    return count


def build_parser() -> argparse.ArgumentParser:
    """Every option, documented."""
    parser = argparse.ArgumentParser(
        prog="scripts/simulator",
        description=(
            "Microstar DLMS/COSEM meter(s) behind a ser2net-like raw TCP gateway, with fault "
            "injection and a loopback control port. Prints the address, client SAPs and "
            "passwords it accepts, and the control port, then runs until Ctrl-C."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gw = parser.add_argument_group("gateway")
    gw.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    gw.add_argument("--port", type=int, default=3333, help="gateway TCP port (default 3333)")
    gw.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="close a TCP client when no byte went either way for this long (default: never)",
    )
    gw.add_argument(
        "--stale-bytes",
        type=bytes.fromhex,
        default=b"",
        metavar="HEX",
        help="bytes waiting in the gateway buffer for the first client",
    )
    gw.add_argument(
        "--keep-output",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep meter output sent while no client is connected for the next client, as "
        "ser2net in front of a pty does (default; --no-keep-output: lose it)",
    )
    gw.add_argument(
        "--serial-device",
        metavar="PATH",
        help=(
            "put the meter line on a serial device instead of the gateway model, for real "
            "gateway software (ser2net) or a local serial client: an existing pty end (socat "
            "pty,raw,echo=0,link=A pty,raw,echo=0,link=B: the simulator on A, clients on B) or "
            "a new path the simulator links to a pty of its own; --port is then unused"
        ),
    )
    gw.add_argument(
        "--control-port",
        type=int,
        default=0,
        metavar="PORT",
        help="line-based control port on the listen address (default: ephemeral; -1: none)",
    )
    meter = parser.add_argument_group("meter (the first meter; --meter adds more)")
    meter.add_argument(
        "--replay",
        metavar="FILE",
        help=(
            "play the meter a diagnostics file from Home Assistant describes: its address, "
            "client SAP (any password: the file masks it; and the public client 16), link "
            "parameters, objects with their scalers, and the values and answers of its last "
            "session; objects it did not list are undefined. The other meter options are "
            "ignored; one meter only"
        ),
    )
    meter.add_argument(
        "--profile",
        choices=PROFILES,
        default=_DEFAULT_METER.profile,
        help=(
            "object set: three-phase, single-phase (phase B/C answer object-undefined), or "
            "microstar-guide (every object of the vendor's guide: 3 channels, max PDU 6400)"
        ),
    )
    meter.add_argument("--serial", default=_DEFAULT_METER.serial_number, help="serial number")
    meter.add_argument("--logical", type=int, default=1, help="HDLC logical address (1)")
    meter.add_argument(
        "--physical",
        type=int,
        help="HDLC physical address (default for 2/4-byte addressing: last 4 serial digits)",
    )
    meter.add_argument(
        "--address-size",
        type=int,
        choices=(1, 2, 4),
        default=1,
        help="server address bytes the meter answers to (default 1, as the field meter)",
    )
    meter.add_argument(
        "--client",
        type=_client,
        action="append",
        metavar="SAP:PASSWORD",
        help=(
            "accepted client SAP with its LLS password; SAP: for no authentication; "
            "append :ro for read-only; repeatable (default: 16:, 1:2222222222, 32:12345678)"
        ),
    )
    meter.add_argument(
        "--grant-multiple-references",
        action="store_true",
        help="grant GET-with-list (the field meter grants 00 30 1D, without it)",
    )
    meter.add_argument(
        "--inactivity-timeout",
        type=float,
        default=_DEFAULT_METER.inactivity_timeout,
        metavar="SECONDS",
        help="silence that drops association and link (default 180)",
    )
    meter.add_argument(
        "--max-info", type=int, default=128, help="HDLC max information field length (128)"
    )
    meter.add_argument(
        "--max-pdu", type=int, help="server max PDU size (512; the guide profile 6400)"
    )
    meter.add_argument(
        "--snrm-when-connected",
        choices=("accept", "ignore"),
        default="accept",
        help="answer SNRM on an open link with UA (accept) or stay silent until DISC (ignore)",
    )
    meter.add_argument(
        "--utc-offset", type=int, default=0, metavar="MINUTES", help="meter local time offset"
    )
    meter.add_argument(
        "--meter",
        type=_meter_spec,
        action="append",
        default=[],
        metavar="KEY=VALUE,...",
        help=(
            "another meter on the same line, e.g. serial=21065678,address-size=4,"
            "profile=microstar-1p (keys: profile, serial, logical, physical, address-size, seed)"
        ),
    )
    parser.add_argument(
        "--meters",
        type=_meter_count,
        default=1,
        metavar="N",
        help=(
            "N meters on the line in all (1-32, the RS-485 unit-load limit): the first as "
            "configured, the others copies with the next serial numbers and 4-byte addresses "
            "(physical: their serial's last four digits); --meter adds more"
        ),
    )
    line = parser.add_argument_group("line timing")
    line.add_argument("--baudrate", type=int, default=9600, help="serial speed (9600)")
    line.add_argument(
        "--turnaround",
        type=_turnaround,
        default=(0.030, 0.250),
        metavar="MIN_MS:MAX_MS",
        help="meter turnaround range in ms (default 30:250)",
    )
    line.add_argument("--fast", action="store_true", help="no line or turnaround delays")
    run = parser.add_argument_group("faults and output")
    run.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="switch a fault on at start (repeatable; see below)",
    )
    run.add_argument("--seed", type=int, default=1, help="random seed of values and timing")
    run.add_argument("-v", "--verbose", action="store_true", help="log every frame")
    return parser


def _copies(first: MeterConfig, count: int) -> list[MeterConfig]:
    """Meters like ``first`` with the next serial numbers, told apart by 4-byte addresses."""
    width = len(first.serial_number)
    return [
        replace(
            first,
            serial_number=f"{int(first.serial_number) + n:0{width}d}",
            address_size=4,
            physical=None,
            seed=first.seed + 100 + n,
        )
        for n in range(1, count + 1)
    ]


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator config the arguments describe."""
    if args.replay:
        if args.meters > 1 or args.meter:
            raise ValueError("--replay plays one meter: no --meters or --meter with it")
        first = replay_file(args.replay)
    else:
        first = _first_meter(args)
    meters = [first, *_copies(first, args.meters - 1)]
    for index, changes in enumerate(args.meter, start=len(meters) + 1):
        changes.setdefault("seed", first.seed + index)
        meters.append(replace(first, **changes))
    return SimulatorConfig(
        meters=tuple(meters),
        gateway=GatewayConfig(
            host=args.host,
            port=args.port,
            idle_timeout=args.idle_timeout,
            stale_bytes=args.stale_bytes,
            keep_output_while_disconnected=args.keep_output,
        ),
        timing=TimingConfig(
            baudrate=args.baudrate,
            turnaround_min=args.turnaround[0],
            turnaround_max=args.turnaround[1],
            fast=args.fast,
        ),
        faults=tuple(args.fault),
        control_port=None if args.control_port < 0 else args.control_port,
        seed=args.seed,
        serial_device=args.serial_device,
    )


def _first_meter(args: argparse.Namespace) -> MeterConfig:
    """The first meter as the meter options describe it."""
    return MeterConfig(
        profile=args.profile,
        serial_number=args.serial,
        logical=args.logical,
        physical=args.physical,
        address_size=args.address_size,
        clients=tuple(args.client) if args.client else _DEFAULT_METER.clients,
        grant_multiple_references=args.grant_multiple_references,
        inactivity_timeout=args.inactivity_timeout,
        max_info_length=args.max_info,
        max_pdu_size=args.max_pdu or PROFILE_MAX_PDU.get(args.profile, 512),
        snrm_when_connected=args.snrm_when_connected,
        utc_offset_minutes=args.utc_offset,
    )


async def run(config: SimulatorConfig) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Simulator(config) as sim:
        timing = config.timing
        pace = (
            "fast (no line delays)"
            if timing.fast
            else f"{timing.baudrate} baud, turnaround "
            f"{timing.turnaround_min * 1000:g}-{timing.turnaround_max * 1000:g} ms"
        )
        where = "serial device" if config.serial_device else "gateway"
        print(f"Microstar simulator: {where} on {sim.endpoint} ({pace})")
        for line in sim.describe():
            print(line)
        if sim.control_port is not None:
            print(
                f"control port: {sim.host}:{sim.control_port} "
                f"(nc {sim.host} {sim.control_port}, then 'help')"
            )
        if config.faults:
            print("faults:", ", ".join(describe_fault(f) for f in config.faults))
        print("Ctrl-C stops.", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        config = build_config(args)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(config))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
