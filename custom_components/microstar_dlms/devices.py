"""The devices of a meter: its own, and one per extra channel it has; which ones are stale.

Channels 2 and 3 of a dual-source meter are devices of their own, created as discovery confirms
them. A channel device is stale once discovery found the channel's energy total absent (the
meter learned again after new firmware, a changed access level or an object gone): it is
removed when learning is done, and a person may delete it. The meter's own device, and a
channel not yet asked for again, are never stale.
"""

from collections.abc import Callable, Collection
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .catalogue import CHANNELS, channel_marker
from .const import DOMAIN, LOGGER
from .discovery import MeterDiscovery


def meter_identifier(serial: str) -> tuple[str, str]:
    """The device registry identifier of the meter's own device (its channel 1)."""
    return (DOMAIN, serial)


def channel_identifier(serial: str, channel: int) -> tuple[str, str]:
    """The device registry identifier of channel 2 or 3 of the meter."""
    return (DOMAIN, f"{serial}_channel_{channel}")


def device_channel(serial: str, identifiers: Collection[tuple[str, str]]) -> int | None:
    """The channel a device of meter ``serial`` stands for (1: the meter); None: not its own."""
    for channel in CHANNELS:
        wanted = meter_identifier(serial) if channel == 1 else channel_identifier(serial, channel)
        if wanted in identifiers:
            return channel
    return None


def meter_has_device(meter: MeterDiscovery, identifiers: Collection[tuple[str, str]]) -> bool:
    """Whether the meter still has this device: its own, or a channel not found absent."""
    channel = device_channel(meter.serial, identifiers)
    if channel is None:
        return False
    marker = channel_marker(channel)
    return marker is None or marker not in meter.absent


@callback
def async_remove_stale_devices(hass: HomeAssistant, entry_id: str, meter: MeterDiscovery) -> None:
    """Remove the entry's devices the meter no longer has (their entities go with them)."""
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry_id):
        if not meter_has_device(meter, device.identifiers):
            LOGGER.info(
                "Meter %s no longer has %s; removing the device",
                meter.serial,
                device.name or device.id,
            )
            registry.async_remove_device(device.id)


@callback
def async_on_channel_removed(
    hass: HomeAssistant, serial: str, forget: Callable[[int], object]
) -> CALLBACK_TYPE:
    """Call ``forget(channel)`` when a channel device of meter ``serial`` is removed, however
    it was removed: its entities went with it, so a platform must build them again if the
    channel comes back. Returns the unsubscribe callback."""

    @callback
    def _removed(event: Event[dr.EventDeviceRegistryUpdatedData]) -> None:
        if event.data["action"] != "remove":
            return
        device: dict[str, Any] = event.data["device"]
        identifiers = {(domain, name) for domain, name in device["identifiers"]}
        channel = device_channel(serial, identifiers)
        if channel is not None and channel != 1:
            forget(channel)

    return hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, _removed)
