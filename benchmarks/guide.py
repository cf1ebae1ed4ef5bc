"""The guide meter (every object of the vendor's guide): first discovery, restart, strategies.

``python -m benchmarks.guide TURNAROUND_MS`` prints one JSON line. The integration runs in a
Home Assistant test instance against a ``microstar-guide`` simulator at 9600 baud:

- ``first_discovery_guide_s``: the first-ever poll (setup) with the default entity set;
- ``restart_extra_round_trips``: exchanges of the first poll after a restart (entry reload, the
  discovery read back from storage) that a steady poll reading every class (as one does every
  15 minutes) does not need (``extra_exchanges``): after a restart every entity needs its value,
  so every class is read; what must not come back is the discovery. The two read in another
  order (the steady poll shows the live values first, and at a slow turnaround reads them again
  at its end), so the requests are compared, not counted;
- ``strategies``: what learning the default meter and the guide meter costs with the raw client,
  reading the object list and then the scalers of the objects found, against asking the
  catalogue's objects for their scaler_unit directly, as the integration's learner does.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
import json
import logging
import math
import sys
import time
from typing import Any

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

# The HA test harness ships no type information (no py.typed marker).
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.microstar_dlms.catalogue import PROBED
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.cosem import (
    FIRMWARE,
    OBJECT_LIST,
    MeterObject,
    parse_object_list,
)
from custom_components.microstar_dlms.discovery import MeterDiscovery
from custom_components.microstar_dlms.dlms import MeterClient, MeterSession
from custom_components.microstar_dlms.learner import EnabledEntities, Learner, probe_batch
from microstar_sim import GUIDE_PROFILE, Simulator, SimulatorConfig, TimingConfig, profile_meter
from microstar_sim.record import FrameRecord

from .entries import meter_entry
from .single import BAUDRATE, make_client, read_values
from .wire import Exchange, exchanges

SERIAL = "21061234"


def _config(profile: str, turnaround: float) -> SimulatorConfig:
    return SimulatorConfig(
        meters=(profile_meter(profile),),
        timing=TimingConfig(
            baudrate=BAUDRATE, turnaround_min=turnaround, turnaround_max=turnaround
        ),
    )


async def _exchanges(sim: Simulator, poll: Any) -> tuple[int, float]:
    """Frames the client sent in the sessions ``await poll()`` opened, and its wall time."""
    sessions, wall = await _sessions(sim, poll)
    return sum(len(frames) for frames in sessions), wall


async def _sessions(sim: Simulator, poll: Any) -> tuple[list[list[FrameRecord]], float]:
    """The frames the client sent in each session ``await poll()`` opened, in order, and its
    wall time. The coordinator's own timer polls every few seconds (live power): the call
    starts when no session is open, and a session opened before it or after it returned is not
    counted (a timer poll may open one while a reload finishes)."""
    await _line_quiet(sim)
    started = time.monotonic()
    await poll()
    wall = time.monotonic() - started
    await sim.settle()
    ours = [c.id for c in sim.record.connections if started <= c.opened_at < started + wall]
    sent = sim.record.frames_to_meter()
    return [[f for f in sent if f.connection == c] for c in ours], wall


def extra_exchanges(restart: Sequence[Exchange], steady: Sequence[Exchange]) -> int:
    """The exchanges of ``restart`` a ``steady`` poll did not need: a GET of an attribute the
    steady poll did not ask for, a session step (SNRM, AARQ, RR, ...) more often than it."""
    asked = {ref for exchange in steady for ref in exchange.refs}
    steps = Counter(exchange.request for exchange in steady if not exchange.refs)
    extra = 0
    for exchange in restart:
        if exchange.refs:
            extra += any(ref not in asked for ref in exchange.refs)
        elif steps[exchange.request]:
            steps[exchange.request] -= 1
        else:
            extra += 1
    return extra


async def _line_quiet(sim: Simulator) -> None:
    """Wait until no session is open on the simulator's line (the record's clock is the
    loop's, ``time.monotonic``)."""
    for _ in range(600):  # 30 s: a session of the guide meter at 250 ms takes about 10 s
        if not sim.record.open_connections:
            await sim.settle()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("a session stayed open for 30 s")


async def integration(turnaround: float) -> dict[str, Any]:
    """First discovery, a steady poll and the first poll after a restart, through HA."""
    async with (
        Simulator(_config(GUIDE_PROFILE, turnaround)) as sim,
        async_test_home_assistant() as hass,
    ):
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/
        entry = meter_entry(sim, SERIAL, "1")  # the field meter's entry
        entry.add_to_hass(hass)
        first, first_wall = await _exchanges(sim, lambda: _setup(hass, entry))
        coordinator: MicrostarCoordinator = entry.runtime_data.coordinator
        entities = len(hass.states.async_entity_ids())
        # The objects of disabled entities are learned a little per poll: poll until done.
        rest_started = time.monotonic()
        rest_polls = 0
        while coordinator.pending_objects() and rest_polls < 50:
            await coordinator.async_refresh()
            rest_polls += 1
        rest_wall = time.monotonic() - rest_started
        registered = len(er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id))
        (steady, *_), steady_wall = await _sessions(sim, lambda: _full_poll(coordinator))
        (restart, *_), restart_wall = await _sessions(
            sim, lambda: hass.config_entries.async_reload(entry.entry_id)
        )
        await hass.async_stop(force=True)
    return {
        "first_discovery_guide_s": round(first_wall, 2),
        "restart_extra_round_trips": extra_exchanges(exchanges(restart), exchanges(steady)),
        "guide_first_poll": {"frames_sent": first, "entities": entities},
        "guide_rest_of_discovery": {
            "polls": rest_polls,
            "wall_s": round(rest_wall, 2),
            "registered_entities": registered,
        },
        "guide_steady_poll": {"frames_sent": len(steady), "wall_s": round(steady_wall, 2)},
        "guide_first_poll_after_restart": {
            "frames_sent": len(restart),
            "wall_s": round(restart_wall, 2),
        },
    }


async def _full_poll(coordinator: MicrostarCoordinator) -> None:
    """A poll that reads every class (as one does every 15 minutes)."""
    coordinator.schedule.last_read.clear()
    await coordinator.async_refresh()


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    if entry.state is not ConfigEntryState.LOADED:
        raise RuntimeError(f"the guide meter did not set up: {entry.state} {entry.reason}")


def _catalogue_objects() -> list[MeterObject]:
    return [MeterObject(key, item.class_id) for key, item in PROBED.items() if key != FIRMWARE]


async def _by_object_list(session: MeterSession) -> None:
    """The earlier discovery: the object list, then the scalers of the objects it lists."""
    listed = parse_object_list(await session.get(MeterObject(OBJECT_LIST, 15).value_ref()))
    wanted = {obj.key for obj in _catalogue_objects()}
    found = [obj for obj in listed if obj.key in wanted and obj.supported]
    refs = [ref for obj in found if (ref := obj.scaler_unit_ref()) is not None]
    await session.read_attributes(refs)


async def _by_probing(session: MeterSession) -> None:
    """The integration's discovery (``learner.Learner``, as the coordinator drives it, without a
    time budget): the catalogue's objects asked for their scaler_unit (or value), an object that
    requires others (a channel's, a tariff's) once those answered."""
    discovery = MeterDiscovery(SERIAL)
    learner = Learner(
        PROBED,
        discovery,
        EnabledEntities(PROBED, {}, discovery),  # no entity registry: the catalogue's defaults
        batch=probe_batch(session.negotiated),
        budget=math.inf,
        disabled_budget=math.inf,
    )
    while probe := learner.next_probe():
        learner.learn(probe, await session.read_attributes([obj.probe_ref() for obj in probe]))


async def strategies(profile: str, turnaround: float) -> dict[str, Any]:
    """Seconds (and frames) each way of learning ``profile``'s meter takes, values included."""
    result: dict[str, Any] = {}
    async with Simulator(_config(profile, turnaround)) as sim:
        trace: list[Any] = []
        client: MeterClient = make_client(sim, trace)
        for name, learn in (("object_list", _by_object_list), ("probe", _by_probing)):

            async def poll(learn: Any = learn) -> None:
                async with client.session() as session:
                    await learn(session)
                    await read_values(session)

            frames, wall = await _exchanges(sim, poll)
            result[f"{name}_s"] = round(wall, 2)
            result[f"{name}_frames_sent"] = frames
    return result


async def run(turnaround: float) -> dict[str, Any]:
    """Everything, one after the other (one meter, one line)."""
    report = await integration(turnaround)
    report["strategies"] = {
        profile: await strategies(profile, turnaround)
        for profile in (GUIDE_PROFILE, "microstar-3p")
    }
    report["turnaround_ms"] = round(turnaround * 1000)
    return report


def main() -> None:
    """Entry point: print the result as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    turnaround = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.250
    print(json.dumps(asyncio.run(run(turnaround))), flush=True)


if __name__ == "__main__":
    main()
