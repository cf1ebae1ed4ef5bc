"""Entities of many meters are added in turns: one small batch per event-loop iteration."""

import asyncio
from collections.abc import Callable

from homeassistant.core import HomeAssistant

from custom_components.microstar_dlms.entity_pacing import ADD_BATCH, async_add_in_turns


class IterationCounter:
    """Counts event-loop iterations: a callback that schedules itself for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def test_meters_learning_together_add_one_batch_per_loop_iteration(
    hass: HomeAssistant,
) -> None:
    """Three meters confirm 20 objects each in the same instant: every batch of every meter
    lands in an iteration of its own, each meter's entities in order, none lost."""
    iterations = IterationCounter()
    added: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    batches_at: list[int] = []

    def adder(meter: str) -> Callable[[list[int]], None]:
        def add(batch: list[int]) -> None:
            assert len(batch) <= ADD_BATCH
            batches_at.append(iterations.count)
            added[meter].extend(batch)

        return add

    try:
        await asyncio.gather(*(async_add_in_turns(hass, adder(m), range(20)) for m in added))
    finally:
        iterations.stop()

    assert added == {meter: list(range(20)) for meter in added}
    assert len(batches_at) == 3 * 3  # 20 entities = batches of 8, 8 and 4, per meter
    assert len(set(batches_at)) == len(batches_at), batches_at  # never two in one iteration
