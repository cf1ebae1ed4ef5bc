"""Base entity: one device per meter, unique ids ``<serial>_<obis>``."""

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER
from .coordinator import MicrostarCoordinator
from .cosem import object_unique_id
from .discovery import MeterDiscovery

THREE_PHASE_MARKER = "1.1.52.7.0.255"  # voltage L2: single-phase meters do not have it


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
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, meter.serial)},
            manufacturer=MANUFACTURER,
            # As a meter's nameplate writes it ("3~" for three-phase): the same in every language,
            # as Home Assistant offers no translation for a device model.
            model="DLMS/COSEM 3~" if THREE_PHASE_MARKER in meter.objects else "DLMS/COSEM 1~",
            name=coordinator.config_entry.title,
            serial_number=meter.serial,
            sw_version=meter.firmware,
        )
