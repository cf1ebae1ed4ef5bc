"""The ``microstar_dlms.read`` action: read any attribute of any object of a meter.

The read runs in a session of the meter's own client, so it waits for the gateway like a poll
does (the endpoint lock): never a second connection to the gateway.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio

from .const import DOMAIN
from .coordinator import MicrostarConfigEntry
from .cosem import MeterObject, as_datetime, as_number, as_text, parse_scaler_unit
from .dlms import AttributeRef, DecodeError, Obis
from .dlms.errors import DataAccessResult, DlmsError
from .meter_io import error_kind

SERVICE_READ: Final = "read"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_OBIS: Final = "obis"
ATTR_CLASS_ID: Final = "class_id"
ATTR_ATTRIBUTE: Final = "attribute"

_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_OBIS): cv.string,
        probatio.Optional(ATTR_CLASS_ID, default=3): probatio.All(
            probatio.Coerce(int), probatio.Range(1, 65535)
        ),
        probatio.Optional(ATTR_ATTRIBUTE, default=2): probatio.All(
            probatio.Coerce(int), probatio.Range(1, 127)
        ),
    }
)

# Refusals the meter gives, to translation keys (any other: "read_refused").
_REFUSALS: Final = {
    DataAccessResult.OBJECT_UNDEFINED: "object_undefined",
    DataAccessResult.OBJECT_UNAVAILABLE: "object_undefined",
    DataAccessResult.READ_WRITE_DENIED: "access_denied",
    DataAccessResult.SCOPE_OF_ACCESS_VIOLATED: "access_denied",
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_READ,
        _async_read,
        schema=_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> MicrostarConfigEntry:
    entry: MicrostarConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry_id": entry_id},
        )
    return entry


async def _async_read(call: ServiceCall) -> ServiceResponse:
    """Read one attribute; the value, and scaled with its unit where the object has a scaler."""
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    text = call.data[ATTR_OBIS]
    try:
        obis = Obis.parse(text)
    except DecodeError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_obis",
            translation_placeholders={"obis": text},
        ) from err
    ref = AttributeRef(call.data[ATTR_CLASS_ID], obis, call.data[ATTR_ATTRIBUTE])
    obj = MeterObject(obis.dotted, ref.class_id)
    scaler_ref = None
    if obj.supported and obj.value_ref() == ref:
        scaler_ref = obj.scaler_unit_ref()
    coordinator = entry.runtime_data.coordinator
    refs = [ref] if scaler_ref is None else [ref, scaler_ref]
    try:
        results = await coordinator.async_read_attributes(refs)
    except DlmsError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=error_kind(err),
            translation_placeholders={
                "endpoint": coordinator.meter_config.display_endpoint,
                "error": str(err),
            },
        ) from err
    except TimeoutError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="no_answer_in_time"
        ) from err
    value, error = results[0]
    if error is not None:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=_REFUSALS.get(error.result, "read_refused"),
            translation_placeholders={"obis": str(obis), "error": str(error)},
        )
    response: dict[str, Any] = {"value": plain_value(value)}
    if len(results) > 1 and results[1][1] is None:
        scaler_unit = parse_scaler_unit(results[1][0])
        number = as_number(value)
        if scaler_unit is not None and number is not None:
            response["scaled"] = float(scaler_unit.scale(number))
            response["unit"] = scaler_unit.symbol
    return response


def plain_value(value: Any) -> Any:
    """A value as JSON can carry it: text or hex for octet strings, ISO for date-times."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray):
        text = as_text(value)
        if text is not None and len(text) == len(value):
            return text
        if len(value) == 12 and (stamp := _stamp(value)) is not None:
            return stamp.isoformat()
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [plain_value(item) for item in value]
    if (stamp := _stamp(value)) is not None:
        return stamp.isoformat()
    return str(value)


def _stamp(value: Any) -> datetime | None:
    try:
        return as_datetime(value)
    except OverflowError, ValueError:
        return None
