"""Field reports as tests: a meter added through the config flow as a user adds it, learned, and
what Home Assistant shows for it; diagnostics downloaded as a user downloads them.

Each folder of tests/field holds one meter: ``diagnostics.json`` (a diagnostics file, as
downloaded) and ``expected.json`` (what Home Assistant must show for it). The captures below are
the meters whose files the suite produces itself (``scripts/field-capture NAME`` writes them).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import os
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.microstar_dlms.const import (
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONNECTION_TCP,
    DOMAIN,
)
from custom_components.microstar_dlms.cosem import CLOCK
from microstar_sim import (
    FAST,
    GUIDE_PROFILE,
    ClientAccess,
    FunctionClock,
    MeterConfig,
    Simulator,
    SimulatorConfig,
    profile_meter,
)
from microstar_sim.pytest_plugin import SimulatorFactory
from tests.integration.polling import poll

FIELD = Path(__file__).parent
DIAGNOSTICS = "diagnostics.json"
EXPECTED = "expected.json"
# The simulated meter's clock stands still at this moment, so every value it gives is the
# same each run (the tests freeze Home Assistant's clock there too).
STILL_TIME = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
# MICROSTAR_FIELD_UPDATE=1 (scripts/field-capture) writes the files instead of comparing.
UPDATE = os.environ.get("MICROSTAR_FIELD_UPDATE", "") not in ("", "0")
# What a user replaying a report types for the password the file masks: any will do.
ANY_PASSWORD = "any-password"


@dataclass(frozen=True, slots=True)
class Capture:
    """A meter the suite reads with Home Assistant to produce a field file."""

    name: str
    origin: str
    meter: MeterConfig
    client_sap: int
    password: str | None
    advanced: Mapping[str, Any]


_AUTO = {CONF_ADDRESS_SIZE: "auto"}

CAPTURES = (
    Capture(
        "field-meter",
        "the field team's captures (field notes 4): client SAP 1 with a 10-character LLS "
        "password, the 1-byte server address 03, conformance 00 30 1D, the field meter's "
        "objects (field notes 2)",
        MeterConfig(
            serial_number="21061234",
            clients=(ClientAccess(1, "0123456789"), ClientAccess(16, None, read_only=True)),
        ),
        1,
        "0123456789",
        _AUTO,
    ),
    Capture(
        "microstar-3p",
        "the simulator's microstar-3p profile at its factory address (4-byte form, physical "
        "address the serial's last four digits), client SAP 32 with an 8-character password",
        MeterConfig(serial_number="21063456", address_size=4),
        32,
        "12345678",
        {CONF_ADDRESS_SIZE: "4", CONF_SERVER_PHYSICAL: 3456},
    ),
    Capture(
        "microstar-1p",
        "the simulator's microstar-1p profile at the 2-byte address form, public client 16",
        MeterConfig(profile="microstar-1p", serial_number="21065678", address_size=2, physical=1),
        16,
        None,
        {CONF_ADDRESS_SIZE: "2", CONF_SERVER_PHYSICAL: 1},
    ),
    Capture(
        "microstar-guide",
        "the simulator's microstar-guide profile: every object of the vendor's protocol guide, "
        "three channels, server max PDU 6400, the guide's UA",
        profile_meter(GUIDE_PROFILE, serial_number="21069012"),
        1,
        "2222222222",
        _AUTO,
    ),
)


async def start_meter(simulator: SimulatorFactory, meter: MeterConfig) -> Simulator:
    """A gateway with ``meter`` behind it, its clock standing still."""
    clock = FunctionClock(lambda: STILL_TIME)
    return await simulator(SimulatorConfig(meters=(meter,), timing=FAST, clock=clock))


async def add_meter(
    hass: HomeAssistant,
    sim: Simulator,
    *,
    client_sap: int,
    password: str | None,
    advanced: Mapping[str, Any],
) -> ConfigEntry:
    """Add the meter through the config flow, as a user types it; the entry, set up."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": CONNECTION_TCP}
    )
    typed: dict[str, Any] = {
        CONF_HOST: sim.host,
        CONF_PORT: sim.port,
        CONF_CLIENT_SAP: str(client_sap),
        CONF_ADVANCED: {
            CONF_SERVER_LOGICAL: 1,
            CONF_RESPONSE_TIMEOUT: 0.5,
            CONF_CONNECT_TIMEOUT: 2.0,
            **advanced,
        },
    }
    if password is not None:
        typed[CONF_PASSWORD] = password
    result = await hass.config_entries.flow.async_configure(result["flow_id"], typed)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


def typed_for_replay(diagnostics: Mapping[str, Any]) -> dict[str, Any]:
    """What a maintainer types to add a report's replayed meter: its client SAP, any password
    (the file masks it), and the address form its entry stored."""
    data = diagnostics["entry"]["data"]
    advanced: dict[str, Any] = {
        CONF_SERVER_LOGICAL: data["server_logical"],
        CONF_ADDRESS_SIZE: str(data["address_size"]),
    }
    if data.get("server_physical") is not None:
        advanced[CONF_SERVER_PHYSICAL] = data["server_physical"]
    return {
        "client_sap": int(data["client_sap"]),
        "password": ANY_PASSWORD if "password" in data else None,
        "advanced": advanced,
    }


async def learn(hass: HomeAssistant, entry: ConfigEntry, freezer: FrozenDateTimeFactory) -> None:
    """Poll until the meter is learned, then once more: a poll of values, the session a
    user's diagnostics usually show."""
    coordinator = entry.runtime_data.coordinator
    for _ in range(10):
        if not coordinator.pending_objects():
            break
        await poll(hass, freezer)
    assert not coordinator.pending_objects()
    await poll(hass, freezer)
    assert coordinator.last_update_success


def shown(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """What Home Assistant shows for the meter: its devices (model, firmware, serial) and each
    entity (by platform and object: unit, enabled, state), the serial written ``<serial>``.

    The clock's entity shows its drift from Home Assistant's clock, which moves with the
    machine's speed here: its state is left out.
    """
    serial = str(entry.unique_id)
    devices = {}
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
        (identifier,) = (name for domain, name in device.identifiers if domain == DOMAIN)
        devices[identifier.replace(serial, "<serial>")] = {
            "name": (device.name or "").replace(serial, "<serial>"),
            "model": device.model,
            "sw_version": device.sw_version,
            "serial_number": (device.serial_number or "").replace(serial, "<serial>"),
        }
    entities = {}
    for item in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        key = item.unique_id.removeprefix(f"{serial}_")
        state = hass.states.get(item.entity_id)
        entities[f"{item.domain} {key}"] = {
            "unit": item.unit_of_measurement,
            "enabled": item.disabled_by is None,
            "state": None if state is None or key == CLOCK else state.state,
        }
    return {"devices": dict(sorted(devices.items())), "entities": dict(sorted(entities.items()))}


async def download(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: ConfigEntry
) -> dict[str, Any]:
    """The entry's diagnostics file, downloaded as from the device page (the whole file)."""
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client()
    response = await client.get(f"/api/diagnostics/config_entry/{entry.entry_id}")
    assert response.status == 200
    content: dict[str, Any] = await response.json()
    return content


def steady(downloaded: Mapping[str, Any]) -> dict[str, Any]:
    """A downloaded file as tests/field keeps it: the integration's part (the rest describes the
    machine that ran it), with what changes from run to run (times, durations, the port, the
    clock's drift, when each freshness class was read) written as markers, so a file written
    again shows only what changed."""
    data = json.loads(json.dumps(downloaded["data"]))
    data["entry"]["data"]["port"] = "<port>"
    for frame in data["last_session_frames"]:
        frame["monotonic"] = "<time>"
    data["meter"]["clock_drift_s"] = "<drift>"
    polls = data["polls"]
    for key in ("last_duration", "last_success", "last_failure", "next_poll"):
        if polls[key] is not None:
            polls[key] = "<time>"
    polls["next_poll_after"] = "<seconds>"  # the next class due, from the last read's time
    line = data["line"]
    for timings in (line, line["this_meter"]):
        for key in timings:
            if key.endswith("_s") and timings[key] is not None:
                timings[key] = "<seconds>"
    for freshness in line["this_meter"]["freshness"].values():
        for key, marker in (("last_read", "<time>"), ("measured_s", "<seconds>")):
            if freshness[key] is not None:
                freshness[key] = marker
    return {"data": data}


def read_json(path: Path) -> Any:
    """A file of tests/field."""
    return json.loads(path.read_text("utf-8"))


def write_json(path: Path, content: Any) -> None:
    """Write a file of tests/field (scripts/field-capture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", "utf-8")
