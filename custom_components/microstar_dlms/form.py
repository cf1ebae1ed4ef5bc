"""The connection form: what it shows, and how what the user typed becomes a MeterConfig.

Values are checked here, before any I/O, and each bad one gets a translated error on its own
field. The checks stay out of the selectors on purpose: a selector's min/max (or a validator in
the schema) fails the whole step with the frontend's untranslated message instead.
"""

from collections.abc import Mapping
from dataclasses import dataclass
import ipaddress
import re
from typing import Any

from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    SerialPortSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .const import (
    ADDRESS_AUTO,
    ADDRESS_SIZES,
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_DEVICE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONF_SERIAL_HINT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONNECTION_TCP,
    DEFAULT_CLIENT_SAP,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_PORT,
    DEFAULT_RESPONSE_TIMEOUT,
    DEFAULT_SERVER_LOGICAL,
    PASSWORD_MAX_LENGTH,
    PUBLIC_CLIENT_SAP,
)
from .meter_config import (
    MAX_LOGICAL_OR_PHYSICAL,
    MAX_ONE_BYTE_PART,
    MeterConfig,
    physical_from_serial,
)

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SERIAL_HINT = re.compile(r"[A-Za-z0-9-]{1,32}")

_WHOLE = NumberSelector(NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1))
_SECONDS = NumberSelector(
    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=0.1, unit_of_measurement="s")
)
PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))

ADVANCED_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_SERVER_LOGICAL, default=DEFAULT_SERVER_LOGICAL): _WHOLE,
        probatio.Optional(CONF_SERVER_PHYSICAL): _WHOLE,
        probatio.Required(CONF_ADDRESS_SIZE, default=ADDRESS_AUTO): SelectSelector(
            SelectSelectorConfig(
                options=[ADDRESS_AUTO, *ADDRESS_SIZES],
                mode=SelectSelectorMode.DROPDOWN,
                translation_key=CONF_ADDRESS_SIZE,
            )
        ),
        probatio.Optional(CONF_SERIAL_HINT): TextSelector(),
        probatio.Required(CONF_RESPONSE_TIMEOUT, default=DEFAULT_RESPONSE_TIMEOUT): _SECONDS,
        probatio.Required(CONF_CONNECT_TIMEOUT, default=DEFAULT_CONNECT_TIMEOUT): _SECONDS,
    }
)


def connection_schema(connection_type: str) -> probatio.Schema:
    """The form of one connection type; the advanced section starts collapsed."""
    fields: dict[Any, Any] = {}
    if connection_type == CONNECTION_TCP:
        fields[probatio.Required(CONF_HOST)] = TextSelector(TextSelectorConfig(autocomplete="off"))
        fields[probatio.Required(CONF_PORT, default=DEFAULT_PORT)] = _WHOLE
    else:
        fields[probatio.Required(CONF_DEVICE)] = SerialPortSelector()
    fields[probatio.Required(CONF_CLIENT_SAP, default=DEFAULT_CLIENT_SAP)] = _WHOLE
    fields[probatio.Optional(CONF_PASSWORD)] = PASSWORD_SELECTOR
    fields[probatio.Required(CONF_ADVANCED)] = section(ADVANCED_SCHEMA, {"collapsed": True})
    return probatio.Schema(fields)


def suggested_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Form values from config entry data (never the password)."""
    advanced = {
        key: data[key]
        for key in (
            CONF_SERVER_LOGICAL,
            CONF_SERVER_PHYSICAL,
            CONF_ADDRESS_SIZE,
            CONF_RESPONSE_TIMEOUT,
            CONF_CONNECT_TIMEOUT,
        )
        if data.get(key) is not None
    }
    values = {
        key: data[key]
        for key in (CONF_HOST, CONF_PORT, CONF_DEVICE, CONF_CLIENT_SAP)
        if data.get(key) is not None
    }
    return {**values, CONF_ADVANCED: advanced}


def without_password(user_input: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the user typed, to show again; the password is never echoed back."""
    if user_input is None:
        return None
    return {key: value for key, value in user_input.items() if key != CONF_PASSWORD}


@dataclass(frozen=True, slots=True)
class _Advanced:
    """The advanced section, checked."""

    address_size: str
    server_logical: int
    server_physical: int | None
    serial_hint: str | None
    response_timeout: float
    connect_timeout: float


def validate_user_input(
    connection_type: str, user_input: Mapping[str, Any]
) -> tuple[MeterConfig | None, dict[str, str]]:
    """Check what the user typed before any I/O; return the config or form errors."""
    errors: dict[str, str] = {}
    host, port, device = _where(connection_type, user_input, errors)
    client_sap = _whole_number(user_input.get(CONF_CLIENT_SAP, DEFAULT_CLIENT_SAP), 1, 127)
    if client_sap is None:
        errors[CONF_CLIENT_SAP] = "invalid_client_sap"
    password = user_input.get(CONF_PASSWORD) or None
    if client_sap is not None and (error := password_error(password, client_sap)):
        errors[CONF_PASSWORD] = error
    advanced = _advanced(user_input.get(CONF_ADVANCED) or {}, errors)
    if errors or client_sap is None or advanced is None:
        return None, errors
    config = MeterConfig(
        connection_type=connection_type,
        host=host,
        port=port,
        device=device,
        client_sap=client_sap,
        password=password,
        server_logical=advanced.server_logical,
        server_physical=advanced.server_physical,
        address_size=advanced.address_size,
        serial_hint=advanced.serial_hint,
        response_timeout=advanced.response_timeout,
        connect_timeout=advanced.connect_timeout,
    )
    return config, {}


def _where(
    connection_type: str, user_input: Mapping[str, Any], errors: dict[str, str]
) -> tuple[str | None, int | None, str | None]:
    """Host and port of a gateway, or the serial device."""
    if connection_type != CONNECTION_TCP:
        if (device := _clean_device(user_input.get(CONF_DEVICE))) is None:
            errors[CONF_DEVICE] = "invalid_device"
        return None, None, device
    if (host := _clean_host(user_input.get(CONF_HOST))) is None:
        errors[CONF_HOST] = "invalid_host"
    if (port := _whole_number(user_input.get(CONF_PORT, DEFAULT_PORT), 1, 65535)) is None:
        errors[CONF_PORT] = "invalid_port"
    return host, port, None


def _advanced(advanced: Mapping[str, Any], errors: dict[str, str]) -> _Advanced | None:
    """The advanced section checked as a whole (one error shown under the section)."""
    size = advanced.get(CONF_ADDRESS_SIZE, ADDRESS_AUTO)  # the select selector checked it
    limit = MAX_ONE_BYTE_PART if size in ("1", "2") else MAX_LOGICAL_OR_PHYSICAL
    logical = _whole_number(advanced.get(CONF_SERVER_LOGICAL, DEFAULT_SERVER_LOGICAL), 1, limit)
    physical_typed = advanced.get(CONF_SERVER_PHYSICAL) is not None
    physical = _whole_number(advanced[CONF_SERVER_PHYSICAL], 0, limit) if physical_typed else None
    hint = advanced.get(CONF_SERIAL_HINT) or None
    response_timeout = _seconds(advanced.get(CONF_RESPONSE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT), 30)
    connect_timeout = _seconds(advanced.get(CONF_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT), 60)
    error = None
    if logical is None:
        error = "invalid_logical_address"
    if physical_typed and physical is None:
        error = "invalid_physical_address"
    if hint is not None and not _serial_hint_ok(hint):
        error = "invalid_serial_hint"
    elif size in ("2", "4") and not physical_typed:
        if hint is None:
            error = "physical_required"
        elif physical_from_serial(hint) > limit:
            error = "invalid_physical_address"
    if response_timeout is None or connect_timeout is None:
        error = "invalid_timeout"
    if error is not None:
        errors[CONF_ADVANCED] = error
        return None
    assert logical is not None
    assert response_timeout is not None
    assert connect_timeout is not None
    hint = hint.strip() if hint is not None else None
    if size == "1":
        physical = None
    elif size in ("2", "4") and physical is None and hint is not None:
        physical = physical_from_serial(hint)
    return _Advanced(size, logical, physical, hint, response_timeout, connect_timeout)


def password_error(password: Any, client_sap: int) -> str | None:
    """Why a password cannot be used (None when it can); only the public client needs none."""
    if password is None:
        return None if client_sap == PUBLIC_CLIENT_SAP else "password_required"
    if (
        not isinstance(password, str)
        or len(password) > PASSWORD_MAX_LENGTH
        or not password.isascii()
        or not password.isprintable()
    ):
        return "invalid_password"
    return None


def _serial_hint_ok(hint: Any) -> bool:
    """A serial number as printed on a label: letters, digits, dashes; at least one digit."""
    return (
        isinstance(hint, str)
        and _SERIAL_HINT.fullmatch(hint.strip()) is not None
        and any(char.isdigit() for char in hint)
    )


def _whole_number(value: Any, low: int, high: int) -> int | None:
    """An integer within bounds (number selectors hand over floats)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    number = int(value)
    return number if low <= number <= high else None


def _seconds(value: Any, high: float) -> float | None:
    """A timeout in seconds within 0.5 s .. ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0.5 <= value <= high else None


def _clean_host(value: Any) -> str | None:
    """A host name or IP address, or None when it is not one."""
    if not isinstance(value, str):
        return None
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or len(host) > 253:
        return None
    labels = host.removesuffix(".").split(".")
    if all(_HOST_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit():
        return host
    return None


def _clean_device(value: Any) -> str | None:
    """A serial device path or URL without whitespace or control characters."""
    if not isinstance(value, str):
        return None
    device = value.strip()
    if not device or len(device) > 255:
        return None
    if not device.isprintable() or any(char.isspace() for char in device):
        return None
    return device
