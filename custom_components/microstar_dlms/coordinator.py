"""One poll whenever a class of readings falls due: its turn on the line, one guarded session,
errors mapped once, the poll's health, and what it learned kept in the store.

What a session does is the work of others: ``identity`` (is it still this meter, on which
firmware), ``learner`` (which objects to ask, what the answers teach), ``freshness`` (which
classes are due: live power every 5 s, the standard readings every 30 s, the slow ones every
15 minutes) and ``reading`` (the values of the objects due, each scaled with its unit, laid over
the last reading).
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from time import monotonic
from typing import override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .catalogue import PRESENTED, KnownObject
from .const import DOMAIN, LOGGER, POLL_TIMEOUT
from .devices import async_remove_stale_devices
from .discovery import (
    DISABLED_DISCOVERY_BUDGET,
    DISCOVERY_BUDGET,
    SETUP_DISCOVERY_BUDGET,
    DiscoveryStore,
    MeterDiscovery,
)
from .dlms import MeterClient, MeterSession
from .dlms.bus import Turn
from .dlms.errors import AuthenticationFailed, DlmsError
from .dlms.trace import SessionTrace
from .freshness import INTERVALS, Freshness, ReadSchedule
from .identity import async_check_identity
from .learner import EnabledEntities, Learner, pending_objects, probe_batch
from .line import MeterLine
from .meter_config import MeterConfig
from .meter_io import poll_failed
from .poll_health import PollHealth, async_record_failure, async_record_success
from .reading import DeviationSign, MeterReading, SessionValues
from .registry import registered_objects

type MicrostarConfigEntry = ConfigEntry[MicrostarRuntimeData]


@dataclass(slots=True)
class MicrostarRuntimeData:
    """Runtime data of a config entry: the coordinator, which holds the poll health."""

    coordinator: MicrostarCoordinator

    @property
    def meter(self) -> MeterDiscovery:
        """What the meter has (the setup's poll loads it from the store)."""
        return self.coordinator.discovery


class MicrostarCoordinator(DataUpdateCoordinator[MeterReading]):
    """Reads one meter whenever a class of its readings falls due (or when its turn on a full
    line comes), one session a poll."""

    config_entry: MicrostarConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MicrostarConfigEntry,
        catalogue: Mapping[str, KnownObject],
        health: PollHealth,
    ) -> None:
        """Initialize the coordinator for one config entry, with its poll health so far."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"Microstar meter {entry.unique_id}",
            update_interval=INTERVALS[Freshness.LIVE],
            always_update=False,
        )
        self.meter_config = MeterConfig.from_entry_data(entry.data)
        self.catalogue = catalogue
        self.discovery = MeterDiscovery(str(entry.unique_id))
        self.store = DiscoveryStore(hass, entry.entry_id)
        self._learned = False  # this poll changed the discovery: store it
        # After a failed poll or a dropped energy read, the next poll checks the serial first.
        self._identity_doubt = False
        self._setup_poll = False  # in async_config_entry_first_refresh
        # Devices the meter no longer has are looked for once learning is done (and at setup).
        self._devices_checked = False
        self.deviation = DeviationSign()  # the meter's, learned from its clock
        self.schedule = ReadSchedule()
        self.health = health
        self._frames = SessionTrace()
        # The one client of this meter: its polls and the read action's sessions.
        self.client = MeterClient(self.meter_config.settings(), trace=self._frames.append)
        # The meters behind one gateway take turns.
        self.line = MeterLine(hass, entry, self.client.settings)
        self.seat = self.line.seat

    @override
    async def async_shutdown(self) -> None:
        """Leave the line: a poll still waiting for its turn ends now."""
        self.line.leave()
        await super().async_shutdown()

    @override
    async def _async_setup(self) -> None:
        """Load what earlier polls learned about the meter (none of it is read again)."""
        self.discovery = await self.store.async_load(
            str(self.config_entry.unique_id), self.catalogue
        )

    @override
    async def _async_update_data(self) -> MeterReading:
        """Run one session in this meter's turn (the dialog's, for a meter never learned)."""
        try:
            if self._dialog_waits():
                # One short session a person waits for: served next, before the queued polls
                # (bounded by the lock timeout, as the flow's own session).
                reading = await self._async_poll(None)
            else:
                urgent = self.health.decides_repair(dt_util.utcnow())
                async with self.line.turn(self.schedule, urgent=urgent) as turn:
                    reading = await self._async_poll(turn)
        finally:
            if self._learned:
                self._learned = False
                await self.store.async_save(self.discovery)
        async_record_success(self.hass, self.config_entry, self.health)
        now = dt_util.utcnow()
        self.update_interval = next_in = self.schedule.next_poll_in(now)
        self.health.next_poll = now + next_in  # when the next class falls due
        return reading

    @override
    async def async_config_entry_first_refresh(self) -> None:
        """The setup's poll: short, as the add-meter dialog or Home Assistant's start waits."""
        self._setup_poll = True
        try:
            await super().async_config_entry_first_refresh()
        finally:
            self._setup_poll = False

    def _dialog_waits(self) -> bool:
        """The setup of a meter never learned: the add-meter dialog waits for this poll."""
        return self._setup_poll and not self.discovery.objects

    async def _async_poll(self, turn: Turn | None) -> MeterReading:
        """One session in ``turn`` (a person's when None) within POLL_TIMEOUT; client errors
        mapped to what Home Assistant shows."""
        started = monotonic()
        self._frames.clear()
        try:
            async with asyncio.timeout(POLL_TIMEOUT), self.client.session(turn) as session:
                self.health.negotiated = session.negotiated
                return await self._async_session(session)
        except AuthenticationFailed as err:
            self._record_failure("authentication_failed", answered=True)
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except ConfigEntryError:
            self._record_failure("wrong_meter", answered=True)
            raise
        except (DlmsError, TimeoutError) as err:
            failed = poll_failed(err, self.meter_config)
            self._record_failure(str(failed.translation_key))
            raise failed from err
        finally:
            self.health.last_duration = round(monotonic() - started, 3)
            # Kept in flat buffers, not as records or dicts: either fed the garbage collector
            # (scripts/bench: objects_alive_per_meter); diagnostics redact them when shown.
            self.health.last_frames = self._frames.copy()

    async def _async_session(self, session: MeterSession) -> MeterReading:
        """The identity when due, discovery within its budget, then the values of the enabled
        objects whose class is due (and of those never read yet), over the last reading."""
        started = dt_util.utcnow()
        discovery = self.discovery
        if self._identity_doubt or discovery.identity_due(started):
            await async_check_identity(self.hass, self.config_entry.entry_id, session, discovery)
            self._identity_doubt = False
            self._learned = True
        enabled = self.enabled_entities()
        if not self._dialog_waits():  # else the identity only: learning starts after setup
            await self._async_learn(session, enabled)
        live_first = self.data is not None and self.last_update_success  # see _show
        reads = SessionValues(
            discovery,
            enabled,
            self.deviation,
            live_first=live_first,
            line_has_room=lambda: not self.seat.bus.waiting,
        )
        reading = await reads.async_read(session, self.schedule, started, self.data, self._show)
        self.line.note_interval(self.schedule)
        self._learned |= discovery.forget_changed(reads.undefined)
        return reading

    @callback
    def _show(self, reading: MeterReading) -> None:
        """Show a session's live values while it goes on, as a poll's end would (data, then the
        listeners); only for a meter shown available, so a later read's failure still fails the
        poll. Not async_set_updated_data: it marks the poll good and sets the next poll's timer
        before the session has ended, which its end does (or fails the poll)."""
        self.data = reading
        self.async_update_listeners()

    async def _async_learn(self, session: MeterSession, enabled: EnabledEntities) -> None:
        """Probe the objects still unknown, batch by batch, within this poll's budget."""
        learner = Learner(
            self.catalogue,
            self.discovery,
            enabled,
            batch=probe_batch(session.negotiated),
            budget=SETUP_DISCOVERY_BUDGET if self._setup_poll else DISCOVERY_BUDGET,
            disabled_budget=DISABLED_DISCOVERY_BUDGET,
        )
        if not learner.pending():  # learned: the poll reads values only
            if not self._devices_checked:
                self._devices_checked = True
                async_remove_stale_devices(self.hass, self.config_entry.entry_id, self.discovery)
            return
        self._devices_checked = False
        while probe := learner.next_probe():
            learner.learn(probe, await session.read_attributes([o.probe_ref() for o in probe]))
            self._learned = True

    def enabled_entities(self) -> EnabledEntities:
        """Which objects' entities are enabled (the entity registry read once, per poll)."""
        entry = self.config_entry
        registered = registered_objects(self.hass, entry.entry_id, str(entry.unique_id))
        return EnabledEntities(PRESENTED, registered, self.discovery)

    def pending_objects(self) -> list[str]:
        """Catalogue keys still to probe, enabled entities' first."""
        return pending_objects(self.catalogue, self.discovery, self.enabled_entities())

    @callback
    def record_glitch(self) -> None:
        """Count a read an energy guard dropped (diagnostics show the count)."""
        self.health.glitches_dropped += 1
        self._identity_doubt = True

    @callback
    def _record_failure(self, kind: str, *, answered: bool = False) -> None:
        """Count a failed poll (repairs, back-off); the next poll checks the identity first."""
        self._identity_doubt = True
        self.update_interval = async_record_failure(
            self.hass, self.config_entry, self.health, kind, self.meter_config, answered=answered
        )
