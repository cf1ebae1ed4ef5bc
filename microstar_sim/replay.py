"""A meter replayed from the diagnostics Home Assistant downloads (``scripts/simulator --replay``).

The file describes the meter: its address and client SAP (the entry's data), what SNRM/UA and
AARQ/AARE settled on (``negotiated``), the objects discovery found with their class and
scaler_unit and the value last read, its serial number (a stand-in) and firmware, and
the frames of its last session. The replay is that meter: at its address, granting what it
granted, with the UA it sent; the password the file masks is accepted as any password for its
client SAP; each attribute answers what the last session's frames show it answered (a value, or
a refusal), else what a meter of its class answers: the value last read, else a
plausible constant of the right type. An object the file does not list is undefined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
import json
from pathlib import Path
from typing import Any

from custom_components.microstar_dlms.dlms.apdu import (
    AttributeRef,
    Conformance,
    DatablockAssembler,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    GetResult,
    decode_apdu,
    decode_list_payload,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import CosemDateTime, Data, DataType
from custom_components.microstar_dlms.dlms.errors import (
    DataAccessError,
    DataAccessResult,
    DlmsError,
)
from custom_components.microstar_dlms.dlms.hdlc import FrameKind, decode_frame
from custom_components.microstar_dlms.dlms.obis import Obis, Unit

from .config import ClientAccess, MeterConfig
from .guide import GUIDE_TABLE, GuideRow, guide_codes
from .interface_classes import (
    AssociationLnObject,
    ClockObject,
    CosemObject,
    DataObject,
    HdlcSetupObject,
    MeterView,
    Selection,
)

REPLAY_PROFILE = "replay"
SERIAL_NUMBER = Obis.parse("1-0:0.0.0")
FIRMWARE_VERSION = Obis.parse("1-0:0.2.0")
ASSOCIATION = Obis.parse("0-0:40.0.0")
HDLC_SETUP = Obis.parse("0-0:22.0.0")
VOLTAGE_L2 = Obis.parse("1-1:52.7.0")
PUBLIC_CLIENT = 16  # every meter of the family has the public client (field notes 1)
MASKED = "**REDACTED**"  # what the file shows for the password
CLASS_DATA, CLASS_REGISTER, CLASS_EXTENDED, CLASS_DEMAND, CLASS_CLOCK = 1, 3, 4, 5, 8
ATTRIBUTES = {1: 2, 3: 3, 4: 5, 5: 9, 8: 9}  # attribute count of each class replayed
# A plausible reading of each unit, for an object whose value the file does not hold.
TYPICAL: dict[int, int] = {
    Unit.VOLT: 230,
    Unit.AMPERE: 5,
    Unit.HERTZ: 50,
    Unit.WATT: 1000,
    Unit.VAR: 300,
    Unit.VOLT_AMPERE: 1100,
    Unit.WATT_HOUR: 1_000_000,
    Unit.VAR_HOUR: 300_000,
    Unit.VOLT_AMPERE_HOUR: 1_100_000,
}
_DEFAULT = MeterConfig()
DEMAND_PERIOD = 900  # seconds: a demand register's period, when the file does not say


def load_diagnostics(path: str | Path) -> dict[str, Any]:
    """A diagnostics file as downloaded (its ``data``) or as the integration returns it."""
    content = json.loads(Path(path).read_text("utf-8"))
    if not isinstance(content, dict):
        raise ValueError(f"{path}: not a diagnostics file")  # noqa: TRY004 - the file's content
    data = content.get("data", content)
    if not isinstance(data, dict) or not isinstance(data.get("meter"), dict):
        raise ValueError(f"{path}: not the diagnostics of a Microstar DLMS meter")  # noqa: TRY004
    return data


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """One object the file lists: class, scaler_unit, the value last read."""

    obis: Obis
    class_id: int
    scaler_unit: tuple[int, int] | None
    value: str | None


@dataclass(frozen=True, slots=True, eq=False)
class Replay:
    """What the replayed meter holds beyond a profile's settings."""

    source: str
    serial: str
    objects: tuple[ObjectSpec, ...]
    answers: Mapping[AttributeRef, GetResult]
    ua_information: bytes | None
    conformance: Conformance | None
    clock_drift: int
    phases: int

    def build_objects(self, firmware: str) -> list[CosemObject]:
        """The meter's objects in object-list order: association, identity, what it listed
        (no firmware id object when ``firmware`` is empty: the file had none)."""
        serial = Data.octet_string(self.serial.encode("latin-1", errors="replace"))
        objects: list[CosemObject] = [
            AssociationLnObject(ASSOCIATION),
            DataObject(SERIAL_NUMBER, lambda v: self._answer(SERIAL_NUMBER, serial)),
        ]
        if firmware:
            version = Data.octet_string(firmware.encode("latin-1", errors="replace"))
            objects.append(
                DataObject(FIRMWARE_VERSION, lambda v: self._answer(FIRMWARE_VERSION, version))
            )
        objects.append(HdlcSetupObject(HDLC_SETUP))
        listed = {SERIAL_NUMBER, FIRMWARE_VERSION, ASSOCIATION, HDLC_SETUP}
        for spec in self.objects:
            if spec.obis in listed:
                continue
            recorded = {
                ref.attribute: result
                for ref, result in self.answers.items()
                if ref.obis == spec.obis and ref.class_id == spec.class_id
            }
            if spec.class_id == CLASS_CLOCK:
                objects.append(ReplayedClock(spec.obis, recorded, self.clock_drift))
            else:
                objects.append(ReplayedObject(spec, recorded))
        return objects

    def _answer(self, obis: Obis, default: Data) -> Data:
        """A class 1 value as the last session saw it, else ``default``."""
        answer = self.answers.get(AttributeRef(CLASS_DATA, obis, 2))
        if isinstance(answer, DataAccessResult):
            raise DataAccessError(answer)
        return answer if answer is not None else default


class ReplayedObject(CosemObject):
    """An object of the replayed meter: what its last session saw, else its class's answer."""

    def __init__(self, spec: ObjectSpec, recorded: Mapping[int, GetResult]) -> None:
        """``recorded``: the answers the last session got, by attribute."""
        super().__init__(spec.obis)
        self.class_id = spec.class_id
        self.attribute_count = ATTRIBUTES.get(spec.class_id, 1)
        self.method_count = 0
        self._spec = spec
        self._recorded = recorded

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """The recorded answer (a refusal raised), else what an object of the class answers."""
        answer = self._recorded.get(attribute)
        if isinstance(answer, DataAccessResult):
            raise DataAccessError(answer)
        if answer is not None:
            return answer
        return _class_answer(self._spec, attribute, view)


class ReplayedClock(ClockObject):
    """The meter's clock, running, as far ahead of the system clock as it was of Home
    Assistant's (the file's clock drift); its other attributes as recorded."""

    def __init__(self, obis: Obis, recorded: Mapping[int, GetResult], drift: int) -> None:
        """``drift``: seconds the meter's clock was ahead."""
        super().__init__(obis)
        self._recorded = recorded
        self._drift = timedelta(seconds=drift)

    def read_attribute(self, attribute: int, view: MeterView, selection: Selection | None) -> Data:
        """The time now (with the drift); other attributes recorded, else the class's."""
        if attribute == 2:
            return view.date_time(view.utc + self._drift)
        answer = self._recorded.get(attribute)
        if isinstance(answer, DataAccessResult):
            raise DataAccessError(answer)
        return answer if answer is not None else super().read_attribute(attribute, view, selection)


def _class_answer(spec: ObjectSpec, attribute: int, view: MeterView) -> Data:
    """What an object of its class answers for an attribute the last session did not read."""
    scaler_unit = Data.structure(
        Data(DataType.INTEGER, spec.scaler_unit[0] if spec.scaler_unit else 0),
        Data(DataType.ENUM, spec.scaler_unit[1] if spec.scaler_unit else int(Unit.COUNT)),
    )
    match spec.class_id, attribute:
        case (1 | 3 | 4, 2) | (5, 2 | 3):
            return _value(spec, view)
        case (3 | 4, 3) | (5, 4):
            return scaler_unit
        case (4 | 5, 4 | 5):
            return Data(DataType.UNSIGNED, 0)  # status
        case (4, 5) | (5, 6 | 7):
            return view.date_time(view.utc)  # capture time, start of the current period
        case (5, 8):
            return Data(DataType.DOUBLE_LONG_UNSIGNED, DEMAND_PERIOD)
        case (5, 9):
            return Data(DataType.LONG_UNSIGNED, 1)
    raise DataAccessError(DataAccessResult.OBJECT_UNDEFINED)


def _value(spec: ObjectSpec, view: MeterView) -> Data:
    """The value last read, unscaled; else a plausible one for its kind or unit."""
    scaler = spec.scaler_unit[0] if spec.scaler_unit else 0
    if spec.value is not None:
        if ":" in spec.value:  # a date-time, ISO 8601
            return view.date_time(datetime.fromisoformat(spec.value))
        try:
            return _number(Decimal(spec.value).scaleb(-scaler))
        except InvalidOperation:
            pass
    if spec.obis in TIMESTAMPS:
        month = view.local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return view.date_time(month)
    if spec.obis in TARIFFS:
        return Data(DataType.UNSIGNED, 1)
    typical = TYPICAL.get(spec.scaler_unit[1], 0) if spec.scaler_unit else 0
    return _number(Decimal(typical).scaleb(-scaler))


def _number(raw: Decimal) -> Data:
    """A raw register value in the type a meter sends it as."""
    if raw != raw.to_integral_value():
        return Data(DataType.FLOAT64, float(raw))
    value = int(raw)
    if 0 <= value <= 0xFFFFFFFF:
        return Data(DataType.DOUBLE_LONG_UNSIGNED, value)
    if -(1 << 31) <= value < 1 << 31:
        return Data(DataType.DOUBLE_LONG, value)
    return Data(DataType.LONG64, value)


def _catalogue_codes(kind: str) -> frozenset[Obis]:
    """The logical names the catalogue gives ``kind`` (read from its file, as guide.py does)."""
    with GUIDE_TABLE.open(encoding="utf-8", newline="") as table:
        rows = [row for row in csv.DictReader(table) if row["kind"] == kind]
    return frozenset(
        code
        for row in rows
        for code in guide_codes(GuideRow(row["obis"], int(row["class"]), "", ""))
    )


TIMESTAMPS = _catalogue_codes("timestamp")
TARIFFS = _catalogue_codes("tariff")


# -- the file -------------------------------------------------------------------------------


def replay_file(path: str | Path) -> MeterConfig:
    """The meter of a diagnostics file; ValueError when the file does not describe one."""
    try:
        return replay_meter(load_diagnostics(path), source=str(path))
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{path}: not the diagnostics of a Microstar DLMS meter ({err!r})"
        ) from None


def replay_meter(diagnostics: Mapping[str, Any], *, source: str = "") -> MeterConfig:
    """The simulator's meter a diagnostics file describes."""
    data = diagnostics.get("entry", {}).get("data", {})
    meter = diagnostics["meter"]
    negotiated = diagnostics.get("negotiated") or {}
    frames = diagnostics.get("last_session_frames") or []
    answers, ua_information = recorded_answers(frames)
    serial = str(meter.get("serial") or diagnostics.get("entry", {}).get("unique_id") or "")
    objects = tuple(_spec(item) for item in meter.get("objects", ()))
    replay = Replay(
        source=source,
        serial=serial,
        objects=objects,
        answers=answers,
        ua_information=ua_information,
        conformance=_conformance(negotiated.get("conformance")),
        clock_drift=_whole(meter.get("clock_drift_s"), 0),
        phases=3 if any(spec.obis == VOLTAGE_L2 for spec in objects) else 1,
    )
    offset, inverted = _clock_offset(answers, objects, diagnostics.get("polls", {}))
    size = int(data.get("address_size", 1)) if str(data.get("address_size")) != "auto" else 1
    physical = data.get("server_physical")
    return MeterConfig(
        profile=REPLAY_PROFILE,
        serial_number=serial,
        logical=int(data.get("server_logical", 1)),
        physical=None if physical is None else int(physical),
        address_size=2 if size == 2 else 4 if size == 4 else 1,
        clients=_clients(int(data.get("client_sap", PUBLIC_CLIENT)), data.get("password")),
        grant_multiple_references=bool(
            replay.conformance and Conformance.MULTIPLE_REFERENCES in replay.conformance
        ),
        max_info_length=int(negotiated.get("max_info_rx", _DEFAULT.max_info_length)),
        hdlc_window=int(negotiated.get("window_rx", _DEFAULT.hdlc_window)),
        max_pdu_size=int(negotiated.get("server_max_pdu", _DEFAULT.max_pdu_size)),
        utc_offset_minutes=offset,
        inverted_deviation=inverted,
        firmware=str(meter.get("firmware") or ""),
        replay=replay,
    )


def _whole(value: Any, default: int) -> int:
    """A whole number of the file, ``default`` where it has none (or a marker)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _spec(item: Mapping[str, Any]) -> ObjectSpec:
    """One entry of the file's objects."""
    scaler_unit = item.get("scaler_unit")
    value = item.get("value")
    return ObjectSpec(
        Obis.parse(str(item["obis"])),
        int(item["class_id"]),
        (int(scaler_unit["scaler"]), int(scaler_unit["unit"])) if scaler_unit else None,
        None if value is None else str(value),
    )


def _clients(client_sap: int, password: Any) -> tuple[ClientAccess, ...]:
    """The file's client SAP (its masked password standing for any), and the public one."""
    if password is None:
        clients = [ClientAccess(client_sap, None, read_only=True)]
    else:
        clients = [ClientAccess(client_sap, MASKED, any_password=True)]
    if client_sap != PUBLIC_CLIENT:
        clients.append(ClientAccess(PUBLIC_CLIENT, None, read_only=True))
    return tuple(clients)


def _conformance(names: Any) -> Conformance | None:
    """The granted conformance the file names (None: the file has none)."""
    if not isinstance(names, list):
        return None
    granted = Conformance(0)
    for name in names:
        if name in Conformance.__members__:
            granted |= Conformance[name]
    return granted


def _clock_offset(
    answers: Mapping[AttributeRef, GetResult],
    objects: Sequence[ObjectSpec],
    polls: Mapping[str, Any],
) -> tuple[int, bool]:
    """The meter's UTC offset in minutes, and whether it writes the deviation inverted, from
    the clock reading of the last session (judged as Home Assistant judged it: the reading
    nearer the moment of the poll)."""
    clock = next((spec for spec in objects if spec.class_id == CLASS_CLOCK), None)
    reading = None if clock is None else answers.get(AttributeRef(CLASS_CLOCK, clock.obis, 2))
    if not isinstance(reading, Data) or not isinstance(reading.value, bytes):
        return 0, False
    try:
        stamp = CosemDateTime.decode(reading.value)
    except DlmsError:
        return 0, False
    if stamp.deviation is None:
        return 0, False
    inverted = False
    try:
        when = datetime.fromisoformat(str(polls.get("last_success")))
    except ValueError:  # none, or written as a marker (tests/field)
        pass
    else:
        inverted = bool(stamp.inverted_deviation(when))
    return (stamp.deviation if inverted else -stamp.deviation), inverted


def recorded_answers(
    frames: Sequence[Mapping[str, Any]],
) -> tuple[dict[AttributeRef, GetResult], bytes | None]:
    """What each GET of the session got (a value or a data-access result), and the
    information field of the meter's UA. Frames with masked bytes (the AARQ) are skipped."""
    messages, ua_information = _messages(frames)
    answers: dict[AttributeRef, GetResult] = {}
    pending: list[AttributeRef] = []
    blocks: DatablockAssembler | None = None
    for direction, information in messages:
        try:
            apdu = decode_apdu(strip_llc(information, response=direction == "RX"))
        except DlmsError:
            continue
        if isinstance(apdu, GetRequestNormal):
            pending, blocks = [apdu.attribute], None
        elif isinstance(apdu, GetRequestWithList):
            pending, blocks = list(apdu.attributes), None
        elif isinstance(apdu, GetRequestNext):
            continue
        elif isinstance(apdu, GetResponseNormal) and len(pending) == 1:
            answers[pending[0]] = apdu.result
        elif isinstance(apdu, GetResponseWithList) and len(apdu.results) == len(pending):
            answers.update(zip(pending, apdu.results, strict=True))
        elif isinstance(apdu, GetResponseWithDatablock):
            blocks = blocks or DatablockAssembler()
            answers.update(_blocks_done(blocks, apdu, pending))
        elif direction == "TX":
            pending, blocks = [], None
    return answers, ua_information


def _blocks_done(
    blocks: DatablockAssembler, block: GetResponseWithDatablock, pending: list[AttributeRef]
) -> dict[AttributeRef, GetResult]:
    """The answers a datablock completes (none before the last)."""
    if isinstance(block.raw_data, DataAccessResult):
        return dict.fromkeys(pending, block.raw_data)
    try:
        payload = blocks.add(block)
        if payload is None:
            return {}
        if len(pending) == 1:
            return {pending[0]: Data.decode(payload)}
        results = decode_list_payload(payload)
    except DlmsError:
        return {}
    return dict(zip(pending, results, strict=True)) if len(results) == len(pending) else {}


def _messages(frames: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[str, bytes]], bytes | None]:
    """The session's messages (segments joined) with their direction, and the UA's
    information field."""
    messages: list[tuple[str, bytes]] = []
    partial: dict[str, bytes] = {}
    ua_information: bytes | None = None
    for shown in frames:
        direction = str(shown.get("direction"))
        try:
            frame = decode_frame(bytes.fromhex(str(shown.get("hex", ""))))
            kind = frame.kind
        except ValueError, DlmsError:
            continue
        if kind is FrameKind.UA and frame.information and ua_information is None:
            ua_information = frame.information
        if kind is not FrameKind.I:
            continue
        partial[direction] = partial.get(direction, b"") + frame.information
        if not frame.segmented:
            messages.append((direction, partial.pop(direction)))
    return messages, ua_information
