"""Config flow: add a meter behind a TCP gateway or on a serial port, test it, keep its address."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, override

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
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

from .connection import (
    MeterConfig,
    async_detect,
    async_identify,
    error_kind,
    password_error,
    validate_user_input,
)
from .const import (
    ADDRESS_AUTO,
    ADDRESS_SIZES,
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
    CONNECTION_SERIAL,
    CONNECTION_TCP,
    DEFAULT_CLIENT_SAP,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_PORT,
    DEFAULT_RESPONSE_TIMEOUT,
    DEFAULT_SERVER_LOGICAL,
    DOMAIN,
    LOGGER,
)
from .dlms.errors import (
    AuthenticationFailed,
    DlmsError,
)

_WHOLE = NumberSelector(NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1))
_SECONDS = NumberSelector(
    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=0.1, unit_of_measurement="s")
)
_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))

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


def _connection_schema(connection_type: str) -> probatio.Schema:
    """The form of one connection type; the advanced section starts collapsed."""
    fields: dict[Any, Any] = {}
    if connection_type == CONNECTION_TCP:
        fields[probatio.Required(CONF_HOST)] = TextSelector(TextSelectorConfig(autocomplete="off"))
        fields[probatio.Required(CONF_PORT, default=DEFAULT_PORT)] = _WHOLE
    else:
        fields[probatio.Required(CONF_DEVICE)] = SerialPortSelector()
    fields[probatio.Required(CONF_CLIENT_SAP, default=DEFAULT_CLIENT_SAP)] = _WHOLE
    fields[probatio.Optional(CONF_PASSWORD)] = _PASSWORD
    fields[probatio.Required(CONF_ADVANCED)] = section(ADVANCED_SCHEMA, {"collapsed": True})
    return probatio.Schema(fields)


def _suggested_values(data: Mapping[str, Any]) -> dict[str, Any]:
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


def _error_of(err: Exception) -> tuple[str, str]:
    """The form field and translated error for a failed meter test."""
    if isinstance(err, AuthenticationFailed):
        return CONF_PASSWORD, "invalid_auth"
    if isinstance(err, DlmsError):
        return "base", error_kind(err)
    LOGGER.exception("Unexpected error while testing the meter")
    return "base", "unknown"


class MicrostarConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Microstar meter."""

    VERSION = 1

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the meter is connected."""
        return self.async_show_menu(
            step_id="user", menu_options=[CONNECTION_TCP, CONNECTION_SERIAL]
        )

    async def async_step_tcp(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A meter behind a TCP serial gateway."""
        return await self._async_step_connection(CONNECTION_TCP, user_input)

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A meter on a serial port (local, or an ESPHome serial proxy)."""
        return await self._async_step_connection(CONNECTION_SERIAL, user_input)

    async def _async_step_connection(
        self, connection_type: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Validate, test the meter, detect its address and create the entry."""
        errors: dict[str, str] = {}
        if user_input is not None:
            config, errors = validate_user_input(connection_type, user_input)
            if config is not None:
                found, errors = await self._async_test(config)
                if found is not None:
                    detected, serial = found
                    await self.async_set_unique_id(serial)
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=f"Microstar {serial}", data=detected.as_entry_data()
                    )
        return self.async_show_form(
            step_id=connection_type,
            data_schema=self.add_suggested_values_to_schema(
                _connection_schema(connection_type), _without_password(user_input)
            ),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The meter rejected the stored password."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the new password and test it on the same meter."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            stored = MeterConfig.from_entry_data(entry.data)
            password = user_input.get(CONF_PASSWORD) or None
            if error := password_error(password, stored.client_sap):
                errors[CONF_PASSWORD] = error
            else:
                config = replace(stored, password=password)
                try:
                    serial = await async_identify(config, config.server_address())
                except Exception as err:
                    field, code = _error_of(err)
                    errors[field] = code
                else:
                    await self.async_set_unique_id(serial)
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
                    data = {**entry.data}
                    data.pop(CONF_PASSWORD, None)
                    if password is not None:
                        data[CONF_PASSWORD] = password
                    return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=probatio.Schema({probatio.Optional(CONF_PASSWORD): _PASSWORD}),
            description_placeholders={"title": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how the same meter is reached (new IP, port, address)."""
        entry = self._get_reconfigure_entry()
        connection_type = entry.data[CONF_CONNECTION_TYPE]
        errors: dict[str, str] = {}
        if user_input is not None:
            typed = {**user_input}
            if not typed.get(CONF_PASSWORD) and entry.data.get(CONF_PASSWORD):
                typed[CONF_PASSWORD] = entry.data[CONF_PASSWORD]  # empty keeps the old one
            config, errors = validate_user_input(connection_type, typed)
            if config is not None:
                found, errors = await self._async_test(config)
                if found is not None:
                    detected, serial = found
                    await self.async_set_unique_id(serial)
                    self._abort_if_unique_id_mismatch(reason="wrong_meter")
                    return self.async_update_reload_and_abort(entry, data=detected.as_entry_data())
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _connection_schema(connection_type),
                _without_password(user_input) or _suggested_values(entry.data),
            ),
            description_placeholders={"title": entry.title},
            errors=errors,
        )

    async def _async_test(
        self, config: MeterConfig
    ) -> tuple[tuple[MeterConfig, str] | None, dict[str, str]]:
        """Open a real session: detect the address form and read the serial number."""
        try:
            return await async_detect(config), {}
        except Exception as err:
            field, code = _error_of(err)
            return None, {field: code}


def _without_password(user_input: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the user typed, to show again; the password is never echoed back."""
    if user_input is None:
        return None
    return {key: value for key, value in user_input.items() if key != CONF_PASSWORD}
