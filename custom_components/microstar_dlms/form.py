"""The connection form: what it shows, and filled in from an entry (never its password).

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
    ACCESS_OTHER,
    ADDRESS_AUTO,
    ADDRESS_SIZES,
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
)

_WHOLE = NumberSelector(NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1))
_SECONDS = NumberSelector(
    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=0.1, unit_of_measurement="s")
)
PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))

ADVANCED_SCHEMA = probatio.Schema(
    {
        probatio.Optional(CONF_OTHER_CLIENT_SAP): _WHOLE,
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


# The access levels on a Microstar label (field notes 1), each shown in words, and "other", whose
# client SAP is typed under the advanced options. Not a custom value: the frontend (2026.11) then
# shows the bare number once one is picked, without its words.
LABEL_CLIENT_SAPS: Final = ("1", "16", "32")
CLIENT_SAP_OPTIONS: Final = (*LABEL_CLIENT_SAPS, ACCESS_OTHER)
_CLIENT_SAP = SelectSelector(
    SelectSelectorConfig(
        options=list(CLIENT_SAP_OPTIONS),
        mode=SelectSelectorMode.DROPDOWN,
        translation_key=CONF_CLIENT_SAP,
    )
)


def connection_schema(connection_type: str, *, advanced_open: bool = False) -> probatio.Schema:
    """The form of one connection type, in the words on the meter's label; the advanced section
    collapsed unless ``advanced_open`` (``shows_advanced``)."""
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
    collapsed = not advanced_open
    fields[probatio.Required(CONF_ADVANCED)] = section(ADVANCED_SCHEMA, {"collapsed": collapsed})
    return probatio.Schema(fields)


def shows_advanced(values: Mapping[str, Any] | None) -> bool:
    """Whether the form opens the advanced section for what was typed: the user changed
    something in it, or picked the access level whose number is typed there."""
    if not values:
        return False
    return picks_other(values) or _advanced_changed(values.get(CONF_ADVANCED) or {})


def picks_other(values: Mapping[str, Any]) -> bool:
    """Whether the access level is "other" (its client SAP under the advanced options)."""
    return values.get(CONF_CLIENT_SAP) == ACCESS_OTHER


def _advanced_changed(advanced: Mapping[str, Any]) -> bool:
    """Whether the advanced section holds anything but its defaults (the user opened it)."""
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
    access = str(data[CONF_CLIENT_SAP])
    if access not in LABEL_CLIENT_SAPS:
        advanced[CONF_OTHER_CLIENT_SAP] = data[CONF_CLIENT_SAP]
        access = ACCESS_OTHER
    return {**values, CONF_CLIENT_SAP: access, CONF_ADVANCED: advanced}
