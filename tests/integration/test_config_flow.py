"""The config flow, driven as a user would, against the simulated gateway and meter."""

from collections.abc import Iterator
import json
import socket
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.const import (
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_CONNECTION_TYPE,
    CONF_DEVICE,
    CONF_HOST,
    CONF_OTHER_CLIENT_SAP,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONF_SERIAL_HINT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONNECTION_SERIAL,
    CONNECTION_TCP,
    DOMAIN,
)
from custom_components.microstar_dlms.dlms.hdlc import FrameKind, ServerAddress, decode_frame
from custom_components.microstar_dlms.dlms.transport import endpoint_lock
from microstar_sim import (
    Busy,
    ClientAccess,
    CorruptFcs,
    DataAccessFailure,
    MeterConfig,
    RejectAssociation,
    ResponseKind,
    Silent,
    Simulator,
)
from microstar_sim.pytest_plugin import SimulatorFactory

from .conftest import PASSWORD, SERIAL, TRANSLATIONS, entry_data, settled

pytestmark = pytest.mark.usefixtures("mock_setup_entry")


@pytest.fixture
def mock_setup_entry() -> Iterator[AsyncMock]:
    """Stop at the flow: entry setup is tested elsewhere."""
    with patch(
        "custom_components.microstar_dlms.async_setup_entry", return_value=True
    ) as mock_setup:
        yield mock_setup


def advanced(**overrides: Any) -> dict[str, Any]:
    """The advanced section as the frontend sends it (defaults, fast timeouts)."""
    return {
        CONF_SERVER_LOGICAL: 1,
        CONF_ADDRESS_SIZE: "auto",
        CONF_RESPONSE_TIMEOUT: 0.5,
        CONF_CONNECT_TIMEOUT: 2.0,
        **overrides,
    }


def other_sap(number: Any) -> dict[str, Any]:
    """Access level "other", with ``number`` typed as its client SAP under advanced options."""
    return {CONF_CLIENT_SAP: "other", CONF_ADVANCED: advanced(**{CONF_OTHER_CLIENT_SAP: number})}


def tcp_input(sim: Simulator, **overrides: Any) -> dict[str, Any]:
    """What a user types for the simulator's gateway."""
    return {
        CONF_HOST: sim.host,
        CONF_PORT: sim.port,
        CONF_CLIENT_SAP: "1",
        CONF_PASSWORD: PASSWORD,
        CONF_ADVANCED: advanced(),
        **overrides,
    }


async def start_tcp(hass: HomeAssistant) -> str:
    """Open the flow and pick the TCP gateway; return the flow id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [CONNECTION_TCP, CONNECTION_SERIAL]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": CONNECTION_TCP}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == CONNECTION_TCP
    assert result["errors"] == {}
    return result["flow_id"]


async def test_tcp_gateway(hass: HomeAssistant, sim: Simulator) -> None:
    """A meter behind a gateway is added with its serial number as unique id."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Microstar {SERIAL}"
    assert result["result"].unique_id == SERIAL
    assert result["data"] == {
        CONF_CONNECTION_TYPE: CONNECTION_TCP,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_CLIENT_SAP: 1,
        CONF_PASSWORD: PASSWORD,
        CONF_SERVER_LOGICAL: 1,
        CONF_SERVER_PHYSICAL: None,
        CONF_ADDRESS_SIZE: "1",
        CONF_RESPONSE_TIMEOUT: 0.5,
        CONF_CONNECT_TIMEOUT: 2.0,
    }
    await settled(sim)
    assert not sim.record.open_sessions
    assert not sim.record.open_connections


async def test_serial_port(hass: HomeAssistant, sim: Simulator) -> None:
    """A serial port (here a serialx socket URL, as an ESPHome proxy would be) works too."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": CONNECTION_SERIAL}
    )
    assert result["step_id"] == CONNECTION_SERIAL
    user_input = {
        CONF_DEVICE: f" {sim.endpoint} ",
        CONF_CLIENT_SAP: "16",
        CONF_ADVANCED: advanced(),
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_DEVICE] == sim.endpoint
    assert result["data"][CONF_CLIENT_SAP] == 16
    assert CONF_PASSWORD not in result["data"]
    assert CONF_HOST not in result["data"]


@pytest.mark.parametrize(
    ("meters", "typed", "size", "physical"),
    [
        pytest.param((MeterConfig(),), {}, "1", None, id="1-byte"),
        pytest.param(
            (MeterConfig(address_size=2, physical=1),), {}, "2", 1, id="2-byte-default-physical"
        ),
        pytest.param(
            (MeterConfig(serial_number="21060042", address_size=2),),
            {CONF_SERIAL_HINT: "21060042"},
            "2",
            42,
            id="2-byte-from-serial",
        ),
        pytest.param(
            (MeterConfig(address_size=4),),
            {CONF_SERIAL_HINT: "MSE-21061234"},
            "4",
            1234,
            id="4-byte-from-serial",
        ),
        pytest.param(
            (MeterConfig(address_size=4, physical=300),),
            {CONF_ADVANCED: advanced(**{CONF_SERVER_PHYSICAL: 300})},
            "4",
            300,
            id="4-byte-typed-physical",
        ),
        pytest.param(
            (MeterConfig(), MeterConfig(serial_number="21065678", address_size=4)),
            {CONF_SERIAL_HINT: "21065678"},
            "4",
            5678,
            id="named-meter-before-a-neighbour-answering-1-byte",
        ),
    ],
    indirect=["meters"],
)
async def test_address_auto_detection(
    hass: HomeAssistant,
    sim: Simulator,
    typed: dict[str, Any],
    size: str,
    physical: int | None,
) -> None:
    """Automatic address size keeps the first form the meter answers, so polls never probe."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim, **typed))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADDRESS_SIZE] == size
    assert result["data"][CONF_SERVER_PHYSICAL] == physical


@pytest.fixture
def meters(request: pytest.FixtureRequest) -> tuple[MeterConfig, ...]:
    """Meters from the test's parameters, else the field default."""
    return getattr(request, "param", (MeterConfig(),))


@pytest.mark.parametrize(
    ("meters", "advanced_input"),
    [
        pytest.param((MeterConfig(),), {CONF_ADDRESS_SIZE: "1"}, id="1"),
        pytest.param(
            (MeterConfig(address_size=2, physical=5),),
            {CONF_ADDRESS_SIZE: "2", CONF_SERVER_PHYSICAL: 5},
            id="2",
        ),
        pytest.param(
            (MeterConfig(address_size=4),),
            {CONF_ADDRESS_SIZE: "4"},
            id="4",
        ),
    ],
    indirect=["meters"],
)
async def test_explicit_address_size(
    hass: HomeAssistant, sim: Simulator, advanced_input: dict[str, Any]
) -> None:
    """A chosen address size is used as is, with no probing (4 bytes: from the serial)."""
    flow_id = await start_tcp(hass)
    typed = {CONF_SERIAL_HINT: SERIAL} if advanced_input[CONF_ADDRESS_SIZE] == "4" else {}
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **typed, **{CONF_ADVANCED: advanced(**advanced_input)})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADDRESS_SIZE] == advanced_input[CONF_ADDRESS_SIZE]
    assert len(sim.record.connections) == 1


async def test_duplicate_meter_aborts(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """Adding the same meter twice aborts."""
    mock_config_entry.add_to_hass(hass)
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({CONF_HOST: "bad host!"}, {CONF_HOST: "invalid_host"}),
        ({CONF_HOST: "x" * 300}, {CONF_HOST: "invalid_host"}),
        ({CONF_HOST: "meter\x00.local"}, {CONF_HOST: "invalid_host"}),
        ({CONF_HOST: "-bad.example"}, {CONF_HOST: "invalid_host"}),
        ({CONF_HOST: "10.0.0.999"}, {CONF_HOST: "invalid_host"}),
        ({CONF_PORT: 0}, {CONF_PORT: "invalid_port"}),
        ({CONF_PORT: 70000}, {CONF_PORT: "invalid_port"}),
        ({CONF_PORT: 33.5}, {CONF_PORT: "invalid_port"}),
        (other_sap(0), {CONF_ADVANCED: "invalid_client_sap"}),
        (other_sap(128), {CONF_ADVANCED: "invalid_client_sap"}),
        (other_sap(1.5), {CONF_ADVANCED: "invalid_client_sap"}),
        (other_sap(float("inf")), {CONF_ADVANCED: "invalid_client_sap"}),
        ({CONF_CLIENT_SAP: "other"}, {CONF_CLIENT_SAP: "other_client_sap_required"}),
        (
            {CONF_ADVANCED: advanced(**{CONF_OTHER_CLIENT_SAP: 17})},
            {CONF_ADVANCED: "other_client_sap_unused"},
        ),
        ({CONF_PASSWORD: "x" * 33}, {CONF_PASSWORD: "invalid_password"}),
        ({CONF_PASSWORD: "pass\nword"}, {CONF_PASSWORD: "invalid_password"}),
        ({CONF_PASSWORD: "contraseña"}, {CONF_PASSWORD: "invalid_password"}),
        ({CONF_PASSWORD: ""}, {CONF_PASSWORD: "password_required"}),
        (
            {CONF_ADVANCED: advanced(**{CONF_SERVER_LOGICAL: 128, CONF_ADDRESS_SIZE: "1"})},
            {CONF_ADVANCED: "invalid_logical_address"},
        ),
        (
            {CONF_ADVANCED: advanced(**{CONF_SERVER_PHYSICAL: 200, CONF_ADDRESS_SIZE: "2"})},
            {CONF_ADVANCED: "invalid_physical_address"},
        ),
        (
            {
                CONF_SERIAL_HINT: "21061234",
                CONF_ADVANCED: advanced(**{CONF_ADDRESS_SIZE: "2"}),
            },
            {CONF_ADVANCED: "invalid_physical_address"},
        ),
        (
            {CONF_ADVANCED: advanced(**{CONF_ADDRESS_SIZE: "4"})},
            {CONF_ADVANCED: "physical_required"},
        ),
        ({CONF_SERIAL_HINT: "no digits"}, {CONF_SERIAL_HINT: "invalid_serial_hint"}),
        ({CONF_SERIAL_HINT: "1234\x1b[0m"}, {CONF_SERIAL_HINT: "invalid_serial_hint"}),
        (
            {CONF_ADVANCED: advanced(**{CONF_RESPONSE_TIMEOUT: 0.1})},
            {CONF_ADVANCED: "invalid_timeout"},
        ),
        (
            {CONF_ADVANCED: advanced(**{CONF_CONNECT_TIMEOUT: 600})},
            {CONF_ADVANCED: "invalid_timeout"},
        ),
    ],
)
async def test_invalid_input_is_refused_without_io(
    hass: HomeAssistant, sim: Simulator, overrides: dict[str, Any], errors: dict[str, str]
) -> None:
    """Hostile or mistyped values get a form error and no connection is opened."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim, **overrides))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert sim.record.connections == []

    # The form keeps what was typed, never the password; a correction goes through.
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_invalid_serial_device(hass: HomeAssistant) -> None:
    """A serial port with spaces inside is refused before any I/O."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": CONNECTION_SERIAL}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_DEVICE: "/dev/tty USB0", CONF_CLIENT_SAP: "16", CONF_ADVANCED: advanced()},
    )
    assert result["errors"] == {CONF_DEVICE: "invalid_device"}


def _closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cannot_connect(hass: HomeAssistant, sim: Simulator) -> None:
    """Connection refused is reported as such."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_PORT: _closed_port()})
    )
    assert result["errors"] == {"base": "cannot_connect"}


@pytest.mark.parametrize(
    ("fault", "overrides", "errors"),
    [
        pytest.param(Busy(), {}, {"base": "gateway_busy"}, id="gateway-busy"),
        pytest.param(
            Silent(),
            {CONF_ADVANCED: advanced(**{CONF_ADDRESS_SIZE: "1"})},
            {"base": "no_answer"},
            id="silent",
        ),
        pytest.param(
            RejectAssociation(diagnostic=1),
            {},
            {"base": "association_rejected"},
            id="association-rejected",
        ),
        pytest.param(None, {CONF_PASSWORD: "wrong"}, {CONF_PASSWORD: "invalid_auth"}, id="auth"),
        pytest.param(
            CorruptFcs(on=ResponseKind.GET, count=None),
            {},
            {"base": "protocol_error"},
            id="corrupt-frames",
        ),
        pytest.param(
            DataAccessFailure(obis="1-0:0.0.0"), {}, {"base": "no_serial_number"}, id="no-serial"
        ),
    ],
)
async def test_meter_errors(
    hass: HomeAssistant,
    sim: Simulator,
    fault: Any,
    overrides: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Each way the meter or gateway fails has its own message, and the flow recovers."""
    if fault is not None:
        sim.set_fault(fault)
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim, **overrides))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    await settled(sim)
    assert not sim.record.open_connections

    sim.clear_faults()
    sim.power_cycle()
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_silent_meter_in_auto_mode(hass: HomeAssistant, sim: Simulator) -> None:
    """With automatic size, every candidate is tried before reporting no answer."""
    sim.set_fault(Silent())
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["errors"] == {"base": "no_answer"}
    await settled(sim)
    # 1-byte, 2-byte and 4-byte with physical 1: three sessions, each closed.
    assert len(sim.record.connections) == 3
    assert not sim.record.open_connections


def _frames_to(sim: Simulator, server: ServerAddress) -> list[tuple[FrameKind, float]]:
    """The frames the meters heard addressed to ``server``: kind and when (simulator time)."""
    heard = [(decode_frame(f.data), f.at) for f in sim.record.frames_to_meter()]
    return [(frame.kind, at) for frame, at in heard if frame.destination == server]


async def test_the_serial_numbers_factory_address_is_probed_once_and_briefly(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """With the serial number filled in, the field meter on the 1-byte address is reached
    after one SNRM to the factory 4-byte address (its last four digits), closed with DISC
    before the 1-byte session starts, and within less than one response timeout (issue 26:
    three SNRMs of 3 s each cost every Submit 9 s)."""
    flow_id = await start_tcp(hass)
    typed = {
        CONF_SERIAL_HINT: SERIAL,
        CONF_ADVANCED: advanced(**{CONF_RESPONSE_TIMEOUT: 3.0}),  # the form's default
    }
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim, **typed))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADDRESS_SIZE] == "1"
    await settled(sim)

    probe = _frames_to(sim, ServerAddress(1, int(SERIAL[-4:]), 4))
    assert [kind for kind, _ in probe] == [FrameKind.SNRM, FrameKind.DISC]
    (_, snrm_at), (_, disc_at) = probe
    assert disc_at - snrm_at < 3.0
    session = _frames_to(sim, ServerAddress(1))
    assert session[0][0] is FrameKind.SNRM
    assert disc_at <= session[0][1]
    assert not sim.record.open_sessions
    assert not sim.record.open_connections


async def test_the_session_that_answered_keeps_its_retries(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """Only the probe's SNRM is short: once the meter answered, a lost AARE is asked again
    as in any session, and the meter is added."""
    sim.set_fault(CorruptFcs(on=ResponseKind.AARE, count=1))
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_SERIAL_HINT: SERIAL})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert sim.record.heard().count("Aarq") == 2


def _suggested(result: dict[str, Any], name: str, within: str | None = None) -> Any:
    """The value the shown form fills field ``name`` in with (None: empty)."""
    schema = result["data_schema"].schema
    if within is not None:
        schema = next(v for k, v in schema.items() if str(k) == within).schema.schema
    key = next(k for k in schema if str(k) == name)
    return (key.description or {}).get("suggested_value")


async def test_a_wrong_password_keeps_the_form_as_typed(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """After "wrong password" the form shows what was typed, the password included, so one
    mistyped character is corrected instead of the label typed again."""
    flow_id = await start_tcp(hass)
    typed = tcp_input(sim, **{CONF_SERIAL_HINT: SERIAL, CONF_PASSWORD: "2222222223"})
    result = await hass.config_entries.flow.async_configure(flow_id, typed)
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}
    assert _suggested(result, CONF_PASSWORD) == "2222222223"
    assert _suggested(result, CONF_SERIAL_HINT) == SERIAL
    assert _suggested(result, CONF_HOST) == sim.host
    assert _suggested(result, CONF_RESPONSE_TIMEOUT, within=CONF_ADVANCED) == 0.5


async def test_reauth_keeps_the_typed_password_never_the_stored_one(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """The reauth and reconfigure forms never show the stored password; after an error they
    show the one just typed."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim, password="old-password")
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert _suggested(result, CONF_PASSWORD) is None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "still-wrong"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}
    assert _suggested(result, CONF_PASSWORD) == "still-wrong"
    hass.config_entries.flow.async_abort(result["flow_id"])

    result = await entry.start_reconfigure_flow(hass)
    assert _suggested(result, CONF_PASSWORD) is None


async def test_endpoint_busy(hass: HomeAssistant, sim: Simulator) -> None:
    """Another entry holding the gateway makes the flow say so instead of waiting forever."""
    with patch("custom_components.microstar_dlms.meter_config.LOCK_TIMEOUT", 0.1):
        flow_id = await start_tcp(hass)
        async with endpoint_lock(sim.endpoint, 1.0):
            result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["errors"] == {"base": "endpoint_busy"}


async def test_unexpected_error(hass: HomeAssistant, sim: Simulator) -> None:
    """A bug is logged and shown as unknown, not as a crash."""
    flow_id = await start_tcp(hass)
    with patch(
        "custom_components.microstar_dlms.config_flow.async_detect", side_effect=RuntimeError
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["errors"] == {"base": "unknown"}


async def test_reauth(hass: HomeAssistant, sim: Simulator) -> None:
    """A changed password is fixed from the reauth flow; the entry keeps its meter."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim, password="old-password")
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "still-wrong"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "bad\x07"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_password"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: PASSWORD}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == PASSWORD


async def test_reauth_to_public_client(hass: HomeAssistant, sim: Simulator) -> None:
    """The public client needs no password: an empty one removes the stored password."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim, client_sap=16, password="x")
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reauth_successful"
    assert CONF_PASSWORD not in entry.data


async def test_reauth_other_meter_aborts(hass: HomeAssistant, sim: Simulator) -> None:
    """Reauth against a different meter at the same address is refused."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="99999999", data=entry_data(sim))
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: PASSWORD}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"


async def test_reconfigure(
    hass: HomeAssistant, sim: Simulator, simulator: SimulatorFactory
) -> None:
    """The gateway moved: a new port, the same meter, the password kept when left empty."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    moved = await simulator()

    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], tcp_input(moved, **{CONF_PORT: 0, CONF_PASSWORD: ""})
    )
    assert result["errors"] == {CONF_PORT: "invalid_port"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], tcp_input(moved, **{CONF_PASSWORD: ""})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == moved.port
    assert entry.data[CONF_PASSWORD] == PASSWORD
    assert entry.data[CONF_ADDRESS_SIZE] == "1"


async def test_reconfigure_refuses_an_overlong_client_sap(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """A client SAP of 5000 digits is a form error in the reconfigure dialog too, no I/O."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], tcp_input(sim, **other_sap("9" * 5000))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ADVANCED: "invalid_client_sap"}
    assert sim.record.connections == []


async def test_reconfigure_other_meter_aborts(
    hass: HomeAssistant, sim: Simulator, simulator: SimulatorFactory
) -> None:
    """Reconfigure must reach the same meter; another one is refused."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    other = await simulator(
        sim.config.__class__(
            meters=(MeterConfig(serial_number="21069999"),), timing=sim.config.timing
        )
    )
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], tcp_input(other))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"
    assert entry.data[CONF_PORT] == sim.port


async def test_reconfigure_gateway_busy(hass: HomeAssistant, sim: Simulator) -> None:
    """A failed test keeps the reconfigure form open with the reason."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    sim.set_fault(Busy())
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], tcp_input(sim))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "gateway_busy"}


@pytest.mark.parametrize("meters", [(MeterConfig(serial_number=" "),)], indirect=True)
async def test_meter_with_a_blank_serial_number(hass: HomeAssistant, sim: Simulator) -> None:
    """A meter whose serial number is blank cannot be told apart from others: refused."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(sim))
    assert result["errors"] == {"base": "no_serial_number"}


async def test_serial_number_must_name_the_meter_that_answers(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """The serial typed from the label is checked: another meter's answer is not taken for it."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_SERIAL_HINT: "21069999"})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SERIAL_HINT: "serial_mismatch"}
    assert not hass.config_entries.async_entries(DOMAIN)

    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_SERIAL_HINT: f"MSE-{SERIAL}"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL


async def test_access_level_shows_the_words_of_the_label_and_takes_another(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """The access level is a choice of the label's levels, each in words in both languages and
    none a custom value (the frontend then shows the bare number once one is picked)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "tcp"})
    schema = {str(key): value for key, value in result["data_schema"].schema.items()}
    config = schema[CONF_CLIENT_SAP].config
    assert config["options"] == ["1", "16", "32", "other"]
    assert not config["custom_value"]
    key = config["translation_key"]
    for language in ("en", "es"):
        words = _translations(language)["selector"][key]["options"]
        assert set(words) == set(config["options"]), language
        assert all(len(text.split()) > 2 for text in words.values()), words

    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_CLIENT_SAP: "32", CONF_PASSWORD: "12345678"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CLIENT_SAP] == 32


@pytest.mark.parametrize(
    "meters",
    [(MeterConfig(clients=(ClientAccess(17, "1717171717"),)),)],
    indirect=True,
)
async def test_access_level_other_takes_the_installers_client_sap(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """Access level "other" asks for its number under the advanced options (opened for it);
    with it the meter is added with that client SAP."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_CLIENT_SAP: "other", CONF_PASSWORD: "1717171717"})
    )
    assert result["errors"] == {CONF_CLIENT_SAP: "other_client_sap_required"}
    assert not _advanced_collapsed(result)
    assert not sim.record.connections

    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **other_sap(17), **{CONF_PASSWORD: "1717171717"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CLIENT_SAP] == 17


def _translations(language: str) -> dict[str, Any]:
    return json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))


def _advanced_collapsed(result: dict[str, Any]) -> bool:
    section = next(v for k, v in result["data_schema"].schema.items() if str(k) == CONF_ADVANCED)
    collapsed: bool = section.options["collapsed"]
    return collapsed


async def test_advanced_options_stay_open_once_changed(hass: HomeAssistant, sim: Simulator) -> None:
    """After an error the advanced section is shown open if the user changed something in it."""
    flow_id = await start_tcp(hass)
    defaults = {CONF_SERVER_LOGICAL: 1, CONF_ADDRESS_SIZE: "auto"}
    defaults |= {CONF_RESPONSE_TIMEOUT: 3.0, CONF_CONNECT_TIMEOUT: 5.0}
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_PORT: 0, CONF_ADVANCED: defaults})
    )
    assert result["errors"] == {CONF_PORT: "invalid_port"}
    assert _advanced_collapsed(result)

    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_ADVANCED: advanced(**{CONF_ADDRESS_SIZE: "4"})})
    )
    assert result["errors"] == {CONF_ADVANCED: "physical_required"}
    assert not _advanced_collapsed(result)


async def test_reconfigure_suggests_the_meter_serial(hass: HomeAssistant, sim: Simulator) -> None:
    """Reconfigure shows the serial number the entry belongs to and the stored access level."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested[CONF_SERIAL_HINT] == SERIAL
    assert suggested[CONF_CLIENT_SAP] == "1"


@pytest.mark.parametrize(
    "meters",
    [(MeterConfig(clients=(ClientAccess(17, "1717171717"),)),)],
    indirect=True,
)
async def test_reconfigure_shows_another_client_sap_as_access_level_other(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """An entry on client SAP 17 opens its reconfigure form on access level Other with 17 under
    the advanced options, shown open; sent back as it is, the stored password is kept."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data=entry_data(sim, client_sap=17, password="1717171717"),
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert _suggested(result, CONF_CLIENT_SAP) == "other"
    assert _suggested(result, CONF_OTHER_CLIENT_SAP, within=CONF_ADVANCED) == 17
    assert not _advanced_collapsed(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], tcp_input(sim, **other_sap(17), **{CONF_PASSWORD: ""})
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_CLIENT_SAP] == 17
    assert entry.data[CONF_PASSWORD] == "1717171717"


async def test_reconfigure_to_the_public_client_drops_the_password(
    hass: HomeAssistant, sim: Simulator, hass_storage: dict[str, Any]
) -> None:
    """Going from access level 1 to the public 16 with the password left empty sends none:
    the stored password belongs to the old access level. The meter is learned again."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=entry_data(sim))
    entry.add_to_hass(hass)
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {"version": 1, "key": "x", "data": {}}
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], tcp_input(sim, **{CONF_CLIENT_SAP: "16", CONF_PASSWORD: ""})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_CLIENT_SAP] == 16
    assert CONF_PASSWORD not in entry.data
    assert f"{DOMAIN}.{entry.entry_id}" not in hass_storage


async def test_a_serial_number_needs_four_digits(hass: HomeAssistant, sim: Simulator) -> None:
    """ "4" would name every meter whose serial ends in 4: a serial needs at least four digits."""
    flow_id = await start_tcp(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(sim, **{CONF_SERIAL_HINT: "4"})
    )
    assert result["errors"] == {CONF_SERIAL_HINT: "invalid_serial_hint"}
    assert not sim.record.connections
