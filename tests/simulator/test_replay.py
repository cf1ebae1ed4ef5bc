"""A meter replayed from a diagnostics file: the answers its last session got, else those of a
meter of its kind; what the file does not list is undefined."""

from datetime import UTC, datetime
from typing import Any

from custom_components.microstar_dlms.dlms.apdu import (
    LLC_REQUEST,
    LLC_RESPONSE,
    AttributeRef,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithList,
    GetResult,
    split_into_blocks,
)
from custom_components.microstar_dlms.dlms.axdr import CosemDateTime, Data, DataType
from custom_components.microstar_dlms.dlms.errors import DataAccessResult
from custom_components.microstar_dlms.dlms.hdlc import (
    HdlcFrame,
    ServerAddress,
    client_address,
    i_control,
)
from custom_components.microstar_dlms.dlms.obis import Obis
from microstar_sim import FakeClock, SimulatorRecord
from microstar_sim.meter import SimulatedMeter
from microstar_sim.replay import recorded_answers, replay_meter

NOW = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
METER = ServerAddress(1)
VOLTAGE = AttributeRef(3, Obis.parse("1-1:32.7.0"), 2)
CURRENT = AttributeRef(3, Obis.parse("1-1:31.7.0"), 2)
ENERGY = AttributeRef(3, Obis.parse("1-1:1.8.0"), 2)
BILLING_END = AttributeRef(3, Obis.parse("1-0:0.1.2"), 2)
SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)


def _frame(direction: str, apdu: bytes) -> dict[str, Any]:
    """One frame as the diagnostics show it (sequence numbers do not matter to a replay)."""
    if direction == "TX":
        return _shown(
            "TX", HdlcFrame(METER, client_address(1), i_control(0, 0), LLC_REQUEST + apdu)
        )
    return _shown("RX", HdlcFrame(client_address(1), METER, i_control(0, 0), LLC_RESPONSE + apdu))


def _segments(apdu: bytes, cut: int) -> list[dict[str, Any]]:
    """An answer in two segments, cut ``cut`` bytes into its information field."""
    information = LLC_RESPONSE + apdu
    first = HdlcFrame(client_address(1), METER, i_control(0, 0), information[:cut], True)
    second = HdlcFrame(client_address(1), METER, i_control(1, 0), information[cut:])
    return [_shown("RX", first), _shown("RX", second)]


def _shown(direction: str, frame: HdlcFrame) -> dict[str, Any]:
    return {"direction": direction, "monotonic": 1.0, "hex": frame.encode().hex(" ").upper()}


def _object(ref: AttributeRef, scaler: int, unit: int, value: str | None) -> dict[str, Any]:
    return {
        "obis": ref.obis.dotted,
        "class_id": ref.class_id,
        "scaler_unit": {"scaler": scaler, "unit": unit},
        "polled": value is not None,
        "value": value,
    }


def _diagnostics(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """A report of a three-object meter (the voltage shown, the current and energy not)."""
    return {
        "entry": {"data": {"client_sap": 16, "server_logical": 1, "address_size": "1"}},
        "meter": {
            "serial": "56533332",
            "firmware": "MS-DLMS 9.99",
            "objects": [
                _object(VOLTAGE, -2, 35, "230.15"),
                _object(CURRENT, -3, 33, None),
                _object(ENERGY, 0, 30, None),
                _object(BILLING_END, 0, 255, None),
            ],
        },
        "last_session_frames": frames,
    }


def _meter(frames: list[dict[str, Any]]) -> SimulatedMeter:
    config = replay_meter(_diagnostics(frames))
    return SimulatedMeter(config, FakeClock(NOW), SimulatorRecord())


def test_a_meter_of_its_kind_answers_what_the_session_did_not_read() -> None:
    """No frames: the value last read (unscaled), else a plausible one of the unit,
    else for a time stamp a date-time; identity from the file; the rest undefined."""
    meter = _meter([])
    assert meter.read(VOLTAGE) == Data(DataType.DOUBLE_LONG_UNSIGNED, 23015)
    assert meter.read(CURRENT) == Data(DataType.DOUBLE_LONG_UNSIGNED, 5000)  # 5 A
    assert meter.read(ENERGY) == Data(DataType.DOUBLE_LONG_UNSIGNED, 1_000_000)  # 1 MWh
    stamp = meter.read(BILLING_END)
    assert isinstance(stamp, Data)
    assert isinstance(stamp.value, bytes)
    assert CosemDateTime.decode(stamp.value).to_datetime() == NOW.replace(day=1, hour=0)
    assert meter.read(AttributeRef(3, VOLTAGE.obis, 3)) == Data.structure(
        Data(DataType.INTEGER, -2), Data(DataType.ENUM, 35)
    )
    assert meter.read(SERIAL) == Data.octet_string(b"56533332")
    assert meter.read(AttributeRef(1, Obis.parse("1-0:0.2.0"), 2)) == Data.octet_string(
        b"MS-DLMS 9.99"
    )
    assert meter.read(AttributeRef(3, Obis.parse("1-1:52.7.0"), 2)) is (
        DataAccessResult.OBJECT_UNDEFINED
    )
    assert meter.read(AttributeRef(4, VOLTAGE.obis, 2)) is (
        DataAccessResult.OBJECT_CLASS_INCONSISTENT
    )
    assert set(meter.clients) == {16}


def test_the_answers_of_the_last_session_are_answered_again() -> None:
    """A value read, a refusal, a GET-with-list and a value in datablocks: each as recorded,
    before anything the file's objects say."""
    energy = Data(DataType.DOUBLE_LONG_UNSIGNED, 12_387_422)
    blocks = split_into_blocks(0xC3, energy.encode(), 3)
    frames = [
        _frame("TX", GetRequestNormal(0xC1, VOLTAGE).encode()),
        _frame("RX", GetResponseNormal(0xC1, Data(DataType.LONG_UNSIGNED, 22649)).encode()),
        _frame("TX", GetRequestWithList(0xC2, (CURRENT, SERIAL)).encode()),
        _frame(
            "RX",
            GetResponseWithList(
                0xC2, (DataAccessResult.OBJECT_UNAVAILABLE, Data.octet_string(b"56533332"))
            ).encode(),
        ),
        _frame("TX", GetRequestNormal(0xC3, ENERGY).encode()),
        _frame("RX", blocks[0].encode()),
        _frame("TX", GetRequestNext(0xC3, 1).encode()),
        *_segments(blocks[1].encode(), 7),
    ]
    answers: dict[AttributeRef, GetResult] = recorded_answers(frames)[0]
    assert answers == {
        VOLTAGE: Data(DataType.LONG_UNSIGNED, 22649),
        CURRENT: DataAccessResult.OBJECT_UNAVAILABLE,
        SERIAL: Data.octet_string(b"56533332"),
        ENERGY: energy,
    }
    meter = _meter(frames)
    assert meter.read(VOLTAGE) == Data(DataType.LONG_UNSIGNED, 22649)
    assert meter.read(CURRENT) is DataAccessResult.OBJECT_UNAVAILABLE
    assert meter.read(ENERGY) == energy


def test_the_masked_password_is_any_password() -> None:
    """The file's client SAP with a masked password takes any; the public client is there."""
    diagnostics = _diagnostics([])
    diagnostics["entry"]["data"] |= {"client_sap": 1, "password": "**REDACTED**"}
    clients = {access.client_sap: access for access in replay_meter(diagnostics).clients}
    assert clients[1].any_password
    assert not clients[1].read_only
    assert clients[16].password is None
