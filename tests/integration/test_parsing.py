"""What the integration makes of odd values and odd input, without a meter or Home Assistant."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from custom_components.microstar_dlms.const import (
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_DEVICE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONNECTION_SERIAL,
    CONNECTION_TCP,
)
from custom_components.microstar_dlms.cosem import (
    ScalerUnit,
    as_datetime,
    as_number,
    as_text,
    parse_object_list,
    parse_scaler_unit,
)
from custom_components.microstar_dlms.dlms import CosemDateTime, ServerAddress
from custom_components.microstar_dlms.meter_config import MeterConfig, physical_from_serial
from custom_components.microstar_dlms.reading import meter_clock_drift
from custom_components.microstar_dlms.redact import REDACTED, plain, redact_frames, redact_text
from custom_components.microstar_dlms.user_input import validate_user_input


def test_object_list_skips_what_it_cannot_read() -> None:
    """Entries without a 6-byte logical name or a class id are left out."""
    listed = parse_object_list(
        [
            [3, 0, bytes([1, 1, 32, 7, 0, 255]), [[], []]],
            [3, 0, b"\x01\x01"],
            [3, 0],
            ["3", 0, bytes(6)],
            "garbage",
        ]
    )
    assert [(obj.key, obj.class_id) for obj in listed] == [("1.1.32.7.0.255", 3)]
    assert parse_object_list(None) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([-2, 35], ScalerUnit(-2, 35)),
        ((0, 30), ScalerUnit(0, 30)),
        ([-2], None),
        ([-2, "V"], None),
        ([300, 35], None),
        (None, None),
    ],
)
def test_scaler_unit(value: Any, expected: ScalerUnit | None) -> None:
    """Only a well-formed {scaler, unit} pair is accepted."""
    assert parse_scaler_unit(value) == expected


def test_scaling_is_exact() -> None:
    """Scalers shift decimals without float rounding; units map to Home Assistant's."""
    assert ScalerUnit(-3, 33).scale(3718) == Decimal("3.718")
    assert ScalerUnit(3, 30).scale(12) == Decimal("12000")
    assert ScalerUnit(0, 255).symbol is None
    assert ScalerUnit(0, 35).symbol == "V"  # 35 is volt (an earlier reader said Hz)


@pytest.mark.parametrize(
    ("value", "number", "text"),
    [
        (42, 42, "42"),
        (True, None, None),
        (b"MSE 0001\x00", None, "MSE 0001"),
        ("  ", None, None),
        (1.5, 1.5, None),  # a float32 register (issue 12)
        (None, None, None),
    ],
)
def test_numbers_and_text(value: Any, number: int | None, text: str | None) -> None:
    """Registers are integers; identifiers are printable text."""
    assert as_number(value) == number
    assert as_text(value) == text


def test_clock_values() -> None:
    """A date-time comes as 12 octets or decoded; anything else is no time."""
    moment = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
    encoded = CosemDateTime.from_datetime(moment)
    assert as_datetime(encoded.encode()) == moment
    assert as_datetime(encoded) == moment
    assert as_datetime(b"short") is None


@dataclass
class _Record:
    direction: str
    hex: str
    raw: bytes


def test_password_redaction() -> None:
    """The password goes, as text or hex in any case or spacing."""
    secret = "0123456789"
    spaced = "30 31 32 33 34 35 36 37 38 39"
    assert REDACTED in redact_text(f"AC 0C 80 0A {spaced} BE", secret)
    assert secret not in redact_text(f"password {secret}", secret)
    assert redact_text("nothing to hide", None) == "nothing to hide"
    frames = redact_frames(
        [
            _Record("TX", spaced.upper(), secret.encode()),
            {"hex": spaced.replace(" ", "")},
            "a bare string",
        ],
        secret,
    )
    text = repr(frames)
    assert secret not in text
    assert "3031323334" not in text.replace(" ", "")
    assert frames[2] == {"record": "a bare string"}


def test_plain_of_nothing() -> None:
    """Before a session there is nothing negotiated to show."""
    assert plain(None) is None
    assert plain(b"\x7e\xa0") == "7e a0"


def test_endpoints() -> None:
    """TCP hosts become serialx socket URLs (IPv6 in brackets); query strings never shown."""
    assert MeterConfig(connection_type=CONNECTION_TCP, host="::1", port=3333).endpoint == (
        "socket://[::1]:3333"
    )
    proxy = MeterConfig(connection_type=CONNECTION_SERIAL, device="esphome://meter?key=SECRET")
    assert proxy.display_endpoint == "esphome://meter"
    assert "SECRET" not in repr(proxy)
    assert "password" not in repr(MeterConfig(connection_type=CONNECTION_TCP, password="pw!"))


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        (
            MeterConfig(connection_type=CONNECTION_TCP, host="192.168.1.50", port=3333),
            "192.168.1.50:3333",
        ),
        (
            MeterConfig(connection_type=CONNECTION_TCP, host="gateway.local", port=4001),
            "gateway.local:4001",
        ),
        (MeterConfig(connection_type=CONNECTION_TCP, host="::1", port=3333), "[::1]:3333"),
        (MeterConfig(connection_type=CONNECTION_SERIAL, device="/dev/ttyUSB0"), "/dev/ttyUSB0"),
        (
            MeterConfig(connection_type=CONNECTION_SERIAL, device="rfc2217://gw:4000"),
            "rfc2217://gw:4000",
        ),
    ],
)
def test_messages_name_the_gateway_as_the_user_wrote_it(config: MeterConfig, shown: str) -> None:
    """Host and port as typed in the form (no ``socket://``), or the serial port as picked."""
    assert config.display_endpoint == shown


def test_address_candidates() -> None:
    """Auto-detection tries 1 byte first, but a named meter's physical address before it."""
    unnamed = MeterConfig(connection_type=CONNECTION_TCP)
    assert unnamed.address_candidates() == [
        ServerAddress(1),
        ServerAddress(1, 1, 2),
        ServerAddress(1, 1, 4),
    ]
    config = MeterConfig(connection_type=CONNECTION_TCP, serial_hint="21060042")
    assert config.address_candidates() == [
        ServerAddress(1, 42, 2),
        ServerAddress(1, 42, 4),
        ServerAddress(1),
    ]
    far = MeterConfig(connection_type=CONNECTION_TCP, server_logical=300, server_physical=17)
    assert far.address_candidates() == [ServerAddress(300, 17, 4)]
    assert physical_from_serial("MSE-21061234") == 1234
    assert physical_from_serial("none") == 0


@pytest.mark.parametrize(
    ("connection_type", "user_input", "errors"),
    [
        (
            CONNECTION_TCP,
            {CONF_HOST: None, CONF_PORT: "3333", CONF_CLIENT_SAP: 16},
            {CONF_HOST, CONF_PORT},
        ),
        (
            CONNECTION_TCP,
            {CONF_HOST: "", CONF_PORT: True, CONF_CLIENT_SAP: 16},
            {CONF_HOST, CONF_PORT},
        ),
        (CONNECTION_TCP, {CONF_HOST: "[::1]", CONF_CLIENT_SAP: 16}, set()),
        (CONNECTION_TCP, {CONF_HOST: "gw.local.", CONF_CLIENT_SAP: 16}, set()),
        (CONNECTION_TCP, {CONF_HOST: "gw", CONF_PASSWORD: 12345678}, {CONF_PASSWORD}),
        (CONNECTION_SERIAL, {CONF_DEVICE: 5, CONF_CLIENT_SAP: 16}, {CONF_DEVICE}),
        (CONNECTION_SERIAL, {CONF_DEVICE: "   ", CONF_CLIENT_SAP: 16}, {CONF_DEVICE}),
        (CONNECTION_SERIAL, {CONF_DEVICE: "/dev/" + "x" * 300, CONF_CLIENT_SAP: 16}, {CONF_DEVICE}),
        (CONNECTION_SERIAL, {CONF_DEVICE: "/dev/ttyUSB0\x00", CONF_CLIENT_SAP: 16}, {CONF_DEVICE}),
        (
            CONNECTION_SERIAL,
            {
                CONF_DEVICE: "/dev/ttyUSB0",
                CONF_CLIENT_SAP: 16,
                CONF_ADVANCED: {"server_logical": "1"},
            },
            {CONF_ADVANCED},
        ),
        (
            CONNECTION_SERIAL,
            {
                CONF_DEVICE: "/dev/ttyUSB0",
                CONF_CLIENT_SAP: 16,
                CONF_ADVANCED: {"response_timeout": "3"},
            },
            {CONF_ADVANCED},
        ),
        (
            CONNECTION_SERIAL,
            {CONF_DEVICE: "/dev/ttyUSB0", CONF_CLIENT_SAP: 16, "serial_hint": 1234},
            {"serial_hint"},
        ),
        (CONNECTION_SERIAL, {CONF_DEVICE: "/dev/ttyUSB0", CONF_CLIENT_SAP: "16"}, set()),
        (
            CONNECTION_SERIAL,
            {CONF_DEVICE: "/dev/ttyUSB0", CONF_CLIENT_SAP: "١٦"},
            {CONF_CLIENT_SAP},
        ),
    ],
)
def test_hostile_values_never_reach_the_meter(
    connection_type: str, user_input: dict[str, Any], errors: set[str]
) -> None:
    """Wrong types and control characters are form errors, never an exception or I/O."""
    config, found = validate_user_input(connection_type, user_input)
    assert set(found) == errors
    assert (config is None) == bool(errors)


@pytest.mark.parametrize("deviation", [300, -300], ids=["standard sign", "opposite sign"])
def test_clock_drift_reads_right_with_either_deviation_sign(deviation: int) -> None:
    """A meter in UTC-5 shows 10:00 local; some encode the deviation +300 (the standard),
    many -300. Both are the same instant, so the drift is 5 s, not ~36 000 s."""
    read_at = datetime(2025, 1, 15, 14, 59, 55, tzinfo=UTC)
    local = CosemDateTime.from_datetime(datetime(2025, 1, 15, 10, 0))
    clock = replace(local, deviation=deviation)
    meter_time = as_datetime(clock.encode(), near=read_at)
    assert meter_time is not None
    assert round((meter_time - read_at).total_seconds()) == 5
    assert meter_clock_drift(clock.encode(), read_at) == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([253, 35], ScalerUnit(-3, 35)),  # scaler sent as unsigned8
        ([-2, 0], ScalerUnit(-2, 255)),  # unit 0 (a power factor): no unit
    ],
    ids=["unsigned scaler", "unit 0"],
)
def test_scaler_units_odd_meters_send(value: Any, expected: ScalerUnit) -> None:
    """Scaler_units real meters send that the standard does not: each reads."""
    assert parse_scaler_unit(value) == expected


def test_float_register_value_reads() -> None:
    """A float32/float64 register value is a number, scaled exactly; NaN is no value."""
    assert as_number(229.5) == 229.5
    assert ScalerUnit(0, 35).scale(229.5) == Decimal("229.5")
    assert as_number(float("nan")) is None
