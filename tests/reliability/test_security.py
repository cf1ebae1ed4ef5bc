"""Security review items as tests.

1. The meter password never appears in DEBUG logs, frame traces, diagnostics, flow forms or
   exception messages — in clear, as hex in any case or spacing, or in part.
2. Hostile config-flow input (very long strings, control characters, out-of-range ports, SAPs,
   addresses and timeouts) is refused with a form error, before any I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
import copy
import json
import logging
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from hypothesis import given, strategies as st
import pytest

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.diagnostics import async_get_config_entry_diagnostics
from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    ConnectionSettings,
    MeterClient,
    Obis,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.apdu import Aarq, InitiateRequest, Mechanism, add_llc
from custom_components.microstar_dlms.dlms.errors import ClientError, DlmsError
from custom_components.microstar_dlms.dlms.hdlc import HdlcParameters, decode_frame
from custom_components.microstar_dlms.dlms.hdlc_link import HdlcLink
from custom_components.microstar_dlms.dlms.trace import MASK, aarq_password_span, mask_frame
from custom_components.microstar_dlms.meter_config import MeterConfig as EntryMeterConfig
from microstar_sim import (
    ClientAccess,
    CorruptFcs,
    DropMidResponse,
    MeterConfig,
    ResponseKind,
    Simulator,
    TruncateFrame,
)

from .conftest import config_entry, fuzz_settings
from .proxy import EchoProxy, corrupt_fcs

# Distinctive, with a flag byte (0x7E '~') and characters a naive filter would mangle.
SECRET = "Qz7~K#p!X9vR"
WRONG = "Wq4~m%Lz8&Tj"
SAMPLE = AttributeRef(3, Obis.parse("1-1:1.8.0"), 2)


def secret_forms(secret: str, window: int = 4) -> set[str]:
    """The secret and every ``window``-byte piece of it, in clear and as hex in the usual
    spellings (plain, spaced, upper and lower case), plus base64."""
    raw = secret.encode()
    forms = {secret, base64.b64encode(raw).decode()}
    pieces = {raw[i : i + window] for i in range(len(raw) - window + 1)} | {raw}
    for piece in pieces:
        forms.add(piece.decode())
        for text in (piece.hex(), piece.hex(" ")):
            forms.update({text, text.upper()})
    return forms


def leaks(text: str, *secrets: str) -> list[str]:
    """The forms of any secret found in ``text``."""
    return sorted(form for secret in secrets for form in secret_forms(secret) if form in text)


def exception_texts(err: BaseException | None) -> Iterator[str]:
    """str and repr of an exception and everything it was raised from."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield str(err)
        yield repr(err)
        yield repr(getattr(err, "args", ()))
        yield repr(getattr(err, "translation_placeholders", None))
        err = err.__cause__ or err.__context__


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged outside the simulator (which stands in for the meter and the wire)."""
    handler_format = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in caplog.records:
        if record.name.startswith("microstar_sim"):
            continue
        lines.append(handler_format.format(record))
    return "\n".join(lines)


# -- traces: the core masks the password in every frame, however it is segmented ---------------


@fuzz_settings(ci=1_000, nightly=20_000)
@given(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=32),
    st.integers(8, 160),
)
def test_aarq_trace_masks_the_password_in_every_segment(password: str, max_info: int) -> None:
    """The AARQ as the client sends it, cut into segments of ``max_info`` bytes: every byte of
    the password is shown as ``**`` in the trace of whichever segment carries it."""
    secret = password.encode()
    aarq = add_llc(Aarq(Mechanism.LOW, secret, InitiateRequest()).encode())
    link = HdlcLink(ServerAddress(1), 1)
    link.connect()
    link.parameters = HdlcParameters(max_info_tx=max_info, max_info_rx=max_info)
    link.state = type(link.state).CONNECTED
    frames = [link.send(aarq)]
    while link._outgoing:
        frames.append(link._send_segment(link._outgoing.pop(0), segmented=bool(link._outgoing)))
    info_tokens: list[str] = []
    for wire in frames:
        frame = decode_frame(wire)
        tokens = mask_frame(wire, secret)[0].split(" ")
        start = len(wire) - 3 - len(frame.information)
        info_tokens += tokens[start : start + len(frame.information)]
    span = aarq_password_span(aarq)
    assert span is not None
    shown = info_tokens[span[0] : span[1]]
    assert shown == [MASK] * len(secret), f"password bytes shown: {shown}"


# -- the core client: DEBUG logs and exceptions, every way a session can fail --------------------


@pytest.fixture
def secret_meter() -> tuple[MeterConfig, ...]:
    """A meter whose client-1 password is SECRET; small HDLC frames cut the AARQ in pieces."""
    return (
        MeterConfig(
            clients=(ClientAccess(16, None, read_only=True), ClientAccess(1, SECRET)),
            max_info_length=32,
        ),
    )


@pytest.fixture
def meters(secret_meter: tuple[MeterConfig, ...]) -> tuple[MeterConfig, ...]:
    """Every simulated meter in this module has the distinctive password."""
    return secret_meter


def _settings(port: int, password: str, client_sap: int = 1) -> ConnectionSettings:
    return ConnectionSettings(
        endpoint=f"socket://127.0.0.1:{port}",
        client_sap=client_sap,
        password=password,
        response_timeout=0.2,
        connect_timeout=1.0,
        lock_timeout=2.0,
    )


async def test_core_sessions_never_show_the_password(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Good and failing sessions, right and wrong passwords, line faults around the AARQ:
    the password is in no DEBUG log line, trace record or exception."""
    caplog.set_level(logging.DEBUG)
    records: list[Any] = []
    errors: list[BaseException] = []
    faults = [
        None,
        CorruptFcs(on=ResponseKind.AARE),
        TruncateFrame(keep=9, on=ResponseKind.AARE),
        DropMidResponse(after_bytes=12, on=ResponseKind.AARE),
        CorruptFcs(on=ResponseKind.AARE, count=None),
    ]
    for password in (SECRET, WRONG):
        for fault in faults:
            sim.clear_faults()
            if fault is not None:
                sim.set_fault(fault)
            client = MeterClient(_settings(sim.port, password), trace=records.append)
            try:
                async with client.session() as session:
                    await session.get(SAMPLE)
            except DlmsError as err:
                errors.append(err)
            await sim.settle()
    assert errors, "no failing session was exercised"
    assert any("AuthenticationFailed" in type(err).__name__ for err in errors)
    found = leaks(logged_text(caplog), SECRET, WRONG)
    assert not found, f"password in DEBUG logs: {found}"
    found = leaks("\n".join(str(record) for record in records), SECRET, WRONG)
    assert not found, f"password in trace records: {found}"
    found = leaks("\n".join(t for err in errors for t in exception_texts(err)), SECRET, WRONG)
    assert not found, f"password in exceptions: {found}"


def test_settings_and_config_reprs_hide_the_password() -> None:
    """Objects that hold the password do not show it when printed or logged."""
    settings = _settings(3333, SECRET)
    config = EntryMeterConfig(connection_type="tcp", host="10.0.0.5", port=3333, password=SECRET)
    aarq = Aarq(Mechanism.LOW, SECRET.encode(), InitiateRequest())
    for shown in (settings, config, aarq):
        assert not leaks(repr(shown), SECRET), repr(shown)
        assert not leaks(str(shown), SECRET), str(shown)
    assert not leaks(repr(config.settings(ServerAddress(1))), SECRET)


@pytest.mark.parametrize(
    ("password", "path"),
    [
        pytest.param("Qz7K#p!X9vRm", "bad FCS", id="FCS error message"),
        pytest.param(SECRET, "flag in password", id="noise after a 0x7E in the password"),
    ],
)
async def test_echoed_aarq_with_a_line_error_does_not_log_the_password(
    sim: Simulator, caplog: pytest.LogCaptureFixture, password: str, path: str
) -> None:
    """RS-485 adapters without echo suppression return the client's own frames; with a line
    error on the echo, the client sees a frame with a bad FCS (and a password holding 0x7E
    splits the echo into a bad frame and noise). The DEBUG log and the trace must still not
    show the password the echoed AARQ carries."""
    caplog.set_level(logging.DEBUG)
    # Client SAP 32 (address 0x41): an echo is addressed to the meter, never taken for its
    # answer (with client 1 and server 1 both addresses are 0x03).
    sim.set_password(32, password)

    def spoil(echo: bytes) -> bytes:
        # Only the echo of the segment with the password meets the line error: other echoes
        # come back intact (and are ignored as frames for the meter), so the run is the same
        # every time.
        return corrupt_fcs(echo) if password.encode()[-6:] in echo else echo

    proxy = EchoProxy(sim.host, sim.port, spoil=spoil)
    await proxy.start()
    records: list[Any] = []
    try:
        client = MeterClient(_settings(proxy.port, password, 32), trace=records.append)
        try:
            async with client.session() as session:
                await session.get(SAMPLE)
        except ClientError:
            pass
    finally:
        await proxy.stop()
        await sim.settle()
    assert any(password.encode()[-6:] in chunk for chunk in proxy.echoed), "no AARQ echoed"
    found = leaks(logged_text(caplog), password)
    assert not found, f"{path}: password in DEBUG logs: {found}"
    found = leaks("\n".join(str(record) for record in records), password)
    assert not found, f"{path}: password in trace records: {found}"


async def test_small_frames_do_not_unmask_a_long_password(
    simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A meter that negotiates 10-byte information fields and a 32-character password (the
    longest the flow accepts): the AARQ goes out in pieces, none of them shows the password."""
    from microstar_sim import FAST, SimulatorConfig  # noqa: PLC0415

    password = "Lw3#Yq9!Zr5%Tb8&Kd2@Xn6*Hs4^Pv7~"
    meter = MeterConfig(clients=(ClientAccess(1, password),), max_info_length=10)
    sim = await simulator(SimulatorConfig(meters=(meter,), timing=FAST))
    caplog.set_level(logging.DEBUG)
    records: list[Any] = []
    client = MeterClient(_settings(sim.port, password), trace=records.append)
    async with client.session() as session:
        assert await session.get(SAMPLE)
    await sim.settle()
    found = leaks("\n".join(str(record) for record in records), password)
    assert not found, f"password in trace records: {found}"
    found = leaks(logged_text(caplog), password)
    assert not found, f"password in DEBUG logs: {found}"


# -- the integration: flow, setup, polls, reauth, diagnostics -----------------------------------


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_integration_never_shows_the_password(
    hass: HomeAssistant, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Add the meter through the flow, poll it, break the line, change the password on the
    meter, go through reauth with a wrong and then the right password: no log line,
    diagnostics dump or exception shows either password, and a form only the one just typed
    into it, in its own field (issue 26: a person corrects one mistyped character)."""
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []

    def keep(result: Any, typed: str | None = None) -> Any:
        if result["type"] in (FlowResultType.FORM, FlowResultType.MENU, FlowResultType.ABORT):
            shown.append(_shown_besides_the_typed_password(result, typed))
        return result

    result = keep(
        await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    )
    result = keep(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "tcp"})
    )
    form = {
        "host": sim.host,
        "port": sim.port,
        "client_sap": "1",
        "password": SECRET,
        "advanced": {
            "server_logical": 1,
            "address_size": "1",
            "response_timeout": 0.5,
            "connect_timeout": 2.0,
        },
    }
    # A wrong password first: the form comes back with it, in the password field only.
    result = keep(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {**form, "password": WRONG}
        ),
        typed=WRONG,
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"password": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data.coordinator

    dumps: list[str] = []
    errors: list[BaseException] = []

    async def poll() -> None:
        await coordinator.async_refresh()
        await sim.settle()
        if coordinator.last_exception is not None:
            errors.append(coordinator.last_exception)
        if entry.state is ConfigEntryState.LOADED:
            dumps.append(
                json.dumps(await async_get_config_entry_diagnostics(hass, entry), default=str)
            )

    await poll()
    for fault in (
        CorruptFcs(on=ResponseKind.AARE, count=None),
        TruncateFrame(keep=9, on=ResponseKind.AARE),
        DropMidResponse(after_bytes=12, on=ResponseKind.AARE),
    ):
        sim.set_fault(fault)
        await poll()
        sim.clear_faults()
        await poll()
    # The meter's password changes: the poll fails with an authentication error -> reauth.
    sim.set_password(1, WRONG)
    await poll()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    flow_id = flows[0]["flow_id"]
    result = keep(await hass.config_entries.flow.async_configure(flow_id))
    result = keep(
        await hass.config_entries.flow.async_configure(flow_id, {"password": SECRET}),
        typed=SECRET,
    )
    assert result["errors"] == {"password": "invalid_auth"}
    result = keep(await hass.config_entries.flow.async_configure(flow_id, {"password": WRONG}))
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data.coordinator
    await poll()

    assert len(dumps) >= 5
    assert errors
    for label, text in (
        ("DEBUG logs", logged_text(caplog)),
        ("flow forms", "\n".join(shown)),
        ("diagnostics", "\n".join(dumps)),
        ("exceptions", "\n".join(t for err in errors for t in exception_texts(err))),
    ):
        found = leaks(text, SECRET, WRONG)
        assert not found, f"password in {label}: {found}"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def _shown_besides_the_typed_password(result: Any, typed: str | None) -> str:
    """A flow result as the frontend gets it, with its password field's value left out once
    checked to be ``typed``: what the person just typed into this form, or nothing."""
    shown = dict(result)
    if (schema := shown.get("data_schema")) is not None:
        fields = {}
        for marker, value in schema.schema.items():
            key = marker
            if str(marker) == "password":
                echoed = (marker.description or {}).get("suggested_value")
                assert echoed == typed, f"the password field shows {echoed!r}"
                key = copy.copy(marker)
                key.description = None
            fields[key] = value
        shown["data_schema"] = type(schema)(fields)
    return repr(shown)


# -- hostile config-flow input: a form error, and not one byte sent -----------------------------

HOSTILE_TCP: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, changes to a valid form, field, error)
    ("host very long", {"host": "m" * 10_000}, "host", "invalid_host"),
    ("host long label", {"host": "a" * 64 + ".lan"}, "host", "invalid_host"),
    ("host NUL", {"host": "meter\x00.lan"}, "host", "invalid_host"),
    ("host CRLF", {"host": "meter.lan\r\nX-Evil: 1"}, "host", "invalid_host"),
    ("host shell", {"host": "127.0.0.1; rm -rf /"}, "host", "invalid_host"),
    ("host URL", {"host": "http://127.0.0.1/"}, "host", "invalid_host"),
    ("host with port", {"host": "127.0.0.1:3333"}, "host", "invalid_host"),
    ("host fullwidth", {"host": "\uff4d\uff45\uff54\uff45\uff52.lan"}, "host", "invalid_host"),
    ("host bidi", {"host": "meter\u202e.lan"}, "host", "invalid_host"),
    ("host empty", {"host": "   "}, "host", "invalid_host"),
    ("host leading dash", {"host": "-meter.lan"}, "host", "invalid_host"),
    ("port 0", {"port": 0}, "port", "invalid_port"),
    ("port negative", {"port": -1}, "port", "invalid_port"),
    ("port 65536", {"port": 65536}, "port", "invalid_port"),
    ("port fraction", {"port": 3333.5}, "port", "invalid_port"),
    ("port huge", {"port": 1e20}, "port", "invalid_port"),
    ("port NaN", {"port": float("nan")}, "port", "invalid_port"),
    ("port infinite", {"port": float("inf")}, "port", "invalid_port"),
    ("SAP 0", {"client_sap": "0"}, "client_sap", "invalid_client_sap"),
    ("SAP 128", {"client_sap": "128"}, "client_sap", "invalid_client_sap"),
    ("SAP negative", {"client_sap": "-16"}, "client_sap", "invalid_client_sap"),
    ("SAP fraction", {"client_sap": "1.5"}, "client_sap", "invalid_client_sap"),
    ("SAP text", {"client_sap": "16; DROP"}, "client_sap", "invalid_client_sap"),
    ("SAP number", {"client_sap": 16}, "client_sap", "invalid_client_sap"),
    ("serial path", {"serial_hint": "../../etc/passwd"}, "serial_hint", "invalid_serial_hint"),
    ("serial 33", {"serial_hint": "1" * 33}, "serial_hint", "invalid_serial_hint"),
    ("serial NUL", {"serial_hint": "2106\x001234"}, "serial_hint", "invalid_serial_hint"),
    ("serial no digit", {"serial_hint": "ABCDEF"}, "serial_hint", "invalid_serial_hint"),
    ("password 33", {"password": "p" * 33}, "password", "invalid_password"),
    ("password 10k", {"password": "p" * 10_000}, "password", "invalid_password"),
    ("password NUL", {"password": "2222\x002222"}, "password", "invalid_password"),
    ("password newline", {"password": "2222\n2222"}, "password", "invalid_password"),
    ("password DEL", {"password": "2222\x7f2222"}, "password", "invalid_password"),
    ("password non-ASCII", {"password": "pässwörd"}, "password", "invalid_password"),
    ("password bidi", {"password": "\u202e22222222"}, "password", "invalid_password"),
    ("password missing", {"password": ""}, "password", "password_required"),
]
LOGICAL = "invalid_logical_address"
PHYSICAL = "invalid_physical_address"
HOSTILE_ADVANCED: list[tuple[str, dict[str, Any], str]] = [
    # (case, changes to the advanced section, error on the section)
    ("logical 0", {"server_logical": 0}, LOGICAL),
    ("logical 128 one byte", {"server_logical": 128, "address_size": "1"}, LOGICAL),
    ("logical 2^14", {"server_logical": 2**14, "address_size": "4", "server_physical": 1}, LOGICAL),
    ("physical negative", {"server_physical": -1, "address_size": "4"}, PHYSICAL),
    ("physical 2^14", {"server_physical": 0x4000, "address_size": "4"}, PHYSICAL),
    ("physical 128 two bytes", {"server_physical": 128, "address_size": "2"}, PHYSICAL),
    ("size 3", {"address_size": "3"}, "invalid_address_size"),
    ("size injection", {"address_size": "auto'; DROP TABLE"}, "invalid_address_size"),
    ("timeout 0", {"response_timeout": 0}, "invalid_timeout"),
    ("timeout negative", {"response_timeout": -3}, "invalid_timeout"),
    ("timeout huge", {"response_timeout": 1e9}, "invalid_timeout"),
    ("timeout NaN", {"response_timeout": float("nan")}, "invalid_timeout"),
    ("timeout infinite", {"connect_timeout": float("inf")}, "invalid_timeout"),
    ("connect 1000", {"connect_timeout": 1000}, "invalid_timeout"),
]  # fmt: skip
HOSTILE_SERIAL: list[tuple[str, str]] = [
    ("device very long", "/dev/" + "x" * 10_000),
    ("device NUL", "/dev/ttyUSB0\x00"),
    ("device newline", "/dev/ttyUSB0\n/dev/ttyS0"),
    ("device spaces", "/dev/tty USB0"),
    ("device empty", "  "),
    ("device bidi", "/dev/tty\u202eUSB0"),
]


@pytest.fixture
def no_io() -> Iterator[AsyncMock]:
    """A tripwire on every way the integration opens a stream."""
    tripwire = AsyncMock(side_effect=AssertionError("the flow opened a connection"))
    with (
        patch("custom_components.microstar_dlms.dlms.client.open_stream", tripwire),
        patch("serialx.open_serial_connection", tripwire),
    ):
        yield tripwire


def _valid_tcp_form(sim: Simulator) -> dict[str, Any]:
    return {
        "host": sim.host,
        "port": sim.port,
        "client_sap": "1",
        "password": SECRET,
        "advanced": {
            "server_logical": 1,
            "address_size": "auto",
            "response_timeout": 0.5,
            "connect_timeout": 2.0,
        },
    }


async def _submit(hass: HomeAssistant, step: str, user_input: dict[str, Any]) -> dict[str, str]:
    """Send the form; the errors shown (schema errors count: the frontend shows them too)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    try:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    except InvalidData as err:
        hass.config_entries.flow.async_abort(result["flow_id"])
        return {str(key): "schema: " + str(value) for key, value in err.schema_errors.items()}
    assert result["type"] is FlowResultType.FORM, f"hostile input accepted: {result}"
    hass.config_entries.flow.async_abort(result["flow_id"])
    return dict(result["errors"] or {})


def refused(errors: dict[str, str], field: str, code: str) -> bool:
    """The form shows ``code`` on ``field``, or the schema refused the field (HA shows schema
    errors of a section field at the top of the form)."""
    if errors.get(field) == code:
        return True
    return any(
        text.startswith("schema: ") and (key == field or f"'{field}" in text)
        for key, text in errors.items()
    )


@pytest.mark.usefixtures("enable_custom_integrations")
@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [pytest.param(changes, field, error, id=case) for case, changes, field, error in HOSTILE_TCP],
)
async def test_hostile_tcp_input_is_refused_before_any_io(
    hass: HomeAssistant,
    sim: Simulator,
    no_io: AsyncMock,
    changes: dict[str, Any],
    field: str,
    error: str,
) -> None:
    """One hostile field in an otherwise valid form (pointing at a live simulated meter)."""
    errors = await _submit(hass, "tcp", {**_valid_tcp_form(sim), **changes})
    assert refused(errors, field, error), errors
    no_io.assert_not_called()
    assert not sim.record.connections


@pytest.mark.usefixtures("enable_custom_integrations")
@pytest.mark.parametrize(
    ("changes", "error"),
    [pytest.param(changes, error, id=case) for case, changes, error in HOSTILE_ADVANCED],
)
async def test_hostile_advanced_input_is_refused_before_any_io(
    hass: HomeAssistant,
    sim: Simulator,
    no_io: AsyncMock,
    changes: dict[str, Any],
    error: str,
) -> None:
    """One hostile value in the advanced section of an otherwise valid form."""
    form = _valid_tcp_form(sim)
    form["advanced"] = {**form["advanced"], **changes}
    errors = await _submit(hass, "tcp", form)
    assert refused(errors, "advanced", error), errors
    no_io.assert_not_called()
    assert not sim.record.connections


@pytest.mark.usefixtures("enable_custom_integrations")
@pytest.mark.parametrize("device", [pytest.param(d, id=case) for case, d in HOSTILE_SERIAL])
async def test_hostile_serial_device_is_refused_before_any_io(
    hass: HomeAssistant, no_io: AsyncMock, device: str
) -> None:
    """A hostile serial device path."""
    form = {
        "device": device,
        "client_sap": "16",
        "advanced": {
            "server_logical": 1,
            "address_size": "auto",
            "response_timeout": 0.5,
            "connect_timeout": 2.0,
        },
    }
    errors = await _submit(hass, "serial", form)
    assert refused(errors, "device", "invalid_device"), errors
    no_io.assert_not_called()


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_hostile_reconfigure_input_is_refused_before_any_io(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """Reconfigure validates like the user step: a hostile host never reaches the network."""
    entry = config_entry(sim, password=SECRET)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await sim.settle()
    before = len(sim.record.connections)
    result = await entry.start_reconfigure_flow(hass)
    form = {**_valid_tcp_form(sim), "host": "evil\r\n.lan", "password": ""}
    tripwire = AsyncMock(side_effect=AssertionError("the flow opened a connection"))
    with patch("custom_components.microstar_dlms.dlms.client.open_stream", tripwire):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"host": "invalid_host"}
    assert not leaks(repr(result), SECRET)
    tripwire.assert_not_called()
    assert len(sim.record.connections) == before
    hass.config_entries.flow.async_abort(result["flow_id"])
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
