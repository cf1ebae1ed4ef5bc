"""Events of a Microstar meter: a cover opened, the configuration changed, a billing period closed.

Each event entity watches one time stamp register and fires when it advances between polls. The
first value it sees is the baseline (no event); the value of the last event is kept with the
entity's restored state, so a restart does not fire the same event again. Like every entity of
the meter it is unavailable while polls fail; a poll in which the meter refused its time stamp
changes nothing (the state is the last event's time).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import override

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .catalogue import AsEvent, presentation_enabled, presentations
from .coordinator import MicrostarConfigEntry, MicrostarCoordinator
from .discovery import MeterDiscovery
from .entity import MicrostarEntity
from .entity_pacing import async_add_as_confirmed

PARALLEL_UPDATES = 0

ATTR_METER_TIME = "meter_time"


@dataclass(frozen=True, kw_only=True)
class MicrostarEventEntityDescription(EventEntityDescription):
    """An event for one OBIS time stamp register; ``key`` is the dotted OBIS code."""

    presentation: AsEvent


EVENTS: tuple[MicrostarEventEntityDescription, ...] = tuple(
    MicrostarEventEntityDescription(
        key=known.key,
        translation_key=event.name,
        event_types=[event.event_type],
        entity_registry_enabled_default=event.enabled,
        entity_category=event.category,
        presentation=event,
    )
    for known, event in presentations(Platform.EVENT)
    if isinstance(event, AsEvent)
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrostarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an event entity for every described register the meter has, as discovery confirms."""
    coordinator = entry.runtime_data.coordinator
    meter = entry.runtime_data.meter
    added: set[str] = set()

    def _is_new(description: MicrostarEventEntityDescription) -> bool:
        """Whether the meter has the register and its entity is not built yet."""
        return description.key not in added and description.key in meter.objects

    def _build(description: MicrostarEventEntityDescription) -> MicrostarEventEntity:
        """The entity, enabled by default as the meter's objects say."""
        added.add(description.key)
        enabled = presentation_enabled(description.presentation, meter.objects)
        return MicrostarEventEntity(
            coordinator, replace(description, entity_registry_enabled_default=enabled), meter
        )

    await async_add_as_confirmed(
        hass, entry, async_add_entities, EVENTS, is_new=_is_new, build=_build
    )


class MicrostarEventEntity(MicrostarEntity, EventEntity):
    """Fires when the meter's time stamp of its event advances."""

    entity_description: MicrostarEventEntityDescription

    def __init__(
        self,
        coordinator: MicrostarCoordinator,
        description: MicrostarEventEntityDescription,
        meter: MeterDiscovery,
    ) -> None:
        """Initialize the event entity."""
        super().__init__(coordinator, description, meter)
        self._seen: datetime | None = None

    @override
    async def async_added_to_hass(self) -> None:
        """Take the last event's meter time as the baseline, then look at this poll's."""
        await super().async_added_to_hass()
        last = await self.async_get_last_event_data()
        if last is not None and last.last_event_attributes:
            self._seen = dt_util.parse_datetime(
                str(last.last_event_attributes.get(ATTR_METER_TIME, ""))
            )
        self._observe()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Fire when the time stamp moved on since the last poll; write the state after every
        poll, so the entity is unavailable while polls fail and back with the next good one."""
        self._observe()
        super()._handle_coordinator_update()

    def _observe(self) -> None:
        """Compare this poll's time stamp with the last; fire when it advanced."""
        measured = self.coordinator.data.values.get(self.entity_description.key)
        value = None if measured is None else measured.value
        if not isinstance(value, datetime):
            return  # refused or not read: nothing happened that the meter told
        seen = self._seen
        if seen is not None and value <= seen:
            return  # nothing new (or a read that went back: the later one stays)
        self._seen = value
        if seen is None:
            return  # the baseline
        self._trigger_event(
            self.entity_description.presentation.event_type,
            {ATTR_METER_TIME: value.isoformat()},
        )
