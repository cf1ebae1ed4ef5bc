"""What the user typed into the connection form becomes a MeterConfig, or errors per field.

Values are checked here, before any I/O, and each bad one gets a translated error on its own
field. The checks stay out of the selectors on purpose: a selector's min/max (or a validator in
the schema) fails the whole step with the frontend's untranslated message instead.
"""

from collections.abc import Mapping
import ipaddress
import re
from typing import Any, TypedDict

from .const import (
    ACCESS_OTHER,
    ADDRESS_AUTO,
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_DEVICE,
    CONF_HOST,
    CONF_OTHER_CLIENT_SAP,
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


class _Where(TypedDict):
    """Where the meter is reached, checked: a gateway's host and port, or a serial device."""

    host: str | None
    port: int | None
    device: str | None


class _Advanced(TypedDict):
    """The advanced section, checked: the MeterConfig fields it sets."""

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
    where = _where(connection_type, user_input, errors)
    hint = user_input.get(CONF_SERIAL_HINT) or None
    if hint is not None and not _serial_hint_ok(hint):
        errors[CONF_SERIAL_HINT] = "invalid_serial_hint"
        hint = None
    client_sap = _access(user_input, errors)
    password = user_input.get(CONF_PASSWORD) or None
    if client_sap is not None and (error := password_error(password, client_sap)):
        errors[CONF_PASSWORD] = error
    advanced = _advanced(user_input.get(CONF_ADVANCED) or {}, hint, errors)
    if errors or client_sap is None or advanced is None:
        return None, errors
    config = MeterConfig(
        connection_type=connection_type,
        client_sap=client_sap,
        password=password,
        **where,
        **advanced,
    )
    return config, {}


def _where(connection_type: str, user_input: Mapping[str, Any], errors: dict[str, str]) -> _Where:
    """Host and port of a gateway, or the serial device."""
    if connection_type != CONNECTION_TCP:
        if (device := _clean_device(user_input.get(CONF_DEVICE))) is None:
            errors[CONF_DEVICE] = "invalid_device"
        return _Where(host=None, port=None, device=device)
    if (host := _clean_host(user_input.get(CONF_HOST))) is None:
        errors[CONF_HOST] = "invalid_host"
    if (port := _whole_number(user_input.get(CONF_PORT, DEFAULT_PORT), 1, 65535)) is None:
        errors[CONF_PORT] = "invalid_port"
    return _Where(host=host, port=port, device=None)


def _advanced(
    advanced: Mapping[str, Any], hint: str | None, errors: dict[str, str]
) -> _Advanced | None:
    """The advanced section checked as a whole (one error shown under the section); ``hint``
    is the serial number from the label, checked already, that names the physical address."""
    size = advanced.get(CONF_ADDRESS_SIZE, ADDRESS_AUTO)  # the select selector checked it
    limit = MAX_ONE_BYTE_PART if size in ("1", "2") else MAX_LOGICAL_OR_PHYSICAL
    logical = _whole_number(advanced.get(CONF_SERVER_LOGICAL, DEFAULT_SERVER_LOGICAL), 1, limit)
    physical_typed = advanced.get(CONF_SERVER_PHYSICAL) is not None
    physical = _whole_number(advanced[CONF_SERVER_PHYSICAL], 0, limit) if physical_typed else None
    response_timeout = _seconds(advanced.get(CONF_RESPONSE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT), 30)
    connect_timeout = _seconds(advanced.get(CONF_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT), 60)
    error = None
    if logical is None:
        error = "invalid_logical_address"
    if physical_typed and physical is None:
        error = "invalid_physical_address"
    if size in ("2", "4") and not physical_typed and CONF_SERIAL_HINT not in errors:
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
    return _Advanced(
        address_size=size,
        server_logical=logical,
        server_physical=physical,
        serial_hint=hint,
        response_timeout=response_timeout,
        connect_timeout=connect_timeout,
    )


def client_sap_of(user_input: Mapping[str, Any]) -> int | None:
    """The client SAP the form asks for (None when it names none that can be used)."""
    return _access(user_input, {})


def _access(user_input: Mapping[str, Any], errors: dict[str, str]) -> int | None:
    """The client SAP: the access level picked, or for "other" the number typed under the
    advanced options (a number there with another access level is a mistake, not a choice)."""
    access = user_input.get(CONF_CLIENT_SAP, str(DEFAULT_CLIENT_SAP))
    other = (user_input.get(CONF_ADVANCED) or {}).get(CONF_OTHER_CLIENT_SAP)
    if access != ACCESS_OTHER:
        if other is not None:
            errors[CONF_ADVANCED] = "other_client_sap_unused"
        if (client_sap := _client_sap(access)) is None:
            errors[CONF_CLIENT_SAP] = "invalid_client_sap"
        return client_sap
    if other is None:
        errors[CONF_CLIENT_SAP] = "other_client_sap_required"
        return None
    if (client_sap := _whole_number(other, 1, 127)) is None:
        errors[CONF_ADVANCED] = "invalid_client_sap"
    return client_sap


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


def same_serial(typed: str, meter: str) -> bool:
    """Whether the serial typed from the label names the meter that answered.

    Labels print prefixes and dashes (MSE-21061234) the meter does not report, so letters and
    digits are compared, and one may end the other.
    """
    mine, theirs = (re.sub(r"[^0-9A-Za-z]", "", text).upper() for text in (typed, meter))
    if min(len(mine), len(theirs)) < 4:
        return mine == theirs and bool(mine)
    return mine.endswith(theirs) or theirs.endswith(mine)


def _client_sap(value: Any) -> int | None:
    """A client SAP from the selector (text, or a number from an API caller), 1..127."""
    if isinstance(value, str):
        text = value.strip()
        # Three digits at most before int(): a longer text is out of range anyway, and one of
        # over 4300 digits would raise ValueError (Python's limit on int from text).
        if not (text.isascii() and text.isdigit() and len(text) <= 3):
            return None
        return _whole_number(int(text), 1, 127)
    return _whole_number(value, 1, 127)


def _serial_hint_ok(hint: Any) -> bool:
    """A serial number as printed on a label: letters, digits, dashes; at least four digits
    (the factory address is the last four, and fewer would name too many meters)."""
    return (
        isinstance(hint, str)
        and _SERIAL_HINT.fullmatch(hint.strip()) is not None
        and sum(char.isdigit() for char in hint) >= 4
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
