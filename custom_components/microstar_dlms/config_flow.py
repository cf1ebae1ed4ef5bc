"""Config flow: add a meter behind a TCP gateway or on a serial port, test it, keep its address."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, override

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
import probatio

from .const import (
    CONF_PASSWORD,
    CONF_SERIAL_HINT,
    CONNECTION_SERIAL,
    CONNECTION_TCP,
    DOMAIN,
    LOGGER,
)
from .discovery import DiscoveryStore
from .dlms.errors import AuthenticationFailed, DlmsError
from .form import (
    PASSWORD_SELECTOR,
    connection_schema,
    picks_other,
    shows_advanced,
    suggested_values,
)
from .meter_config import MeterConfig
from .meter_io import async_detect, async_identify, error_kind
from .user_input import client_sap_of, password_error, same_serial, validate_user_input


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

    # 1.1: the keys MeterConfig.as_entry_data writes (unchanged since the first release). A key
    # added later takes a default in from_entry_data and a minor version here, so an older
    # release still reads the entry; a change it cannot read is a new major version.
    VERSION = 1
    MINOR_VERSION = 1

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
            found, errors = await self._async_check(connection_type, user_input)
            if found is not None:
                detected, serial = found
                await self.async_set_unique_id(serial)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=f"Microstar {serial}", data=detected.as_entry_data()
                )
        # What was typed comes back, the password too (to correct one character, as core's
        # flows do): it goes to the person who typed it, and no log or entry holds it.
        return self.async_show_form(
            step_id=connection_type,
            data_schema=self.add_suggested_values_to_schema(
                connection_schema(connection_type, advanced_open=shows_advanced(user_input)),
                user_input,
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
                    return self.async_update_reload_and_abort(entry, data=config.as_entry_data())
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({probatio.Optional(CONF_PASSWORD): PASSWORD_SELECTOR}), user_input
            ),
            description_placeholders={"title": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how the same meter is reached (new IP, port, address)."""
        entry = self._get_reconfigure_entry()
        stored = MeterConfig.from_entry_data(entry.data)
        connection_type = stored.connection_type
        errors: dict[str, str] = {}
        if user_input is not None:
            typed = {**user_input}
            same_access = client_sap_of(typed) == stored.client_sap
            if not typed.get(CONF_PASSWORD) and stored.password and same_access:
                typed[CONF_PASSWORD] = stored.password  # empty keeps the old one
            found, errors = await self._async_check(connection_type, typed)
            if found is not None:
                detected, serial = found
                await self.async_set_unique_id(serial)
                self._abort_if_unique_id_mismatch(reason="wrong_meter")
                if detected.client_sap != stored.client_sap:
                    # Another access level may see other objects: learn the meter again.
                    await DiscoveryStore(self.hass, entry.entry_id).async_remove()
                return self.async_update_reload_and_abort(entry, data=detected.as_entry_data())
        # First the entry's values (never its password), then what was typed.
        shown = user_input or suggested_values(entry.data, entry.unique_id)
        advanced_open = shows_advanced(user_input) if user_input else picks_other(shown)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                connection_schema(connection_type, advanced_open=advanced_open), shown
            ),
            description_placeholders={"title": entry.title},
            errors=errors,
        )

    async def _async_check(
        self, connection_type: str, user_input: dict[str, Any]
    ) -> tuple[tuple[MeterConfig, str] | None, dict[str, str]]:
        """What the user typed, checked, then tried on the meter: (config, serial) or errors."""
        config, errors = validate_user_input(connection_type, user_input)
        if config is None:
            return None, errors
        found, errors = await self._async_test(config)
        if (
            found is not None
            and config.serial_hint
            and not same_serial(config.serial_hint, found[1])
        ):
            # Another meter answered (a neighbour on the same line, or a typo on the label).
            return None, {CONF_SERIAL_HINT: "serial_mismatch"}
        return found, errors

    async def _async_test(
        self, config: MeterConfig
    ) -> tuple[tuple[MeterConfig, str] | None, dict[str, str]]:
        """Open a real session: detect the address form and read the serial number."""
        try:
            return await async_detect(config), {}
        except Exception as err:
            field, code = _error_of(err)
            return None, {field: code}
