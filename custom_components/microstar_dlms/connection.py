"""How to reach one meter: validated settings, address auto-detection and identification."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
import ipaddress
import re
from typing import Any, Literal, cast

from .const import (
    ADDRESS_AUTO,
    BAUDRATE,
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_CONNECTION_TYPE,
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
    LOCK_TIMEOUT,
    PASSWORD_MAX_LENGTH,
    PUBLIC_CLIENT_SAP,
)
from .cosem import SERIAL_NUMBER, MeterObject, as_text
from .dlms import ConnectionSettings, MeterClient, MeterSession, ServerAddress
from .dlms.errors import (
    AssociationRejected,
    ConnectionFailed,
    DataAccessError,
    DlmsError,
    EndpointBusy,
    GatewayBusy,
    NoAnswer,
    ResponseTimeout,
)
from .dlms.transport import display_endpoint

type TraceCallback = Callable[[Any], None]

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SERIAL_HINT = re.compile(r"[A-Za-z0-9-]{1,32}")
_MAX_LOGICAL_OR_PHYSICAL = 0x3FFF  # 14 bits in the 4-byte form (IEC 62056-46 6.4.2)
_MAX_ONE_BYTE_PART = 0x7F


class MeterIdentityError(DlmsError):
    """The meter answered but did not give a usable serial number."""


# Client errors to translation keys, shared by the flow's form errors and the coordinator's
# exceptions and statistics; authentication failures are handled before (reauth, password field).
_ERROR_KINDS: tuple[tuple[type[DlmsError], str], ...] = (
    (GatewayBusy, "gateway_busy"),
    (EndpointBusy, "endpoint_busy"),
    (NoAnswer, "no_answer"),
    (ConnectionFailed, "cannot_connect"),
    (AssociationRejected, "association_rejected"),
    (ResponseTimeout, "response_timeout"),
    (MeterIdentityError, "no_serial_number"),
)


def error_kind(err: DlmsError) -> str:
    """The translation key (and statistics bucket) of a client error."""
    for error_type, kind in _ERROR_KINDS:
        if isinstance(err, error_type):
            return kind
    return "protocol_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterConfig:
    """Everything needed to open a session with one meter, validated."""

    connection_type: str
    host: str | None = None
    port: int | None = None
    device: str | None = field(default=None, repr=False)  # ESPHome URLs may hold a key
    client_sap: int = DEFAULT_CLIENT_SAP
    password: str | None = field(default=None, repr=False)
    server_logical: int = DEFAULT_SERVER_LOGICAL
    server_physical: int | None = None
    address_size: str = ADDRESS_AUTO
    serial_hint: str | None = None
    response_timeout: float = DEFAULT_RESPONSE_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    @property
    def endpoint(self) -> str:
        """The transport endpoint the core client opens."""
        if self.connection_type == CONNECTION_TCP:
            host = self.host or ""
            if ":" in host:
                host = f"[{host}]"
            return f"socket://{host}:{self.port}"
        return self.device or ""

    @property
    def display_endpoint(self) -> str:
        """The endpoint for messages: never a query string (ESPHome URLs may carry a key)."""
        return display_endpoint(self.endpoint)

    def server_address(self) -> ServerAddress:
        """The stored (detected or chosen) server address; only valid once not 'auto'."""
        size = int(self.address_size)
        if size == 1:
            return ServerAddress(self.server_logical)
        return ServerAddress(self.server_logical, self.server_physical, cast(Literal[2, 4], size))

    def settings(self, server: ServerAddress) -> ConnectionSettings:
        """Connection settings for the core client."""
        return ConnectionSettings(
            endpoint=self.endpoint,
            client_sap=self.client_sap,
            password=self.password,
            server=server,
            baudrate=BAUDRATE,
            response_timeout=self.response_timeout,
            connect_timeout=self.connect_timeout,
            lock_timeout=LOCK_TIMEOUT,
        )

    def address_candidates(self) -> list[ServerAddress]:
        """The server addresses to try, most likely first (field notes 1 and 6).

        When the user names the meter (physical address or serial number), the forms that carry
        its physical address go first: on a line with several meters, every meter may answer
        the logical-only 1-byte form, and the first to answer would be taken for this one.
        """
        if self.address_size != ADDRESS_AUTO:
            return [self.server_address()]
        named = self.server_physical is not None or self.serial_hint is not None
        if self.server_physical is not None:
            physical = self.server_physical
        elif self.serial_hint is not None:
            physical = physical_from_serial(self.serial_hint)
        else:
            physical = 1
        logical = self.server_logical
        one_byte = [ServerAddress(logical)] if logical <= _MAX_ONE_BYTE_PART else []
        with_physical = [ServerAddress(logical, physical, 4)]
        if logical <= _MAX_ONE_BYTE_PART and physical <= _MAX_ONE_BYTE_PART:
            with_physical.insert(0, ServerAddress(logical, physical, 2))
        return [*with_physical, *one_byte] if named else [*one_byte, *with_physical]

    def with_server(self, server: ServerAddress) -> MeterConfig:
        """This config with the address form fixed to ``server`` (what detection found)."""
        return replace(
            self,
            server_logical=server.logical,
            server_physical=server.physical,
            address_size=str(server.size),
        )

    def as_entry_data(self) -> dict[str, Any]:
        """The config entry data (flat; the advanced section is a form detail)."""
        data: dict[str, Any] = {
            CONF_CONNECTION_TYPE: self.connection_type,
            CONF_CLIENT_SAP: self.client_sap,
            CONF_SERVER_LOGICAL: self.server_logical,
            CONF_SERVER_PHYSICAL: self.server_physical,
            CONF_ADDRESS_SIZE: self.address_size,
            CONF_RESPONSE_TIMEOUT: self.response_timeout,
            CONF_CONNECT_TIMEOUT: self.connect_timeout,
        }
        if self.connection_type == CONNECTION_TCP:
            data[CONF_HOST] = self.host
            data[CONF_PORT] = self.port
        else:
            data[CONF_DEVICE] = self.device
        if self.password is not None:
            data[CONF_PASSWORD] = self.password
        return data

    @classmethod
    def from_entry_data(cls, data: Mapping[str, Any]) -> MeterConfig:
        """Rebuild from config entry data written by :meth:`as_entry_data`."""
        return cls(
            connection_type=data[CONF_CONNECTION_TYPE],
            host=data.get(CONF_HOST),
            port=data.get(CONF_PORT),
            device=data.get(CONF_DEVICE),
            client_sap=data[CONF_CLIENT_SAP],
            password=data.get(CONF_PASSWORD),
            server_logical=data[CONF_SERVER_LOGICAL],
            server_physical=data.get(CONF_SERVER_PHYSICAL),
            address_size=data[CONF_ADDRESS_SIZE],
            response_timeout=data[CONF_RESPONSE_TIMEOUT],
            connect_timeout=data[CONF_CONNECT_TIMEOUT],
        )


def physical_from_serial(serial: str) -> int:
    """The vendor's factory physical address: the serial's last four decimal digits."""
    digits = "".join(char for char in serial if char.isdigit())
    return int(digits[-4:] or "0")


def validate_user_input(
    connection_type: str, user_input: Mapping[str, Any]
) -> tuple[MeterConfig | None, dict[str, str]]:
    """Check what the user typed before any I/O; return the config or form errors."""
    errors: dict[str, str] = {}
    advanced: Mapping[str, Any] = user_input.get(CONF_ADVANCED) or {}
    host: str | None = None
    port: int | None = None
    device: str | None = None

    if connection_type == CONNECTION_TCP:
        host = _clean_host(user_input.get(CONF_HOST))
        if host is None:
            errors[CONF_HOST] = "invalid_host"
        port = _whole_number(user_input.get(CONF_PORT, DEFAULT_PORT), 1, 65535)
        if port is None:
            errors[CONF_PORT] = "invalid_port"
    else:
        device = _clean_device(user_input.get(CONF_DEVICE))
        if device is None:
            errors[CONF_DEVICE] = "invalid_device"

    client_sap = _whole_number(user_input.get(CONF_CLIENT_SAP, DEFAULT_CLIENT_SAP), 1, 127)
    if client_sap is None:
        errors[CONF_CLIENT_SAP] = "invalid_client_sap"

    password = user_input.get(CONF_PASSWORD) or None
    if client_sap is not None and (error := password_error(password, client_sap)):
        errors[CONF_PASSWORD] = error

    advanced_error = None
    size = advanced.get(CONF_ADDRESS_SIZE, ADDRESS_AUTO)  # the select selector checked it
    limit = _MAX_ONE_BYTE_PART if size in ("1", "2") else _MAX_LOGICAL_OR_PHYSICAL
    logical = _whole_number(advanced.get(CONF_SERVER_LOGICAL, DEFAULT_SERVER_LOGICAL), 1, limit)
    if logical is None:
        advanced_error = "invalid_logical_address"
    physical: int | None = None
    physical_typed = advanced.get(CONF_SERVER_PHYSICAL) is not None
    if physical_typed:
        physical = _whole_number(advanced[CONF_SERVER_PHYSICAL], 0, limit)
        if physical is None:
            advanced_error = "invalid_physical_address"
    serial_hint = advanced.get(CONF_SERIAL_HINT) or None
    if serial_hint is not None and (
        not isinstance(serial_hint, str)
        or not _SERIAL_HINT.fullmatch(serial_hint.strip())
        or not any(char.isdigit() for char in serial_hint)
    ):
        advanced_error = "invalid_serial_hint"
    elif size in ("2", "4") and not physical_typed:
        if serial_hint is None:
            advanced_error = "physical_required"
        elif physical_from_serial(serial_hint) > limit:
            advanced_error = "invalid_physical_address"
    response_timeout = _seconds(advanced.get(CONF_RESPONSE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT), 30)
    connect_timeout = _seconds(advanced.get(CONF_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT), 60)
    if response_timeout is None or connect_timeout is None:
        advanced_error = "invalid_timeout"
    if advanced_error is not None:
        errors[CONF_ADVANCED] = advanced_error

    if errors:
        return None, errors
    assert client_sap is not None
    assert logical is not None
    assert response_timeout is not None
    assert connect_timeout is not None
    hint = serial_hint.strip() if serial_hint is not None else None
    if size == "1":
        physical = None
    elif size in ("2", "4") and physical is None and hint is not None:
        physical = physical_from_serial(hint)
    return (
        MeterConfig(
            connection_type=connection_type,
            host=host,
            port=port,
            device=device,
            client_sap=client_sap,
            password=password,
            server_logical=logical,
            server_physical=physical,
            address_size=size,
            serial_hint=hint,
            response_timeout=response_timeout,
            connect_timeout=connect_timeout,
        ),
        {},
    )


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


async def async_identify(
    config: MeterConfig, server: ServerAddress, trace: TraceCallback | None = None
) -> str:
    """Open one session with the meter at ``server`` and return its serial number."""
    client = MeterClient(config.settings(server), trace=trace)
    async with client.session() as session:
        return await async_read_serial(session)


async def async_read_serial(session: MeterSession) -> str:
    """The meter's serial number (1-0:0.0.0, class 1); MeterIdentityError when it has none."""
    try:
        value = await session.get(MeterObject(SERIAL_NUMBER, 1).value_ref())
    except DataAccessError as err:
        raise MeterIdentityError("the meter did not give its serial number") from err
    if (serial := as_text(value)) is None:
        raise MeterIdentityError("the meter's serial number is empty")
    return serial


async def async_detect(config: MeterConfig) -> tuple[MeterConfig, str]:
    """Find the address form the meter answers to; return the fixed config and the serial.

    A meter ignores frames not addressed to it (field notes 6), so only NoAnswer moves on to
    the next candidate; any other error means the address was right and is raised.
    """
    silence: NoAnswer | None = None
    for server in config.address_candidates():
        try:
            serial = await async_identify(config, server)
        except NoAnswer as err:
            silence = err
            continue
        return config.with_server(server), serial
    assert silence is not None
    raise silence


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
