"""Field tools for Microstar DLMS meters (``scripts/meter``); not shipped with the integration."""
