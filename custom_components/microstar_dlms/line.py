"""A meter's seat on its gateway's line: its turns, and a word in the log when a full line
stretches its standard interval (``dlms/bus.py`` orders the turns of every meter behind one
gateway: due polls before spare ones, which only have live reads to do)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .const import LOGGER
from .dlms import ConnectionSettings
from .dlms.bus import Turn, bus_for
from .dlms.transport import endpoint_key
from .freshness import Freshness, ReadSchedule

# A meter's turns this much further apart than its interval: the line is full (logged once).
LINE_FULL_FACTOR: Final = 1.5


class MeterLine:
    """One meter's place among the meters behind its gateway (one seat on the endpoint's bus)."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, settings: ConnectionSettings
    ) -> None:
        """Take a seat on the line ``settings`` reach; leave it when Home Assistant stops."""
        self.seat = bus_for(endpoint_key(settings.endpoint)).seat(str(entry.unique_id))
        self._shown = settings.peer
        self._full = False
        entry.async_on_unload(
            hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_stop)
        )

    @callback
    def _async_stop(self, _event: Event) -> None:
        """Home Assistant stops: a poll waiting for its turn ends now, not after the queue."""
        self.leave()

    def leave(self) -> None:
        """Leave the line (the entry unloads): a poll still waiting for its turn ends now."""
        self.seat.close()

    @asynccontextmanager
    async def turn(self, schedule: ReadSchedule, *, urgent: bool = False) -> AsyncIterator[Turn]:
        """Wait for this meter's turn (as long as the line needs: not a failure) and hold it.

        Until the ``schedule``'s standard or slow reads fall due the poll has only live reads
        to do: it goes when no due poll waits. ``urgent``: the poll decides a repair, it goes
        before the other polls.
        """
        due_at = schedule.beyond_live_due_at()
        due_in = 0.0 if due_at is None else (due_at - dt_util.utcnow()).total_seconds()
        loop_due = asyncio.get_running_loop().time() + due_in if due_in > 0 else None
        async with self.seat.turn(due_at=loop_due, urgent=urgent) as turn:
            yield turn

    def note_interval(self, schedule: ReadSchedule) -> None:
        """Say once when a full line stretches the standard interval (between the
        ``schedule``'s last two standard reads), and when it no longer does."""
        measured = schedule.measured.get(Freshness.STANDARD)
        if measured is None:
            return
        interval = measured.total_seconds()
        full = interval > LINE_FULL_FACTOR * schedule.intervals[Freshness.STANDARD].total_seconds()
        if full != self._full:
            self._full = full
            LOGGER.info(
                "Meter %s: %s: read every %.0f s, %d meters share %s",
                self.seat.name,
                "the line is full" if full else "the line has room again",
                interval,
                len(self.seat.bus.seats),
                self._shown,
            )
