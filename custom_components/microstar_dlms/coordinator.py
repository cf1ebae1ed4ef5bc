"""One poll per interval: one guarded session, discovery on the first, errors mapped once."""

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from decimal import Decimal
from enum import Flag
from time import monotonic
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .connection import MeterConfig, async_read_serial, error_kind
from .const import (
    DOMAIN,
    ISSUE_GATEWAY_BUSY,
    ISSUE_METER_SILENT,
    LOGGER,
    METER_INACTIVITY_WINDOW,
    POLL_TIMEOUT,
    REPAIR_AFTER_POLLS,
    UPDATE_INTERVAL,
)
from .cosem import (
    CLASS_CLOCK,
    FIRMWARE,
    OBJECT_LIST,
    UNSCALED,
    MeterObject,
    ScalerUnit,
    as_datetime,
    as_number,
    as_text,
    parse_object_list,
    parse_scaler_unit,
)
from .dlms import MeterClient, MeterSession
from .dlms.errors import (
    AuthenticationFailed,
    DataAccessError,
    DlmsError,
)
from .redact import redact_frames

type MicrostarConfigEntry = ConfigEntry[MicrostarRuntimeData]

# Poll health survives setup retries, so a meter silent since Home Assistant started still
# raises its repair; keyed by entry id and dropped when the entry is removed.
DATA_HEALTH: HassKey[dict[str, PollHealth]] = HassKey(DOMAIN)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """An object the integration can present: its expected class and default visibility."""

    class_id: int
    enabled_by_default: bool


@dataclass(slots=True)
class MeterDiscovery:
    """What the first poll learned about the meter; scalers never change, so read once."""

    serial: str
    firmware: str | None
    objects: dict[str, MeterObject]
    scaler_units: dict[str, ScalerUnit]
    object_list_read: bool


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One poll's values: scaled register values (None after a data-access error)."""

    values: Mapping[str, Decimal | None]
    clock_drift: int | None = None


@dataclass(slots=True)
class PollHealth:
    """Poll statistics and repair streaks of one entry."""

    successes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    last_duration: float | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_failure_kind: str | None = None
    busy_streak: int = 0
    silent_streak: int = 0
    silent_since: datetime | None = None
    glitches_dropped: int = 0
    negotiated: dict[str, Any] | None = None
    last_frames: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class MicrostarRuntimeData:
    """Runtime data of a config entry."""

    coordinator: MicrostarCoordinator
    meter: MeterDiscovery


def entry_health(hass: HomeAssistant, entry_id: str) -> PollHealth:
    """The poll health of an entry, created on first use."""
    return hass.data.setdefault(DATA_HEALTH, {}).setdefault(entry_id, PollHealth())


class MicrostarCoordinator(DataUpdateCoordinator[MeterReading]):
    """Reads one meter every 30 s through one guarded session per poll."""

    config_entry: MicrostarConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MicrostarConfigEntry,
        catalogue: Mapping[str, CatalogueEntry],
    ) -> None:
        """Initialize the coordinator for one config entry."""
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
        self.discovery: MeterDiscovery | None = None
        self.health = entry_health(hass, entry.entry_id)
        self._frames: list[Any] = []
        self._client = MeterClient(
            self.meter_config.settings(self.meter_config.server_address()),
            trace=self._frames.append,
        )

    @override
    async def _async_update_data(self) -> MeterReading:
        """Run one session: discover on the first poll, then read enabled objects."""
        started = monotonic()
        self._frames.clear()
        try:
            async with asyncio.timeout(POLL_TIMEOUT), self._client.session() as session:
                self.health.negotiated = _as_dict(session.negotiated)
                if self.discovery is None:
                    self.discovery = await self._async_discover(session)
                reading = await self._async_read(session, self.discovery)
        except AuthenticationFailed as err:
            self._record_failure("authentication_failed")
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except ConfigEntryError:
            self._record_failure("wrong_meter")
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
            self.health.last_frames = redact_frames(self._frames, self.meter_config.password)
        self._record_success()
        return reading

    async def _async_discover(self, session: MeterSession) -> MeterDiscovery:
        """Learn the meter: serial, the objects we can present, their scalers (once)."""
        serial = await async_read_serial(session)
        if serial != self.config_entry.unique_id:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="wrong_meter",
                translation_placeholders={
                    "expected": str(self.config_entry.unique_id),
                    "found": serial,
                },
            )
        object_list_read = True
        try:
            listed = parse_object_list(await session.get(MeterObject(OBJECT_LIST, 15).value_ref()))
        except DataAccessError as err:
            # Without the list, try every object we know; scaler reads weed out the absent.
            LOGGER.debug("Meter %s has no readable object list (%s)", serial, err)
            object_list_read = False
            listed = [MeterObject(key, item.class_id) for key, item in self.catalogue.items()]
        objects = {obj.key: obj for obj in listed if obj.key in self.catalogue and obj.supported}
        firmware = None
        if (firmware_object := objects.pop(FIRMWARE, None)) is not None:
            try:
                firmware = as_text(await session.get(firmware_object.value_ref()))
            except DataAccessError:
                firmware = None
        scaler_units: dict[str, ScalerUnit] = {}
        with_scaler = [
            (obj, ref) for obj in objects.values() if (ref := obj.scaler_unit_ref()) is not None
        ]
        results = await session.read_attributes([ref for _, ref in with_scaler])
        for (obj, _), result in zip(with_scaler, results, strict=True):
            scaler_unit = None if result.error is not None else parse_scaler_unit(result.value)
            if scaler_unit is None:
                LOGGER.debug("Meter %s: %s has no usable scaler_unit, skipped", serial, obj.key)
                del objects[obj.key]
            else:
                scaler_units[obj.key] = scaler_unit
        LOGGER.debug("Meter %s: discovered %s", serial, sorted(objects))
        return MeterDiscovery(serial, firmware, objects, scaler_units, object_list_read)

    async def _async_read(self, session: MeterSession, discovery: MeterDiscovery) -> MeterReading:
        """Read the values of objects whose entities are enabled, one round trip each."""
        wanted = [obj for key, obj in discovery.objects.items() if self.is_enabled(key)]
        results = await session.read_attributes([obj.value_ref() for obj in wanted])
        read_at = dt_util.utcnow()
        values: dict[str, Decimal | None] = {}
        clock_drift = None
        for obj, result in zip(wanted, results, strict=True):
            if result.error is not None:
                LOGGER.debug("Meter %s: %s: %s", discovery.serial, obj.key, result.error)
                values[obj.key] = None
                continue
            if obj.class_id == CLASS_CLOCK:
                clock_drift = _clock_drift(result.value, read_at)
                continue
            raw = as_number(result.value)
            scaler_unit = discovery.scaler_units.get(obj.key, UNSCALED)
            values[obj.key] = None if raw is None else scaler_unit.scale(raw)
        return MeterReading(values, clock_drift)

    def is_enabled(self, key: str) -> bool:
        """Whether the entity of an object is enabled: registry first, else its default."""
        registry = er.async_get(self.hass)
        unique_id = f"{self.config_entry.unique_id}_{key}"
        if entity_id := registry.async_get_entity_id(Platform.SENSOR, DOMAIN, unique_id):
            entity = registry.async_get(entity_id)
            return entity is not None and not entity.disabled
        return self.catalogue[key].enabled_by_default

    @callback
    def _record_success(self) -> None:
        """Count a good poll and clear this entry's repairs."""
        health = self.health
        health.successes += 1
        health.last_success = dt_util.utcnow()
        health.busy_streak = health.silent_streak = 0
        health.silent_since = None
        async_delete_issues(self.hass, self.config_entry.entry_id)

    @callback
    def _record_failure(self, kind: str) -> None:
        """Count a failed poll and raise a repair when a streak says the user must act."""
        health = self.health
        now = dt_util.utcnow()
        health.failures[kind] += 1
        health.last_failure = now
        health.last_failure_kind = kind
        health.busy_streak = health.busy_streak + 1 if kind == "gateway_busy" else 0
        if kind == "no_answer":
            health.silent_streak += 1
            health.silent_since = health.silent_since or now
        else:
            health.silent_streak = 0
            health.silent_since = None
        if health.busy_streak >= REPAIR_AFTER_POLLS:
            self._raise_issue(ISSUE_GATEWAY_BUSY, ir.IssueSeverity.WARNING)
        if (
            health.silent_streak >= REPAIR_AFTER_POLLS
            and health.silent_since is not None
            and now - health.silent_since > METER_INACTIVITY_WINDOW
        ):
            self._raise_issue(ISSUE_METER_SILENT, ir.IssueSeverity.ERROR)

    @callback
    def _raise_issue(self, issue: str, severity: ir.IssueSeverity) -> None:
        """Create (or refresh) one of this entry's repair issues."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{issue}_{self.config_entry.entry_id}",
            is_fixable=False,
            is_persistent=False,
            severity=severity,
            translation_key=issue,
            translation_placeholders={
                "title": self.config_entry.title,
                "endpoint": self.meter_config.display_endpoint,
            },
        )


@callback
def async_delete_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the repair issues of an entry."""
    for issue in (ISSUE_GATEWAY_BUSY, ISSUE_METER_SILENT):
        ir.async_delete_issue(hass, DOMAIN, f"{issue}_{entry_id}")


def _clock_drift(value: Any, read_at: datetime) -> int | None:
    """Seconds the meter clock is ahead of Home Assistant (a naive clock is local time)."""
    meter_time = as_datetime(value, near=read_at)
    if meter_time is None:
        return None
    if meter_time.tzinfo is None:
        meter_time = meter_time.replace(tzinfo=dt_util.get_default_time_zone())
    return round((meter_time - read_at).total_seconds())  # whole seconds, as the meter keeps


def _as_dict(value: Any) -> dict[str, Any] | None:
    """A dataclass as a JSON-friendly dict, for diagnostics."""
    if value is None or not is_dataclass(value) or isinstance(value, type):
        return None
    return {key: _plain(item) for key, item in asdict(value).items()}


def _plain(item: Any) -> Any:
    """Flags as their member names, bytes as hex."""
    if isinstance(item, Flag):
        return sorted(member.name or str(member.value) for member in type(item) if member in item)
    if isinstance(item, bytes):
        return item.hex()
    return item
