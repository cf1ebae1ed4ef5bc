"""How long a newly added meter takes to be learned whole, on the integration's own schedule.

``python -m benchmarks.learning PROFILE [TURNAROUND_MS]`` prints one JSON line. The meter is set
up in a Home Assistant test instance against a simulator at 9600 baud (a fixed turnaround, or
without one the simulator's default of 30-250 ms, as ``scripts/develop`` runs it), then left to
poll in real time, every 30 s as shipped, until nothing is left to learn:

- ``setup_s``: the setup (its poll reads the identity only; the add-meter dialog waits for it);
- ``enabled_learned_s``: until every object of an enabled entity is learned;
- ``all_learned_s``: until every object is learned (those of disabled entities a little per poll);
- ``entities``: the registered entities (disabled ones included) as (seconds, count) steps.

Minutes of real time for the guide meter; the loop is idle between polls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import entity_registry as er

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    async_test_home_assistant,
)

from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from microstar_sim import Simulator, SimulatorConfig, TimingConfig, profile_meter

from .entries import meter_entry
from .single import BAUDRATE

SERIAL = "21061234"
GIVE_UP_S = 1800.0


def _timing(turnaround: float | None) -> TimingConfig:
    if turnaround is None:
        return TimingConfig(baudrate=BAUDRATE)
    return TimingConfig(baudrate=BAUDRATE, turnaround_min=turnaround, turnaround_max=turnaround)


async def learning(profile: str, turnaround: float | None) -> dict[str, Any]:
    """Set the meter up, then watch its polls learn it; the figures of the module docstring."""
    config = SimulatorConfig(meters=(profile_meter(profile),), timing=_timing(turnaround))
    async with Simulator(config) as sim, async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/
        entry = meter_entry(sim, SERIAL, "1")
        entry.add_to_hass(hass)
        started = time.monotonic()
        await hass.config_entries.async_setup(entry.entry_id)
        if entry.state is not ConfigEntryState.LOADED:
            raise RuntimeError(f"the meter did not set up: {entry.state} {entry.reason}")
        setup = time.monotonic() - started
        coordinator: MicrostarCoordinator = entry.runtime_data.coordinator
        registry = er.async_get(hass)
        steps: list[tuple[float, int]] = []
        enabled_learned: float | None = None
        all_learned: float | None = None
        polls_then = 0
        while (elapsed := time.monotonic() - started) < GIVE_UP_S:
            count = len(er.async_entries_for_config_entry(registry, entry.entry_id))
            if not steps or steps[-1][1] != count:
                steps.append((round(elapsed, 1), count))
            pending = coordinator.pending_objects()
            if enabled_learned is None and not _enabled_pending(coordinator, pending):
                enabled_learned = elapsed
            if all_learned is None and not pending:
                all_learned, polls_then = elapsed, coordinator.health.successes
            if all_learned is not None and coordinator.health.successes > polls_then:
                break  # the poll that learned the last object ended
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # its entities are added a few per loop turn (entity_pacing)
        count = len(er.async_entries_for_config_entry(registry, entry.entry_id))
        if steps[-1][1] != count:
            steps.append((round(time.monotonic() - started, 1), count))
        await hass.async_stop(force=True)
    return {
        "profile": profile,
        "turnaround_ms": None if turnaround is None else round(turnaround * 1000),
        "setup_s": round(setup, 1),
        "enabled_learned_s": None if enabled_learned is None else round(enabled_learned, 1),
        "all_learned_s": None if all_learned is None else round(all_learned, 1),
        "polls": coordinator.health.successes,
        "entities": steps,
    }


def _enabled_pending(coordinator: MicrostarCoordinator, pending: list[str]) -> bool:
    """Whether an object of an enabled entity is still to learn."""
    enabled = coordinator.enabled_entities()
    return any(key in enabled for key in pending)


def main() -> None:
    """Entry point: print the result as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    profile = sys.argv[1] if len(sys.argv) > 1 else "microstar-guide"
    turnaround = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else None
    print(json.dumps(asyncio.run(learning(profile, turnaround))), flush=True)


if __name__ == "__main__":
    main()
