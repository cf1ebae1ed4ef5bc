"""The connection form: what it shows, filled in from an entry, with the password never echoed.

The selectors carry no min/max nor validators on purpose: what was typed is checked in
user_input.py, each bad value a translated error on its own field.
"""

from collections.abc import Mapping
from typing import Any, Final

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
)

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
        probatio.Required(CONF_RESPONSE_TIMEOUT, default=DEFAULT_RESPONSE_TIMEOUT): _SECONDS,
        probatio.Required(CONF_CONNECT_TIMEOUT, default=DEFAULT_CONNECT_TIMEOUT): _SECONDS,
    }
)


# The access levels on a Microstar label, as the selector offers them (field notes 1); any other
# client SAP can still be typed.
CLIENT_SAP_OPTIONS: Final = ("1", "16", "32")
_CLIENT_SAP = SelectSelector(
    SelectSelectorConfig(
        options=list(CLIENT_SAP_OPTIONS),
        custom_value=True,
        mode=SelectSelectorMode.DROPDOWN,
        translation_key=CONF_CLIENT_SAP,
    )
)


def connection_schema(
    connection_type: str, user_input: Mapping[str, Any] | None = None
) -> probatio.Schema:
    """The form of one connection type, in the words on the meter's label.

    The advanced section starts collapsed, and stays open once the user changed something in it.
    """
    fields: dict[Any, Any] = {}
    if connection_type == CONNECTION_TCP:
        fields[probatio.Required(CONF_HOST)] = TextSelector(TextSelectorConfig(autocomplete="off"))
        fields[probatio.Required(CONF_PORT, default=DEFAULT_PORT)] = _WHOLE
    else:
        fields[probatio.Required(CONF_DEVICE)] = SerialPortSelector()
    fields[probatio.Optional(CONF_SERIAL_HINT)] = TextSelector(
        TextSelectorConfig(autocomplete="off")
    )
    fields[probatio.Required(CONF_CLIENT_SAP, default=str(DEFAULT_CLIENT_SAP))] = _CLIENT_SAP
    fields[probatio.Optional(CONF_PASSWORD)] = PASSWORD_SELECTOR
    collapsed = not _advanced_changed((user_input or {}).get(CONF_ADVANCED))
    fields[probatio.Required(CONF_ADVANCED)] = section(ADVANCED_SCHEMA, {"collapsed": collapsed})
    return probatio.Schema(fields)


def _advanced_changed(advanced: Any) -> bool:
    """Whether the advanced section holds anything but its defaults (the user opened it)."""
    if not isinstance(advanced, Mapping):
        return False
    defaults = ADVANCED_SCHEMA({})
    return any(value != defaults.get(key) for key, value in advanced.items())


def suggested_values(data: Mapping[str, Any], serial: str | None) -> dict[str, Any]:
    """Form values from config entry data and the meter's serial (never the password)."""
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
        key: data[key] for key in (CONF_HOST, CONF_PORT, CONF_DEVICE) if data.get(key) is not None
    }
    if serial:
        values[CONF_SERIAL_HINT] = serial
    return {**values, CONF_CLIENT_SAP: str(data[CONF_CLIENT_SAP]), CONF_ADVANCED: advanced}


def without_password(user_input: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the user typed, to show again; the password is never echoed back."""
    if user_input is None:
        return None
    return {key: value for key, value in user_input.items() if key != CONF_PASSWORD}
