"""Constants for the Microstar DLMS integration."""

from typing import Final

DOMAIN: Final = "microstar_dlms"
