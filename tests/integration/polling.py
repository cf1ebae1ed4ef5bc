"""Moving Home Assistant's clock to the next poll, shared by the integration tests."""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

# The frozen clock also moves with the real time a session against the simulator takes (about a
# second on a loaded machine), which can put the coordinator's next refresh (30 s + 0.05-0.5 s
# after the last one) just past a 30 s tick: timers due this much later fire too.
SLACK = timedelta(seconds=3)


async def poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 30) -> None:
    """Let ``seconds`` pass and the poll that falls due in them finish."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass, dt_util.utcnow() + SLACK)
    await hass.async_block_till_done(wait_background_tasks=True)
