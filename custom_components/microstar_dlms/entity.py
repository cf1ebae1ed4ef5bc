"""Base entity: one device per meter (and per extra channel), unique ids ``<serial>_<obis>``.

An entity writes its state when its object was read in the session (a live one every few
seconds, a slow one every 15 minutes: its last report time says when the meter was last asked)
or when the meter went out of reach or came back; between its reads it keeps its last value.
"""

from functools import lru_cache
from typing import Final, override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .catalogue import CATALOGUE, CHANNEL_SOURCES, PRESENTED, THREE_PHASE_MARKER
from .const import LOGGER, MANUFACTURER
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
        self._shown_available: bool | None = None
        self._attr_unique_id = object_unique_id(meter.serial, description.key)
        channel = CATALOGUE[description.key].channel
        self._attr_device_info = (
            meter_device(coordinator, meter)
            if channel == 1
            else channel_device(coordinator, meter, channel)
        )

    @property
    def read_now(self) -> bool:
        """Whether the last session read this entity's object."""
        return self.entity_description.key in self.coordinator.data.read

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state when the object was read now, or the meter's reach changed."""
        available = self.available
        if self.read_now or available != self._shown_available:
            self._shown_available = available
            super()._handle_coordinator_update()


def meter_model(meter: MeterDiscovery) -> str:
    """The meter's model as its nameplate writes it ("3~" for three-phase): the same in every
    language, as Home Assistant offers no translation for a device model."""
    return "DLMS/COSEM 3~" if THREE_PHASE_MARKER in meter.objects else "DLMS/COSEM 1~"


def meter_device(coordinator: MicrostarCoordinator, meter: MeterDiscovery) -> DeviceInfo:
    """The meter's device (its channel 1: what it measures), with its serial and firmware."""
    return _meter_device(
        meter.serial, coordinator.config_entry.title, meter_model(meter), meter.firmware
    )


def channel_device(
    coordinator: MicrostarCoordinator, meter: MeterDiscovery, channel: int
) -> DeviceInfo:
    """Channel 2 or 3 of a dual-source meter: a device of its own, via the meter's, named for
    its source ("Microstar 21061234: standby source").

    The colon keeps the meter's own entities first in the Energy dashboard's pickers: they sort
    "<device name>_<entity name>" with the browser's collator, where ":" comes after "_" and a
    space before it (so "Microstar 21061234 channel 2" came first).
    """
    entry = coordinator.config_entry
    meter_entry = dr.async_get(coordinator.hass).async_get_or_create(
        config_entry_id=entry.entry_id, **meter_device(coordinator, meter)
    )
    return _channel_device(meter.serial, channel, entry.title, meter_model(meter), meter_entry.id)


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
def _channel_device(
    serial: str, channel: int, title: str, model: str, via_device_id: str
) -> DeviceInfo:
    return DeviceInfo(
        identifiers={channel_identifier(serial, channel)},
        manufacturer=MANUFACTURER,
        model=model,
        translation_key=CHANNEL_SOURCES[channel],
        translation_placeholders={"meter": title},
        via_device_id=via_device_id,
    )


@callback
def async_remove_retired_entities(hass: HomeAssistant, entry_id: str, serial: str) -> None:
    """Remove the entry's entities the catalogue no longer presents on their platform (the
    serial number and firmware sensors of earlier releases: facts of the device now), so an
    existing installation keeps no entity that nothing provides."""
    presented = {
        (p.platform, object_unique_id(serial, key))
        for key, known in PRESENTED.items()
        for p in known.presented
    }
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry_id):
        if (entity.domain, entity.unique_id) not in presented:
            LOGGER.info("Meter %s: %s is no longer provided; removing it", serial, entity.entity_id)
            registry.async_remove(entity.entity_id)
