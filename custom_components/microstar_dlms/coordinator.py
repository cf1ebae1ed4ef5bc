"""One poll per interval: its turn on the line, one guarded session, discovery until done,
errors mapped once."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
import logging
from time import monotonic
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .catalogue import KnownObject
from .const import (
    DOMAIN,
    LOGGER,
    POLL_TIMEOUT,
    READ_ACTION_TIMEOUT,
    READ_ACTION_WAIT,
    UPDATE_INTERVAL,
)
from .cosem import (
    CLASS_CLOCK,
    FIRMWARE,
    UNSCALED,
    MeterObject,
    ScalerUnit,
    as_datetime,
    as_number,
    as_text,
    object_unique_id,
    parse_scaler_unit,
)
from .devices import async_remove_stale_devices, meter_identifier
from .discovery import (
    DISABLED_DISCOVERY_BUDGET,
    DISCOVERY_BUDGET,
    PROBE_BATCH,
    SETUP_DISCOVERY_BUDGET,
    DiscoveryStore,
    MeterDiscovery,
)
from .dlms import AttributeRef, MeterClient, MeterSession
from .dlms.bus import bus_for
from .dlms.errors import (
    AuthenticationFailed,
    DataAccessError,
    DataAccessResult,
    DlmsError,
)
from .dlms.trace import SessionTrace
from .dlms.transport import endpoint_key
from .meter_config import MeterConfig
from .meter_io import async_read_identity, error_kind
from .poll_health import PollHealth, async_delete_issues, async_raise_issue

# A meter's turns this much further apart than its interval: the line is full (logged once).
LINE_FULL_FACTOR = 1.5

type MicrostarConfigEntry = ConfigEntry[MicrostarRuntimeData]


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One poll's values: scaled register values (None after a data-access error)."""

    values: Mapping[str, Decimal | datetime | None]
    clock_drift: int | None = None
    capture_times: Mapping[str, datetime] = field(default_factory=dict)
    """When a demand register's value was captured (extended and demand registers)."""


@dataclass(slots=True)
class MicrostarRuntimeData:
    """Runtime data of a config entry: the coordinator, which holds the poll health."""

    coordinator: MicrostarCoordinator

    @property
    def meter(self) -> MeterDiscovery:
        """What the meter has (the setup's poll loads it from the store)."""
        return self.coordinator.discovery


# Answers that say the object is not there for this client: never asked again (until the meter's
# firmware or the entry's access level changes). Any other refusal is asked again next poll.
_ABSENT_RESULTS = frozenset(
    {
        DataAccessResult.OBJECT_UNDEFINED,
        DataAccessResult.OBJECT_UNAVAILABLE,
        DataAccessResult.OBJECT_CLASS_INCONSISTENT,
        DataAccessResult.TYPE_UNMATCHED,
        DataAccessResult.READ_WRITE_DENIED,
        DataAccessResult.SCOPE_OF_ACCESS_VIOLATED,
    }
)


class MicrostarCoordinator(DataUpdateCoordinator[MeterReading]):
    """Reads one meter every 30 s (or when its turn on a full line comes), one session a poll."""

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
            update_interval=UPDATE_INTERVAL,
            always_update=False,
        )
        self.meter_config = MeterConfig.from_entry_data(entry.data)
        self.catalogue = catalogue
        self.discovery = MeterDiscovery(str(entry.unique_id))
        self.store = DiscoveryStore(hass, entry.entry_id)
        self._learned = False  # this poll changed the discovery: store it
        # After a failed poll or a dropped energy read, the next poll checks the serial first:
        # the gateway's address may now reach another meter (every one answers the 1-byte form).
        self._identity_doubt = False
        self._setup_poll = False  # in async_config_entry_first_refresh
        # Devices the meter no longer has are looked for once learning is done (and at setup).
        self._devices_checked = False
        self.health = health
        self._frames = SessionTrace()
        self._client = MeterClient(
            self.meter_config.settings(self.meter_config.server_address()),
            trace=self._frames.append,
        )
        # The meters behind one gateway take turns; the wait is not bounded (not a failure).
        self.seat = bus_for(endpoint_key(self._client.settings.endpoint)).seat(str(entry.unique_id))
        self._line_full = False
        entry.async_on_unload(
            hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_leave_line)
        )

    @callback
    def _async_leave_line(self, _event: Event) -> None:
        """Home Assistant stops: a poll waiting for its turn ends now, not after the queue."""
        self.seat.close()

    @override
    async def async_shutdown(self) -> None:
        """Leave the line: a poll still waiting for its turn ends now."""
        self.seat.close()
        await super().async_shutdown()

    @override
    async def _async_setup(self) -> None:
        """Load what earlier polls learned about the meter (none of it is read again)."""
        self.discovery = await self.store.async_load(
            str(self.config_entry.unique_id), self.catalogue
        )

    @override
    async def _async_update_data(self) -> MeterReading:
        """Run one session: go on with discovery while it is unfinished, read enabled objects."""
        try:
            if self._dialog_waits():
                # One short session a person waits for: served next, before the queued polls
                # (bounded by the lock timeout, as the flow's own session).
                reading = await self._async_poll()
            else:
                async with self.seat.turn():
                    self._note_line_cycle()
                    reading = await self._async_poll()
        finally:
            if self._learned:
                self._learned = False
                await self.store.async_save(self.discovery)
        self._record_success()
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

    async def _async_poll(self) -> MeterReading:
        """One session within POLL_TIMEOUT; client errors mapped to what Home Assistant shows."""
        started = monotonic()
        self._frames.clear()
        try:
            async with asyncio.timeout(POLL_TIMEOUT), self._client.session() as session:
                self.health.negotiated = session.negotiated
                await self._async_discover(session)
                return await self._async_read(session, self.discovery)
        except AuthenticationFailed as err:
            self._record_answered_failure("authentication_failed")
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except ConfigEntryError:
            self._record_answered_failure("wrong_meter")
            raise
        except DlmsError as err:
            kind = error_kind(err)
            self._record_failure(kind)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=kind,
                translation_placeholders={
                    "endpoint": self.meter_config.display_endpoint,
                    "error": str(err),
                },
            ) from err
        except TimeoutError as err:
            self._record_failure("poll_timeout")
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="poll_timeout",
                translation_placeholders={"seconds": str(int(POLL_TIMEOUT))},
            ) from err
        finally:
            self.health.last_duration = round(monotonic() - started, 3)
            # Kept in flat buffers, not as records or dicts: either fed the garbage collector
            # (scripts/bench: objects_alive_per_meter); diagnostics redact them when shown.
            self.health.last_frames = self._frames.copy()

    def _note_line_cycle(self) -> None:
        """Say once when a full line stretches this meter's interval, and when it no longer does."""
        interval = self.seat.interval
        if interval is None:
            return
        # Against the interval asked for (a failing meter's back-off is not a full line).
        asked = (self.update_interval or UPDATE_INTERVAL).total_seconds()
        full = interval > LINE_FULL_FACTOR * asked
        if full != self._line_full:
            self._line_full = full
            LOGGER.info(
                "Meter %s: %s: read every %.0f s, %d meters share %s",
                self.config_entry.unique_id,
                "the line is full" if full else "the line has room again",
                interval,
                len(self.seat.bus.seats),
                self.meter_config.display_endpoint,
            )

    async def _async_discover(self, session: MeterSession) -> None:
        """Check the meter's identity when due; probe unconfirmed objects within the budget.

        Each object is asked for its scaler_unit (its value, for a class without one): an
        answer confirms it, a refusal marks it absent. Progress is kept batch by batch, so a
        poll cut short loses nothing it learned; enabled entities' objects go first.
        """
        discovery = self.discovery
        if self._identity_doubt or discovery.identity_due(dt_util.utcnow()):
            await self._async_check_identity(session)
        if self._dialog_waits():
            # The identity only; learning starts in the poll right after setup.
            return
        pending = self.pending_objects()
        if not pending:
            # Learned: the poll reads values only.
            if not self._devices_checked:
                self._devices_checked = True
                async_remove_stale_devices(self.hass, self.config_entry.entry_id, discovery)
            return
        self._devices_checked = False
        # One object per request without GET-with-list (the field meter): the wire cost is the
        # same and every answer is kept the moment it arrives.
        negotiated = session.negotiated
        size = PROBE_BATCH if negotiated is not None and negotiated.multiple_references else 1
        # Any other poll of a setup is short too: values first, learning after.
        budget = SETUP_DISCOVERY_BUDGET if self._setup_poll else DISCOVERY_BUDGET
        started = monotonic()
        # Objects of disabled entities (most of a large meter's) are learned a little per poll:
        # the enabled entities appear in seconds and no poll runs long for the others.
        deadlines = (started + budget, started + min(budget, DISABLED_DISCOVERY_BUDGET))
        asked: set[str] = set()
        keys = pending
        # A confirmed channel opens its other objects: they are probed in the same poll.
        while keys and await self._async_probe(session, keys, size, deadlines):
            asked.update(keys)
            keys = [key for key in self.pending_objects() if key not in asked]
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug(
                "Meter %s: has %s; %d objects still to probe",
                discovery.serial,
                sorted(discovery.objects),
                len(self.pending_objects()),
            )

    async def _async_probe(
        self, session: MeterSession, keys: list[str], size: int, deadlines: tuple[float, float]
    ) -> bool:
        """Probe ``keys`` (enabled entities' first) in batches of ``size``; objects of disabled
        entities only until the second deadline. False when the first deadline stopped it."""
        deadline, disabled_deadline = deadlines
        for first in range(0, len(keys), size):
            if monotonic() >= disabled_deadline and not self.is_enabled(keys[first]):
                return True  # the rest are disabled entities' too: a later poll's
            batch = [
                MeterObject(key, self.catalogue[key].class_id) for key in keys[first : first + size]
            ]
            refs = [obj.scaler_unit_ref() or obj.value_ref() for obj in batch]
            results = await session.read_attributes(refs)
            for obj, result in zip(batch, results, strict=True):
                self._learn(obj, result.error, result.value)
            self._learned = True
            if monotonic() >= deadline:
                return False
        return True

    def pending_objects(self) -> list[str]:
        """Catalogue keys still to probe, enabled entities' first (firmware is identity).

        An object waiting for another (a channel's registers for the channel's energy total)
        is probed once that one is confirmed, and never where it is absent.
        """
        discovery = self.discovery
        catalogue = self.catalogue
        keys = [
            key
            for key in discovery.pending(catalogue)  # every poll: the cheap test first
            if key != FIRMWARE
            and all(required in discovery.objects for required in catalogue[key].requires)
        ]
        return sorted(keys, key=lambda key: not self.is_enabled(key))

    def _learn(self, obj: MeterObject, error: DataAccessError | None, value: Any) -> None:
        """Confirm an object from its probe's answer, or mark it absent."""
        discovery = self.discovery
        has_scaler = obj.scaler_unit_ref() is not None
        scaler_unit = parse_scaler_unit(value) if error is None and has_scaler else None
        if error is not None and error.result not in _ABSENT_RESULTS:
            # A passing refusal (temporary failure, hardware fault): ask again next poll.
            LOGGER.debug("Meter %s: %s not answered now (%s)", discovery.serial, obj.key, error)
            return
        if error is not None or (has_scaler and scaler_unit is None):
            LOGGER.debug("Meter %s: %s absent or unusable (%s)", discovery.serial, obj.key, error)
            discovery.absent.add(obj.key)
            return
        discovery.confirm(obj, scaler_unit)

    async def _async_check_identity(self, session: MeterSession) -> None:
        """Read serial and firmware: another meter is an error, new firmware a new discovery."""
        discovery = self.discovery
        serial, firmware_read = await async_read_identity(session)
        if serial != self.config_entry.unique_id:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="wrong_meter",
                translation_placeholders={
                    "expected": str(self.config_entry.unique_id),
                    "found": serial,
                },
            )
        if firmware_read.error is None:
            firmware = as_text(firmware_read.value)
        else:
            # A meter without the object has none; one read failing is no firmware change.
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
            self._update_device_firmware(firmware)
        discovery.firmware = firmware
        discovery.identity_checked = dt_util.utcnow()
        self._identity_doubt = False
        self._learned = True

    def _update_device_firmware(self, firmware: str | None) -> None:
        """Show the new firmware on the meter's device."""
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier(
            meter_identifier(self.discovery.serial), self.config_entry.entry_id
        )
        if device is not None:
            registry.async_update_device(device.id, sw_version=firmware)

    async def _async_read(self, session: MeterSession, discovery: MeterDiscovery) -> MeterReading:
        """Read the values of objects whose entities are enabled, one round trip each."""
        wanted = [obj for key, obj in discovery.objects.items() if self.is_enabled(key)]
        captured = [(obj.key, ref) for obj in wanted if (ref := obj.capture_time_ref())]
        results = await session.read_attributes(
            [obj.value_ref() for obj in wanted] + [ref for _, ref in captured]
        )
        read_at = dt_util.utcnow()
        capture_times = {
            key: stamp
            for (key, _), result in zip(captured, results[len(wanted) :], strict=True)
            if result.error is None
            and isinstance(stamp := register_value(result.value, UNSCALED), datetime)
        }
        results = results[: len(wanted)]
        values: dict[str, Decimal | datetime | None] = {}
        clock_drift = None
        for obj, result in zip(wanted, results, strict=True):
            if result.error is not None:
                LOGGER.debug("Meter %s: %s: %s", discovery.serial, obj.key, result.error)
                values[obj.key] = None
                if result.error.result is DataAccessResult.OBJECT_UNDEFINED:
                    self._forget_meter(obj.key)
                continue
            if obj.class_id == CLASS_CLOCK:
                clock_drift = meter_clock_drift(result.value, read_at)
                continue
            values[obj.key] = register_value(
                result.value, discovery.scaler_units.get(obj.key, UNSCALED)
            )
        return MeterReading(values, clock_drift, capture_times)

    async def async_read_attributes(
        self, refs: list[AttributeRef]
    ) -> list[tuple[Any, DataAccessError | None]]:
        """Read attributes for the read action, in a session of this meter's client within an
        action's turn on the line: never a second connection, at most one action before a
        waiting poll. EndpointBusy past READ_ACTION_WAIT; TimeoutError past READ_ACTION_TIMEOUT."""
        async with (
            self.seat.bus.action_turn(within=READ_ACTION_WAIT),
            asyncio.timeout(READ_ACTION_TIMEOUT),
            self._client.session() as session,
        ):
            results = await session.read_attributes(refs)
        return [(result.value, result.error) for result in results]

    def _forget_meter(self, key: str) -> None:
        """A confirmed object is undefined now: the meter changed, learn it again next poll."""
        if not self.discovery.objects:
            return  # already forgotten in this poll
        LOGGER.warning(
            "Meter %s no longer has %s; learning its objects again", self.discovery.serial, key
        )
        self.discovery.forget()
        self._learned = True

    def is_enabled(self, key: str) -> bool:
        """Whether an entity of an object is enabled: registry first, else its default."""
        registry = er.async_get(self.hass)
        unique_id = object_unique_id(str(self.config_entry.unique_id), key)
        known = self.catalogue[key]
        registered = False
        for platform in {presentation.platform for presentation in known.presented}:
            if entity_id := registry.async_get_entity_id(platform, DOMAIN, unique_id):
                registered = True
                entity = registry.async_get(entity_id)
                if entity is not None and not entity.disabled:
                    return True
        return not registered and known.enabled_by_default(self.discovery.objects)

    @callback
    def record_glitch(self) -> None:
        """Count a read an energy guard dropped (diagnostics show the count)."""
        self.health.glitches_dropped += 1
        self._identity_doubt = True

    def _record_success(self) -> None:
        """Count a good poll and clear this entry's repairs."""
        self.health.record_success(dt_util.utcnow())
        self.update_interval = UPDATE_INTERVAL
        async_delete_issues(self.hass, self.config_entry.entry_id)

    @callback
    def _record_answered_failure(self, kind: str) -> None:
        """Count a poll a meter answered but refused (password, another meter): no repair holds."""
        self._record_failure(kind)
        # The meter is not silent and the gateway not busy; what the user acts on now is the
        # reauth flow or the entry's error, and polling stops for a rejected password.
        async_delete_issues(self.hass, self.config_entry.entry_id)

    @callback
    def _record_failure(self, kind: str) -> None:
        """Count a failed poll and raise the repairs its streak calls for."""
        placeholders = {
            "title": self.config_entry.title,
            "endpoint": self.meter_config.display_endpoint,
        }
        self._identity_doubt = True
        now = dt_util.utcnow()
        for issue in self.health.record_failure(kind, now):
            async_raise_issue(self.hass, self.config_entry.entry_id, issue, placeholders)
        # A failing meter backs off, so its timeouts do not take the line from the others.
        self.update_interval = self.health.next_poll_in(now)


def register_value(value: Any, scaler_unit: ScalerUnit) -> Decimal | datetime | None:
    """A register's value: a number scaled, a date-time (a naive one is local time), else None."""
    if (raw := as_number(value)) is not None:
        return scaler_unit.scale(raw)
    try:
        # The standard's deviation sign: the "closer to now" guess of the clock would always
        # pick the later of the two readings of a past time stamp.
        stamp = as_datetime(value)
    except OverflowError, ValueError:
        return None
    if stamp is not None and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt_util.get_default_time_zone())
    return stamp


def meter_clock_drift(value: Any, read_at: datetime) -> int | None:
    """Seconds the meter clock is ahead of Home Assistant (a naive clock is local time)."""
    try:
        meter_time = as_datetime(value, near=read_at)
        if meter_time is None:
            return None
        if meter_time.tzinfo is None:
            meter_time = meter_time.replace(tzinfo=dt_util.get_default_time_zone())
        return round((meter_time - read_at).total_seconds())  # whole seconds, as the meter keeps
    except OverflowError:  # a clock at year 1 or 9999 with a deviation: no drift to show
        return None
