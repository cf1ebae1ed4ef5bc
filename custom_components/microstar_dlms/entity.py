"""Base entity: one device per meter (and per extra channel), unique ids ``<serial>_<obis>``."""

from functools import lru_cache
from typing import Final

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .catalogue import CATALOGUE, THREE_PHASE_MARKER
from .const import MANUFACTURER
from .coordinator import MicrostarCoordinator
from .cosem import object_unique_id
from .devices import channel_identifier, meter_identifier
from .discovery import MeterDiscovery


class MicrostarEntity(CoordinatorEntity[MicrostarCoordinator]):
    """An entity of one Microstar meter."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: MicrostarCoordinator,
        description: EntityDescription,
        meter: MeterDiscovery,
    ) -> None:
        """Initialize the entity from what discovery learned about the meter."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = object_unique_id(meter.serial, description.key)
        channel = CATALOGUE[description.key].channel
        self._attr_device_info = (
            meter_device(coordinator, meter)
            if channel == 1
            else channel_device(coordinator, meter, channel)
        )


def meter_device(coordinator: MicrostarCoordinator, meter: MeterDiscovery) -> DeviceInfo:
    """The meter's device (its channel 1: what it measures)."""
    # As a meter's nameplate writes it ("3~" for three-phase): the same in every language,
    # as Home Assistant offers no translation for a device model.
    model = "DLMS/COSEM 3~" if THREE_PHASE_MARKER in meter.objects else "DLMS/COSEM 1~"
    return _meter_device(meter.serial, coordinator.config_entry.title, model, meter.firmware)


def channel_device(
    coordinator: MicrostarCoordinator, meter: MeterDiscovery, channel: int
) -> DeviceInfo:
    """Channel 2 or 3 of a dual-source meter: a device of its own, via the meter's."""
    entry = coordinator.config_entry
    meter_entry = dr.async_get(coordinator.hass).async_get_or_create(
        config_entry_id=entry.entry_id, **meter_device(coordinator, meter)
    )
    return _channel_device(meter.serial, channel, entry.title, meter_entry.id)


# A device's info is shared by its entities (Home Assistant only reads it), not built per entity
# (scripts/bench: objects_alive_per_meter); a new title or firmware gives a new one.
DEVICES_SHARED: Final = 512


@lru_cache(maxsize=DEVICES_SHARED)
def _meter_device(serial: str, title: str, model: str, firmware: str | None) -> DeviceInfo:
    return DeviceInfo(
        identifiers={meter_identifier(serial)},
        manufacturer=MANUFACTURER,
        model=model,
        name=title,
        serial_number=serial,
        sw_version=firmware,
    )


@lru_cache(maxsize=DEVICES_SHARED)
def _channel_device(serial: str, channel: int, title: str, via_device_id: str) -> DeviceInfo:
    return DeviceInfo(
        identifiers={channel_identifier(serial, channel)},
        manufacturer=MANUFACTURER,
        translation_key="channel",
        translation_placeholders={"meter": title, "channel": str(channel)},
        via_device_id=via_device_id,
    )
