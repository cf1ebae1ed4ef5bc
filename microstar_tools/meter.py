"""Field tool: ``scripts/meter test | read | follow | decode`` (see ``--help``).

Built on the protocol core; Home Assistant never runs it, so it is not part of the component.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
import os
import re
import sys
from typing import TextIO

from custom_components.microstar_dlms.dlms.apdu import (
    LLC_REQUEST,
    LLC_RESPONSE,
    Aare,
    Aarq,
    Apdu,
    AttributeRef,
    Conformance,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    SetResponseNormal,
    decode_apdu,
)
from custom_components.microstar_dlms.dlms.axdr import CosemDateTime, Data, DataType
from custom_components.microstar_dlms.dlms.client import (
    ConnectionSettings,
    MeterClient,
    MeterSession,
    ReadResult,
)
from custom_components.microstar_dlms.dlms.crc import crc16_x25
from custom_components.microstar_dlms.dlms.errors import DataAccessError, DlmsError, FrameError
from custom_components.microstar_dlms.dlms.hdlc import (
    FLAG,
    Deframer,
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    Noise,
    ServerAddress,
    parse_header,
)
from custom_components.microstar_dlms.dlms.interface_classes import MeterObject
from custom_components.microstar_dlms.dlms.obis import Obis, ScalerUnit
from custom_components.microstar_dlms.dlms.trace import TraceHook, TraceRecord, mask_frame

PASSWORD_ENV = "MICROSTAR_PASSWORD"  # noqa: S105 - the variable name, not a secret
SERIAL_NUMBER = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)


# -- attribute arguments -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What ``read``/``follow`` should read: an attribute, scaled where its class says so."""

    ref: AttributeRef

    @property
    def meter_object(self) -> MeterObject:
        """The object read, which knows where its class keeps the scaler_unit."""
        return MeterObject(self.ref.obis.dotted, self.ref.class_id)

    @property
    def scaler_ref(self) -> AttributeRef | None:
        """The scaler_unit attribute that applies to this one, if any (4 for a demand register)."""
        if not self.meter_object.is_scaled(self.ref.attribute):
            return None
        return self.meter_object.scaler_unit_ref()

    @property
    def scaled(self) -> bool:
        """Whether the value read gets a scaler_unit."""
        return self.scaler_ref is not None


def parse_target(text: str) -> Target:
    """``[class/]OBIS[/attribute]``; a bare OBIS is a register (class 3) value, except the
    serial number (class 1) and the clock (class 8)."""
    parts = text.split("/")
    if len(parts) == 1:
        obis = Obis.parse(parts[0])
        class_id = {Obis(1, 0, 0, 0, 0): 1, Obis(0, 0, 1, 0, 0): 8}.get(obis, 3)
        if obis.c == 96 or (obis.c == 0 and obis.d in (0, 2)):
            class_id = 1
        return Target(AttributeRef(class_id, obis, 2))
    if len(parts) == 3:
        return Target(AttributeRef(int(parts[0]), Obis.parse(parts[1]), int(parts[2])))
    if len(parts) == 2:
        return Target(AttributeRef(int(parts[0]), Obis.parse(parts[1]), 2))
    raise DlmsError(f"not an attribute: {text!r} (use OBIS or class/OBIS/attribute)")


def format_value(value: object) -> str:
    """A readable value: text for printable octet strings, dates decoded, hex otherwise."""
    if isinstance(value, bytes):
        if len(value) == 12:
            when = CosemDateTime.decode(value).to_datetime()
            if when is not None:
                return when.isoformat()
        if value and all(32 <= b < 127 for b in value):
            return value.decode("ascii")
        return value.hex(" ").upper() or '""'
    if isinstance(value, CosemDateTime):
        return str(value.to_datetime() or value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


# -- connection ------------------------------------------------------------------------------


def settings_from(args: argparse.Namespace) -> ConnectionSettings:
    """ConnectionSettings from the command line (password also from MICROSTAR_PASSWORD)."""
    if args.serial_port:
        endpoint = args.serial_port
    elif args.endpoint:
        endpoint = args.endpoint
    elif args.host:
        endpoint = f"socket://{args.host}:{args.port}"
    else:
        raise SystemExit("give --host/--port, --serial-port or --endpoint")
    password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV)
    size = args.address_size
    if size == 1:
        server = ServerAddress(args.server_logical)
    else:
        server = ServerAddress(args.server_logical, args.server_physical or 1, size)
    return ConnectionSettings(
        endpoint=endpoint,
        client_sap=args.client_sap,
        password=password or None,
        server=server,
        baudrate=args.baudrate,
        response_timeout=args.timeout,
        connect_timeout=args.connect_timeout,
        retries=args.retries,
    )


def _tracer(out: TextIO) -> TraceHook:
    def trace(record: TraceRecord) -> None:
        print(f"  {record}", file=out)

    return trace


def make_client(args: argparse.Namespace, out: TextIO) -> MeterClient:
    """A client, tracing every frame (password masked) with ``--trace``."""
    settings = settings_from(args)
    trace = _tracer(out) if args.trace else None
    return MeterClient(settings, trace=trace)


async def cmd_test(args: argparse.Namespace, out: TextIO) -> int:
    """Open and close a session; print the serial number and what was negotiated."""
    client = make_client(args, out)
    async with client.session() as session:
        negotiated = session.negotiated
        assert negotiated is not None
        try:
            serial = format_value(await session.get(SERIAL_NUMBER))
        except DataAccessError as err:
            serial = f"unavailable ({err})"
    print(f"serial number     {serial}", file=out)
    print(f"server address    {client.settings.server}", file=out)
    print(f"client SAP        {client.settings.client_sap}", file=out)
    print(f"max info tx/rx    {negotiated.max_info_tx}/{negotiated.max_info_rx}", file=out)
    print(f"window tx/rx      {negotiated.window_tx}/{negotiated.window_rx}", file=out)
    print(f"server max PDU    {negotiated.server_max_pdu}", file=out)
    print(f"conformance       {describe_conformance(negotiated.conformance)}", file=out)
    print("session closed (RLRQ, DISC)", file=out)
    return 0


def describe_conformance(conformance: Conformance) -> str:
    """Hex and names of the granted services."""
    names = ", ".join(
        (flag.name or "").lower().replace("_", "-") for flag in Conformance if flag in conformance
    )
    return f"{conformance.to_bytes3().hex(' ').upper()} ({names})"


async def read_targets(
    session: MeterSession, targets: Sequence[Target], scalers: dict[AttributeRef, ScalerUnit]
) -> list[str]:
    """Read values (and scalers not yet known); return printable lines."""
    refs = dict.fromkeys(t.scaler_ref for t in targets)  # each object's scaler once, in order
    wanted = [ref for ref in refs if ref is not None and ref not in scalers]
    for result in await session.read_attributes(wanted):
        if result.error is None:
            with contextlib.suppress(DlmsError):  # a malformed scaler leaves values unscaled
                scalers[result.ref] = ScalerUnit.from_value(result.value)
    results = await session.read_attributes([t.ref for t in targets])
    return [_line(t, r, _scaler(t, scalers)) for t, r in zip(targets, results, strict=True)]


def _scaler(target: Target, scalers: dict[AttributeRef, ScalerUnit]) -> ScalerUnit | None:
    ref = target.scaler_ref
    return None if ref is None else scalers.get(ref)


def _line(target: Target, result: ReadResult, scaler: ScalerUnit | None) -> str:
    label = f"{target.ref.obis!s:<14} {target.ref.class_id}/{target.ref.attribute}"
    if result.error is not None:
        return f"{label}  error: {result.error}"
    value = result.value
    if scaler is not None and isinstance(value, (int, float)):
        return f"{label}  {scaler.scale(value)} {scaler.symbol or ''}".rstrip()
    return f"{label}  {format_value(value)}"


async def cmd_read(args: argparse.Namespace, out: TextIO) -> int:
    """Read the given attributes once."""
    targets = [parse_target(t) for t in args.obis]
    async with make_client(args, out).session() as session:
        lines = await read_targets(session, targets, {})
    for line in lines:
        print(line, file=out)
    return 0


async def cmd_follow(args: argparse.Namespace, out: TextIO) -> int:
    """Poll every ``--interval`` seconds until Ctrl-C, one session per poll (scalers once)."""
    targets = [parse_target(t) for t in args.obis]
    client = make_client(args, out)
    scalers: dict[AttributeRef, ScalerUnit] = {}
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            async with client.session() as session:
                lines = await read_targets(session, targets, scalers)
            print(f"--- {loop.time():.1f}", file=out)
            for line in lines:
                print(line, file=out)
        except DlmsError as err:
            print(f"--- poll failed: {type(err).__name__}: {err}", file=out)
        out.flush()
        await asyncio.sleep(max(0.0, args.interval - (loop.time() - started)))


# -- decode --------------------------------------------------------------------------------


def cmd_decode(args: argparse.Namespace, out: TextIO) -> int:
    """Explain frames pasted from a log."""
    text = " ".join(args.hex)
    cleaned = re.sub(r"(0x|[\s,:;\-\[\]])", "", text)
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        print("not hex: give the bytes as hex, e.g. 7E A0 07 03 03 93 8C 11 7E", file=out)
        return 2
    print(explain_stream(data), file=out)
    return 0


def explain_stream(data: bytes) -> str:
    """Every frame and stretch of noise in ``data``, explained."""
    lines: list[str] = []
    deframer = Deframer()
    deframer.feed(data)
    # Frames from the deframer; bad frames explained from their raw bytes.
    while True:
        pending = deframer.peek()
        try:
            event = deframer.next_event()
        except FrameError as err:
            lines.append(f"bad frame: {err}")
            start = pending.lstrip(bytes([FLAG]))
            length = int.from_bytes(start[:2], "big") & 0x7FF
            candidate = bytes([FLAG]) + start[: length + 1]
            lines.extend("  " + line for line in explain_raw_frame(candidate))
            continue
        if event is None:
            break
        if isinstance(event, Noise):
            printable = event.data.decode("ascii", "replace")
            lines.append(f"not HDLC ({len(event.data)} bytes): {printable!r}")
            if FLAG in event.data[:1] and len(event.data) > 8:
                lines.extend("  " + line for line in explain_raw_frame(event.data))
            continue
        lines.extend(explain_frame(event))
    if deframer.peek().strip(bytes([FLAG])):
        rest = deframer.clear()
        lines.append(f"incomplete frame ({len(rest)} bytes): {rest.hex(' ').upper()}")
        lines.extend("  " + line for line in explain_raw_frame(rest + bytes([FLAG])))
    return "\n".join(lines)


def explain_raw_frame(data: bytes) -> list[str]:
    """Header fields and CRC checks of a frame that failed to decode."""
    body = data[1:-1] if data[:1] == bytes([FLAG]) else data
    try:
        length, segmented, dst, src, control, header_len = parse_header(body)
    except FrameError as err:
        return [f"header unreadable: {err}"]
    lines = [
        f"length field {length} (frame has {len(body)} bytes between flags)",
        f"destination [{dst}]  source [{src}]  control 0x{control:02X}",
    ]
    if len(body) >= header_len + 2 and length > header_len + 2:
        hcs = int.from_bytes(body[header_len : header_len + 2], "little")
        expected = crc16_x25(body[:header_len])
        lines.append(_crc_line("HCS", hcs, expected))
    if len(body) >= 2:
        fcs = int.from_bytes(body[-2:], "little")
        lines.append(_crc_line("FCS", fcs, crc16_x25(body[:-2])))
    if segmented:
        lines.append("segmentation bit set")
    return lines


def _crc_line(name: str, got: int, expected: int) -> str:
    wire = got.to_bytes(2, "little").hex(" ").upper()
    if got == expected:
        return f"{name} {wire} OK"
    return f"{name} {wire} WRONG (expected {expected.to_bytes(2, 'little').hex(' ').upper()})"


def explain_frame(frame: HdlcFrame) -> list[str]:
    """HDLC fields, parameters, APDU and data of one good frame."""
    raw = frame.encode()
    hex_text, _ = mask_frame(raw)
    length = int.from_bytes(raw[1:3], "big") & 0x7FF
    lines = [
        f"frame {hex_text}",
        f"  format   0x{int.from_bytes(raw[1:3], 'big'):04X}: type 3, length {length}"
        + (", SEGMENTED (more follows)" if frame.segmented else ""),
        f"  to       [{frame.destination}]  (bytes {frame.destination.encode().hex(' ').upper()})",
        f"  from     [{frame.source}]  (bytes {frame.source.encode().hex(' ').upper()})",
        f"  control  0x{frame.control:02X}: {frame.describe().split(' to ')[0]}",
    ]
    crcs = explain_raw_frame(raw)
    lines.extend("  " + line for line in crcs if line.startswith(("HCS", "FCS")))
    if frame.kind in (FrameKind.SNRM, FrameKind.UA) and frame.information:
        try:
            params = HdlcParameters.decode(frame.information)
            lines.append(
                f"  params   max info tx {params.max_info_tx} rx {params.max_info_rx}, "
                f"window tx {params.window_tx} rx {params.window_rx} (sender's view)"
            )
        except FrameError as err:
            lines.append(f"  params   INVALID: {err}")
    elif frame.information:
        lines.extend("  " + line for line in explain_information(frame.information))
    return lines


def explain_information(info: bytes) -> list[str]:
    """LLC, APDU and data of an information field."""
    if info[:3] == LLC_REQUEST:
        direction, apdu_bytes = "LLC E6 E6 00 (request)", info[3:]
    elif info[:3] == LLC_RESPONSE:
        direction, apdu_bytes = "LLC E6 E7 00 (response)", info[3:]
    else:
        return [f"info     {len(info)} bytes without LLC header (a later segment?)"]
    lines = [f"info     {direction}"]
    try:
        apdu = decode_apdu(apdu_bytes)
    except DlmsError as err:
        return [*lines, f"apdu     undecodable: {err}"]
    return lines + ["apdu     " + line for line in describe_apdu(apdu)]


def describe_apdu(apdu: Apdu) -> list[str]:
    """One or more lines per APDU; the LLS password is never shown."""
    if isinstance(apdu, Aarq):
        password = "none" if apdu.password is None else f"{len(apdu.password)} bytes (masked)"
        return [
            f"AARQ mechanism {apdu.mechanism.name if apdu.mechanism else 'none'}, "
            f"password {password}",
            f"  proposed conformance {describe_conformance(apdu.initiate.conformance)}",
            f"  client max PDU {apdu.initiate.max_pdu_size}, DLMS version "
            f"{apdu.initiate.dlms_version}",
        ]
    if isinstance(apdu, Aare):
        if not apdu.accepted:
            return [f"AARE {apdu.describe_rejection()}"]
        assert apdu.initiate is not None
        return [
            "AARE accepted",
            f"  negotiated conformance {describe_conformance(apdu.initiate.conformance)}",
            f"  server max PDU {apdu.initiate.max_pdu_size}",
        ]
    if isinstance(apdu, GetRequestNormal):
        return [f"GET-Request-Normal invoke 0x{apdu.invoke_id_and_priority:02X} {apdu.attribute}"]
    if isinstance(apdu, GetRequestWithList):
        refs = ", ".join(str(r) for r in apdu.attributes)
        return [f"GET-Request-With-List invoke 0x{apdu.invoke_id_and_priority:02X} {refs}"]
    if isinstance(apdu, GetResponseNormal):
        return [
            f"GET-Response-Normal invoke 0x{apdu.invoke_id_and_priority:02X}",
            f"  {_describe_result(apdu.result)}",
        ]
    if isinstance(apdu, GetResponseWithList):
        return [
            f"GET-Response-With-List invoke 0x{apdu.invoke_id_and_priority:02X}",
            *(f"  {_describe_result(r)}" for r in apdu.results),
        ]
    if isinstance(apdu, GetResponseWithDatablock):
        raw = apdu.raw_data
        what = raw.name if not isinstance(raw, bytes) else f"{len(raw)} bytes of raw data"
        last = ", last" if apdu.last_block else ""
        return [f"GET-Response-With-Datablock block {apdu.block_number}{last}: {what}"]
    if isinstance(apdu, SetResponseNormal):
        return [
            f"SET-Response-Normal invoke 0x{apdu.invoke_id_and_priority:02X}",
            f"  data-access-result {(apdu.result.name or str(apdu.result)).lower()}",
        ]
    return [str(apdu) if "Response" in type(apdu).__name__ else repr(apdu)]


def _describe_result(result: Data | object) -> str:
    if isinstance(result, Data):
        return describe_data(result)
    return f"data-access-result {result}"


def describe_data(data: Data) -> str:
    """Type and value, e.g. ``structure{integer -3, enum 33}``."""
    name = data.type.name.lower().replace("_", "-")
    if isinstance(data.value, tuple):
        inner = ", ".join(describe_data(item) for item in data.value)
        return f"{name}{{{inner}}}" if data.type is DataType.STRUCTURE else f"{name}[{inner}]"
    if data.value is None:
        return name
    return f"{name} {format_value(data.value)}"


# -- entry point -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/meter",
        description="Talk to a Microstar DLMS meter (HDLC over a TCP gateway or a serial port).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument("--host", help="gateway host (raw TCP)")
    group.add_argument("--port", type=int, default=3333, help="gateway port (default 3333)")
    group.add_argument("--serial-port", help="serial device, e.g. /dev/ttyUSB0")
    group.add_argument("--endpoint", help="any serialx URL (socket://, rfc2217://, ...)")
    group.add_argument("--baudrate", type=int, default=9600)
    group.add_argument("--client-sap", type=int, default=16, help="16 public, 1/17/32 LLS")
    group.add_argument(
        "--password", help=f"LLS password (better: set {PASSWORD_ENV}, stays out of history)"
    )
    group.add_argument("--server-logical", type=int, default=1)
    group.add_argument(
        "--server-physical", type=int, help="physical address (default: last 4 serial digits)"
    )
    group.add_argument("--address-size", type=int, choices=(1, 2, 4), default=1)
    group.add_argument("--timeout", type=float, default=3.0, help="response timeout, seconds")
    group.add_argument("--connect-timeout", type=float, default=5.0)
    group.add_argument("--retries", type=int, default=2, help="HDLC retransmissions")
    group.add_argument("--trace", action="store_true", help="print every frame (password **)")

    sub.add_parser("test", parents=[connection], help="open/close a session, print serial")
    read = sub.add_parser("read", parents=[connection], help="read OBIS values with units")
    read.add_argument("obis", nargs="+", help="OBIS (1-1:32.7.0) or class/OBIS/attribute")
    follow = sub.add_parser("follow", parents=[connection], help="poll until Ctrl-C")
    follow.add_argument("obis", nargs="+")
    follow.add_argument("--interval", type=float, default=10.0, help="seconds between polls")
    decode = sub.add_parser("decode", help="explain captured frames (hex from a log)")
    decode.add_argument("hex", nargs="+", help="hex bytes, spaces allowed")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command; errors print as one line with their type."""
    args = build_parser().parse_args(argv)
    if args.command == "decode":
        return cmd_decode(args, out)
    command = {"test": cmd_test, "read": cmd_read, "follow": cmd_follow}[args.command]
    try:
        return asyncio.run(command(args, out))
    except KeyboardInterrupt:
        return 130
    except DlmsError as err:
        print(f"{type(err).__name__}: {err}", file=out)
        return 1


if __name__ == "__main__":
    sys.exit(main())
