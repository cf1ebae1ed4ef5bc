"""Home Assistant's entry points: set up, migrate, unload and remove a meter's entry.

``__init__.py`` hands these names to Home Assistant (see there why they do not live in it).
"""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .catalogue import PROBED
from .config_flow import MicrostarConfigFlow
from .const import DOMAIN, LOGGER
from .coordinator import MicrostarConfigEntry, MicrostarCoordinator, MicrostarRuntimeData
from .devices import meter_has_device
from .discovery import DiscoveryStore
from .entity import async_remove_retired_entities, meter_device
from .poll_health import PollHealth, async_delete_issues
from .services import async_setup_services

PLATFORMS = [Platform.EVENT, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions (they work on any loaded meter entry)."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> bool:
    """Accept an entry of this major version; refuse one a newer major version wrote.

    A newer minor version only added keys this release ignores, and nothing is older than 1.1.
    (Home Assistant refuses a newer major version before asking; kept as the guard its docs ask.)
    """
    if entry.version > MicrostarConfigFlow.VERSION:
        LOGGER.error(
            "The entry of %s was written by a newer release (version %s.%s); this one reads %s.%s",
            entry.title,
            entry.version,
            entry.minor_version,
            MicrostarConfigFlow.VERSION,
            MicrostarConfigFlow.MINOR_VERSION,
        )
        return False
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> bool:
    """Set up a meter: the first poll reads it (and learns it, if never done), sensors follow."""
    coordinator = MicrostarCoordinator(hass, entry, PROBED, _health_so_far(entry))
    # Set before the setup's poll: a failed attempt's runtime data stays on the entry (Home
    # Assistant drops it only when a loaded entry unloads), so the next attempt goes on with
    # its poll health and a meter silent since Home Assistant started still gets its repair.
    entry.runtime_data = MicrostarRuntimeData(coordinator=coordinator)
    async_remove_retired_entities(hass, entry.entry_id, str(entry.unique_id))
    await coordinator.async_config_entry_first_refresh()
    # The meter's device, with its serial number and firmware, exists from the first poll on,
    # before learning confirms the objects of its first entities.
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **meter_device(coordinator, coordinator.discovery)
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if coordinator.pending_objects():
        # The setup's poll learned only the first objects (the add-meter dialog waits for setup):
        # go on at once, after setup, rather than at the next interval.
        entry.async_create_task(
            hass, coordinator.async_request_refresh(), "microstar_dlms discovery after setup"
        )
    return True


def _health_so_far(entry: MicrostarConfigEntry) -> PollHealth:
    """The poll health of this entry's failed setup attempts, or a new one."""
    previous: MicrostarRuntimeData | None = getattr(entry, "runtime_data", None)
    return previous.coordinator.health if previous is not None else PollHealth()


async def async_unload_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> bool:
    """Unload a meter; its repairs go with it (a reload raises them again if still true)."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        async_delete_issues(hass, entry.entry_id)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: MicrostarConfigEntry) -> None:
    """Forget the repairs and the discovery of a removed meter."""
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
