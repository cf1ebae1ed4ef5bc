"""The ``microstar_dlms.read`` action (admins only): a value, scaler, capture time or clock
attribute of one object of a meter.

The read runs in a session of the meter's own client within an action's turn on the line
(dlms/bus.py): never a second connection to the gateway, at most one action before a waiting
poll, the wait and the session each bounded, the response at most a few KiB.
"""

import asyncio
from contextlib import suppress
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
from homeassistant.helpers.json import json_bytes
from homeassistant.helpers.service import async_register_admin_service
import probatio

from .const import DOMAIN, READ_ACTION_TIMEOUT, READ_ACTION_WAIT
from .coordinator import MicrostarConfigEntry, MicrostarCoordinator
from .cosem import MeterObject, as_datetime, as_number, as_text, parse_scaler_unit
from .dlms import AttributeRef, DecodeError, Obis, ReadResult
from .dlms.errors import DataAccessResult, DlmsError, EndpointBusy
from .dlms.interface_classes import (
    CLASS_CLOCK,
    CLASS_DATA,
    CLASS_DEMAND_REGISTER,
    CLASS_EXTENDED_REGISTER,
    CLASS_REGISTER,
)
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

# The longest OBIS code written out is 23 characters ("255.255.255.255.255.255").
OBIS_MAX_LENGTH: Final = 32
# A response larger than this (JSON) is refused: the action is for values, not bulk data.
RESPONSE_MAX_BYTES: Final = 4096

# Interface class -> the attributes the action reads (IEC 62056-6-2): values, scaler_unit,
# capture times and the clock. Never a profile's buffer (class 7) or the association's object
# list (class 15): kilobytes and minutes of line time. Never the logical name (attribute 1):
# it is the code typed, and reading a value proves the object exists as well.
READABLE: Final[dict[int, frozenset[int]]] = {
    CLASS_DATA: frozenset({2}),  # the value: serial number, firmware id, ...
    CLASS_REGISTER: frozenset({2, 3}),  # value, scaler_unit
    CLASS_EXTENDED_REGISTER: frozenset({2, 3, 5}),  # value, scaler_unit, capture_time
    # current and last average value, scaler_unit, capture_time
    CLASS_DEMAND_REGISTER: frozenset({2, 3, 4, 6}),
    # time, time_zone, status, daylight-saving begin, end, deviation and enabled, clock_base
    CLASS_CLOCK: frozenset(range(2, 10)),
}

# Refusals the meter gives, to translation keys (any other: "read_refused").
_REFUSALS: Final = {
    DataAccessResult.OBJECT_UNDEFINED: "object_undefined",
    DataAccessResult.OBJECT_UNAVAILABLE: "object_undefined",
    DataAccessResult.READ_WRITE_DENIED: "access_denied",
    DataAccessResult.SCOPE_OF_ACCESS_VIOLATED: "access_denied",
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions (admins only: each call takes the meter's line)."""
    async_register_admin_service(
        hass,
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
    ref = _readable_ref(call)
    refs = [ref]
    meter_object = MeterObject(ref.obis.dotted, ref.class_id)
    if meter_object.is_scaled(ref.attribute) and (scaler := meter_object.scaler_unit_ref()):
        refs.append(scaler)
    results = await _async_read_from_meter(entry.runtime_data.coordinator, refs)
    value, error = results[0].value, results[0].error
    if error is not None:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=_REFUSALS.get(error.result, "read_refused"),
            translation_placeholders={"obis": str(ref.obis), "error": str(error)},
        )
    response: dict[str, Any] = {"value": plain_value(value)}
    if len(results) > 1 and results[1].error is None:
        scaler_unit = parse_scaler_unit(results[1].value)
        number = as_number(value)
        if scaler_unit is not None and number is not None:
            response["scaled"] = float(scaler_unit.scale(number))
            response["unit"] = scaler_unit.symbol
    _check_size(response)
    return response


def _readable_ref(call: ServiceCall) -> AttributeRef:
    """The attribute asked for, if the action reads it; a translated refusal otherwise."""
    obis = parse_obis(call.data[ATTR_OBIS])
    class_id, attribute = call.data[ATTR_CLASS_ID], call.data[ATTR_ATTRIBUTE]
    if attribute not in READABLE.get(class_id, ()):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="attribute_not_readable",
            translation_placeholders={"class_id": str(class_id), "attribute": str(attribute)},
        )
    return AttributeRef(class_id, obis, attribute)


def parse_obis(text: str) -> Obis:
    """An OBIS code as typed (ASCII digits, at most OBIS_MAX_LENGTH characters); the refusal
    does not repeat what was typed."""
    if len(text) <= OBIS_MAX_LENGTH:
        with suppress(DecodeError):
            return Obis.parse(text)
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invalid_obis",
        translation_placeholders={"max_length": str(OBIS_MAX_LENGTH)},
    )


async def _async_read_from_meter(
    coordinator: MicrostarCoordinator, refs: list[AttributeRef]
) -> list[ReadResult]:
    """The meter's answers, in a session of its own client in an action's turn; client errors,
    no turn within READ_ACTION_WAIT and a session past READ_ACTION_TIMEOUT translated."""
    endpoint = coordinator.meter_config.display_endpoint
    try:
        async with (
            coordinator.seat.bus.action_turn(within=READ_ACTION_WAIT) as turn,
            asyncio.timeout(READ_ACTION_TIMEOUT),
            coordinator.client.session(turn) as session,
        ):
            return await session.read_attributes(refs)
    except EndpointBusy as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="read_no_turn",
            translation_placeholders={"endpoint": endpoint, "seconds": f"{READ_ACTION_WAIT:g}"},
        ) from err
    except DlmsError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=error_kind(err),
            translation_placeholders={"endpoint": endpoint, "error": str(err)},
        ) from err
    except TimeoutError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="no_answer_in_time",
            translation_placeholders={"seconds": f"{READ_ACTION_TIMEOUT:g}"},
        ) from err


def _check_size(response: dict[str, Any]) -> None:
    """Refuse a response larger than RESPONSE_MAX_BYTES (as JSON)."""
    size = len(json_bytes(response))
    if size > RESPONSE_MAX_BYTES:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="value_too_large",
            translation_placeholders={"size": str(size), "limit": str(RESPONSE_MAX_BYTES)},
        )


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
