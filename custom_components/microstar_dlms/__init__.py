"""The Microstar DLMS integration: DLMS/COSEM electricity meters over HDLC."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .catalogue import PROBED
from .const import DOMAIN
from .coordinator import MicrostarConfigEntry, MicrostarCoordinator, MicrostarRuntimeData
from .devices import meter_has_device
from .discovery import DiscoveryStore
from .poll_health import DATA_HEALTH, async_delete_issues
from .services import async_setup_services

PLATFORMS = [Platform.EVENT, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions (they work on any loaded meter entry)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> bool:
    """Set up a meter: the first poll reads it (and learns it, if never done), sensors follow."""
    coordinator = MicrostarCoordinator(hass, entry, PROBED)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = MicrostarRuntimeData(coordinator=coordinator, meter=coordinator.discovery)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if coordinator.pending_objects():
        # The setup's poll learned only the first objects (the add-meter dialog waits for setup):
        # go on at once, after setup, rather than at the next interval.
        entry.async_create_task(
            hass, coordinator.async_request_refresh(), "microstar_dlms discovery after setup"
        )
    return True


async def async_unload_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> bool:
    """Unload a meter; its repairs go with it (a reload raises them again if still true)."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        async_delete_issues(hass, entry.entry_id)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> None:
    """Forget the poll health and the discovery of a removed meter."""
    hass.data.get(DATA_HEALTH, {}).pop(entry.entry_id, None)
    async_delete_issues(hass, entry.entry_id)
    await DiscoveryStore(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: MicrostarConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let a person delete a device the meter no longer has (a channel found absent when it
    was learned again); the meter's own device and the channels it has are refused."""
    if entry.state is ConfigEntryState.LOADED:
        meter = entry.runtime_data.coordinator.discovery
    else:
        meter = await DiscoveryStore(hass, entry.entry_id).async_load(str(entry.unique_id), PROBED)
    return not meter_has_device(meter, device.identifiers)
