"""Is the meter that answers still this entry's, and on which firmware? Checked once a day and
after every doubt (a failed poll, a dropped energy read): the gateway's address may now reach
another meter (every one answers the 1-byte form), and new firmware means learning it again."""

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .cosem import as_text
from .devices import meter_identifier
from .discovery import MeterDiscovery
from .dlms import MeterSession
from .meter_io import async_read_identity


async def async_check_identity(
    hass: HomeAssistant, entry_id: str, session: MeterSession, discovery: MeterDiscovery
) -> None:
    """Read serial and firmware: another meter is ConfigEntryError; new firmware forgets what
    was learned and shows on the meter's device. Objects set aside are asked again after it."""
    serial, firmware_read = await async_read_identity(session)
    if serial != discovery.serial:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="wrong_meter",
            translation_placeholders={"expected": discovery.serial, "found": serial},
        )
    if firmware_read.error is None:
        firmware = as_text(firmware_read.value)
    else:
        # A meter without the object has none; one read refused (with a data-access result or
        # an exception) is no firmware change, and leaves no doubt on the identity: the serial
        # answered.
        LOGGER.debug("Meter %s: firmware id not read (%s)", serial, firmware_read.error)
        firmware = discovery.firmware
    if firmware != discovery.firmware:
        if discovery.objects or discovery.absent:
            LOGGER.info(
                "Meter %s: firmware %s is now %s; learning its objects again",
                serial,
                discovery.firmware,
                firmware,
            )
            discovery.forget()
        _show_firmware(hass, entry_id, serial, firmware)
    discovery.firmware = firmware
    discovery.identity_checked = dt_util.utcnow()
    discovery.set_aside.clear()  # what was refused with an exception is asked again now


def _show_firmware(hass: HomeAssistant, entry_id: str, serial: str, firmware: str | None) -> None:
    """Show the new firmware on the meter's device."""
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier(meter_identifier(serial), entry_id)
    if device is not None:
        registry.async_update_device(device.id, sw_version=firmware)
