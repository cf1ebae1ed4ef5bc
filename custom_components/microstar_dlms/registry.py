"""What Home Assistant's entity registry says of a meter's objects: which entities are enabled."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from .cosem import object_unique_id


def registered_objects(hass: HomeAssistant, entry_id: str, serial: str) -> dict[str, bool]:
    """Object key -> whether one of its registered entities is enabled (objects without an
    entity in the registry are left out: their catalogue default holds)."""
    prefix = object_unique_id(serial, "")
    registered: dict[str, bool] = {}
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry_id):
        key = entity.unique_id.removeprefix(prefix)
        registered[key] = registered.get(key, False) or not entity.disabled
    return registered
