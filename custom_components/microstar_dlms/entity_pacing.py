"""Adding entities in turns: a few per event-loop iteration, one meter's batch at a time.

Meters set up together learn together: 50 meters confirming ~40 objects each in the same loop
iteration registered 2000 entities at once and stalled Home Assistant's event loop for 100-300 ms
(scripts/bench: setup_max_loop_stall_ms). Every platform of every meter adds through one shared
turn, so an iteration carries at most one small batch, whatever the number of meters.
"""

import asyncio
from collections.abc import Callable, Iterable
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

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
