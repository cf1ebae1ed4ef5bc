"""How to reach one meter: the validated settings a config entry stores, and its address forms."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from .const import (
    ADDRESS_AUTO,
    ADDRESS_PROBE_WAIT,
    BAUDRATE,
    CONF_ADDRESS_SIZE,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_CONNECTION_TYPE,
    CONF_DEVICE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONNECTION_TCP,
    DEFAULT_CLIENT_SAP,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RESPONSE_TIMEOUT,
    DEFAULT_SERVER_LOGICAL,
    LOCK_TIMEOUT,
)
from .dlms import ConnectionSettings, ServerAddress
from .dlms.transport import display_endpoint

MAX_LOGICAL_OR_PHYSICAL = 0x3FFF  # 14 bits in the 4-byte form (IEC 62056-46 6.4.2)
MAX_ONE_BYTE_PART = 0x7F


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
        """The gateway as the user wrote it, for messages: ``host:port``, or the serial port
        (a URL without its query string: ESPHome URLs may carry a key)."""
        if self.connection_type == CONNECTION_TCP:
            host = self.host or ""
            return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        return display_endpoint(self.device or "")

    def server_address(self) -> ServerAddress:
        """The stored (detected or chosen) server address; only valid once not 'auto'."""
        size = int(self.address_size)
        if size == 1:
            return ServerAddress(self.server_logical)
        return ServerAddress(self.server_logical, self.server_physical, cast(Literal[2, 4], size))

    def settings(
        self, server: ServerAddress | None = None, *, probe: bool = False
    ) -> ConnectionSettings:
        """The core's settings, built once per client: the client holds them and its sessions
        read them (to ``server``, else the stored address form). ``probe``: ``server`` is one
        candidate of several, its SNRM waited for briefly (``ADDRESS_PROBE_WAIT``)."""
        return ConnectionSettings(
            endpoint=self.endpoint,
            client_sap=self.client_sap,
            password=self.password,
            server=server or self.server_address(),
            baudrate=BAUDRATE,
            response_timeout=self.response_timeout,
            connect_timeout=self.connect_timeout,
            lock_timeout=LOCK_TIMEOUT,
            snrm_probe=min(ADDRESS_PROBE_WAIT, self.response_timeout) if probe else None,
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
        one_byte = [ServerAddress(logical)] if logical <= MAX_ONE_BYTE_PART else []
        with_physical = [ServerAddress(logical, physical, 4)]
        if logical <= MAX_ONE_BYTE_PART and physical <= MAX_ONE_BYTE_PART:
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
        """Rebuild from config entry data written by :meth:`as_entry_data`.

        Only the connection type and the detected address form are required (without them
        there is no meter to reach); every other key missing takes the form's default.
        """
        return cls(
            connection_type=data[CONF_CONNECTION_TYPE],
            host=data.get(CONF_HOST),
            port=data.get(CONF_PORT),
            device=data.get(CONF_DEVICE),
            client_sap=data.get(CONF_CLIENT_SAP, DEFAULT_CLIENT_SAP),
            password=data.get(CONF_PASSWORD),
            server_logical=data.get(CONF_SERVER_LOGICAL, DEFAULT_SERVER_LOGICAL),
            server_physical=data.get(CONF_SERVER_PHYSICAL),
            address_size=data[CONF_ADDRESS_SIZE],
            response_timeout=data.get(CONF_RESPONSE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT),
            connect_timeout=data.get(CONF_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT),
        )


def physical_from_serial(serial: str) -> int:
    """The vendor's factory physical address: the serial's last four decimal digits."""
    digits = "".join(char for char in serial if char.isdigit())
    return int(digits[-4:] or "0")
