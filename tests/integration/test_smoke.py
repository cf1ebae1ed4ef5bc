"""The integration's domain loads in a real Home Assistant from the test harness."""

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component

from custom_components.microstar_dlms.const import DOMAIN


async def test_domain_loads(hass: HomeAssistant) -> None:
    """The manifest is read and the component sets up."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.name == "Microstar DLMS"
    assert integration.config_flow is True
    assert await async_setup_component(hass, DOMAIN, {})
    assert DOMAIN in hass.config.components
