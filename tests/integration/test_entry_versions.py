"""Config entries of other versions: what an older or newer release wrote is read or refused."""

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microstar_dlms.config_flow import MicrostarConfigFlow
from custom_components.microstar_dlms.const import (
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_CONNECTION_TYPE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONNECTION_TCP,
    DEFAULT_CLIENT_SAP,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RESPONSE_TIMEOUT,
    DEFAULT_SERVER_LOGICAL,
    DOMAIN,
)
from custom_components.microstar_dlms.lifecycle import async_migrate_entry
from custom_components.microstar_dlms.meter_config import MeterConfig
from microstar_sim import Simulator

from .conftest import PASSWORD, SERIAL, entry_data


def _entry(data: dict[str, object], version: int = 1, minor_version: int = 1) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Microstar {SERIAL}",
        unique_id=SERIAL,
        data=data,
        version=version,
        minor_version=minor_version,
    )


async def test_an_entry_without_its_optional_keys_polls(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """Only the connection and the detected address form are needed; the rest take the
    form's defaults (no KeyError in setup)."""
    entry = _entry(
        {
            CONF_CONNECTION_TYPE: CONNECTION_TCP,
            CONF_HOST: sim.host,
            CONF_PORT: sim.port,
            CONF_PASSWORD: PASSWORD,
            CONF_ADDRESS_SIZE: "1",
        }
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    config = entry.runtime_data.coordinator.meter_config
    assert config.client_sap == DEFAULT_CLIENT_SAP
    assert config.server_logical == DEFAULT_SERVER_LOGICAL
    assert config.server_physical is None
    assert (config.response_timeout, config.connect_timeout) == (
        DEFAULT_RESPONSE_TIMEOUT,
        DEFAULT_CONNECT_TIMEOUT,
    )
    assert (entry.version, entry.minor_version) == (1, 1)


async def test_an_entry_of_a_newer_minor_version_loads(hass: HomeAssistant, sim: Simulator) -> None:
    """A newer minor version only added keys: this release reads the entry, and leaves its
    version and the keys it does not know alone (the newer release still finds them)."""
    entry = _entry({**entry_data(sim), "future_key": "kept"}, minor_version=7)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 7)
    assert entry.data["future_key"] == "kept"


async def test_an_entry_of_a_newer_major_version_is_refused(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """A newer major version changed what the entry means: refused, untouched, no session."""
    data = {**entry_data(sim), CONF_CLIENT_SAP: "not this release's shape"}
    entry = _entry(data, version=MicrostarConfigFlow.VERSION + 1)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert dict(entry.data) == data
    assert sim.record.connections == []


async def test_the_flow_writes_the_current_version(hass: HomeAssistant, sim: Simulator) -> None:
    """A new entry is of the version this release declares, and reads back the same config."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": CONNECTION_TCP}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: sim.host,
            CONF_PORT: sim.port,
            CONF_CLIENT_SAP: "1",
            CONF_PASSWORD: PASSWORD,
            CONF_ADVANCED: {CONF_RESPONSE_TIMEOUT: 0.5, CONF_CONNECT_TIMEOUT: 2.0},
        },
    )
    entry = result["result"]
    assert (entry.version, entry.minor_version) == (
        MicrostarConfigFlow.VERSION,
        MicrostarConfigFlow.MINOR_VERSION,
    )
    assert MeterConfig.from_entry_data(entry.data).as_entry_data() == dict(entry.data)


async def test_the_migration_guard_refuses_a_newer_major_version(
    hass: HomeAssistant, sim: Simulator
) -> None:
    """Asked directly (Home Assistant refuses such an entry before asking): False, untouched;
    an entry of this major version is accepted as it is."""
    data = entry_data(sim)
    newer = _entry(data, version=MicrostarConfigFlow.VERSION + 1)
    assert not await async_migrate_entry(hass, newer)
    current = _entry(data, minor_version=MicrostarConfigFlow.MINOR_VERSION + 1)
    assert await async_migrate_entry(hass, current)
    assert dict(newer.data) == dict(current.data) == data
