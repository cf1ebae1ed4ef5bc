"""Adding entities as discovery confirms their objects, in turns: a few per event-loop
iteration, one meter's batch at a time.

Meters set up together learn together: 50 meters confirming ~40 objects each in the same loop
iteration registered 2000 entities at once and stalled Home Assistant's event loop for 100-300 ms
(scripts/bench: setup_max_loop_stall_ms). Every platform of every meter adds through one shared
turn, so an iteration carries at most one small batch, whatever the number of meters.
"""

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .coordinator import MicrostarConfigEntry

# Entities registered per loop iteration: ~0.3 ms each (entity and device registry, first state).
ADD_BATCH: Final = 8
_TURN: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_entity_turn")


async def async_add_in_turns[EntityT](
    hass: HomeAssistant,
    add_entities: Callable[[list[EntityT]], None],
    entities: Iterable[EntityT],
) -> None:
    """Hand ``entities`` to ``add_entities`` ADD_BATCH at a time, one batch per loop turn."""
    turn = hass.data.setdefault(_TURN, asyncio.Lock())
    batch: list[EntityT] = []
    for entity in entities:
        batch.append(entity)
        if len(batch) == ADD_BATCH:
            await _add_one_batch(turn, add_entities, batch)
            batch = []
    if batch:
        await _add_one_batch(turn, add_entities, batch)


async def _add_one_batch[EntityT](
    turn: asyncio.Lock, add_entities: Callable[[list[EntityT]], None], batch: list[EntityT]
) -> None:
    async with turn:
        add_entities(batch)
        # Held over the iteration's end: the next batch, of any meter, runs in a later one.
        await asyncio.sleep(0)


async def async_add_as_confirmed[DescriptionT, EntityT](
    hass: HomeAssistant,
    entry: MicrostarConfigEntry,
    add_entities: Callable[[list[EntityT]], None],
    descriptions: Sequence[DescriptionT],
    *,
    is_new: Callable[[DescriptionT], bool],
    build: Callable[[DescriptionT], EntityT | None],
    reload_when: Callable[[], bool] = lambda: False,
) -> None:
    """Add, in turns, the entities of the descriptions ``is_new`` (confirmed by discovery and
    not built yet) now, and after each poll those confirmed since; ``build`` makes one (None:
    none for it) and is what marks it built. A poll after which ``reload_when`` holds reloads
    the entry instead (its entities built again)."""

    def _confirmed() -> Iterator[EntityT]:
        """Entities of the descriptions new since the last call, built one at a time."""
        for description in descriptions:
            if is_new(description) and (entity := build(description)) is not None:
                yield entity

    async def _add() -> None:
        await async_add_in_turns(hass, add_entities, _confirmed())

    @callback
    def _after_poll() -> None:
        if reload_when():
            hass.config_entries.async_schedule_reload(entry.entry_id)
        elif any(is_new(description) for description in descriptions):
            # A poll after setup may confirm dozens of objects: added in turns, as at setup.
            entry.async_create_task(hass, _add(), f"{DOMAIN} entities confirmed")

    await _add()
    entry.async_on_unload(entry.runtime_data.coordinator.async_add_listener(_after_poll))
