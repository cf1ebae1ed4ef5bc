"""The integration through the real ser2net: the config flow finds the meter, polls fill the
sensors (raw TCP and RFC 2217, also through Debian 12's ser2net 4.3.11), an ``rfc2217://`` URL
for a raw port is named in the form, and another program holding the port raises the
gateway-busy repair, which clears once it lets go."""

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.microstar_dlms.const import (
    CONF_ADDRESS_SIZE,
    CONF_ADVANCED,
    CONF_CLIENT_SAP,
    CONF_CONNECT_TIMEOUT,
    CONF_DEVICE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESPONSE_TIMEOUT,
    CONF_SERVER_LOGICAL,
    CONNECTION_SERIAL,
    CONNECTION_TCP,
    DOMAIN,
)
from microstar_sim import DelayResponse, ResponseKind, Simulator
from tests.integration.conftest import check_translations

from .processes import PtyPair, Ser2net, debian12_ser2net

__all__ = ["check_translations"]

pytestmark = [
    pytest.mark.usefixtures("enable_custom_integrations", "check_translations"),
    pytest.mark.freeze_time("2025-01-15 10:00:00+00:00", tick=True),
]

PASSWORD = "2222222222"
ENERGY = "sensor.microstar_21061234_energy_import"
VOLTAGE = "sensor.microstar_21061234_voltage_l1"


def connection_input(
    ser2net: Ser2net | None, device: str | None = None, response_timeout: float = 1.0
) -> dict[str, Any]:
    """What a user types: host and port of a raw gateway, or a device / rfc2217:// URL."""
    fields: dict[str, Any] = (
        {CONF_HOST: "127.0.0.1", CONF_PORT: ser2net.port}
        if ser2net is not None and not ser2net.rfc2217
        else {CONF_DEVICE: device or (ser2net.endpoint if ser2net else "")}
    )
    return {
        **fields,
        CONF_CLIENT_SAP: "1",
        CONF_PASSWORD: PASSWORD,
        CONF_ADVANCED: {
            CONF_SERVER_LOGICAL: 1,
            CONF_ADDRESS_SIZE: "auto",
            CONF_RESPONSE_TIMEOUT: response_timeout,
            CONF_CONNECT_TIMEOUT: 5.0,
        },
    }


async def add_meter(hass: HomeAssistant, connection_type: str, user_input: dict[str, Any]) -> str:
    """Walk the flow as a user; return the new entry's id (set up and polled once)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": connection_type}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["title"] == "Microstar 21061234"
    await hass.async_block_till_done(wait_background_tasks=True)
    return str(result["result"].entry_id)


async def poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 30) -> None:
    """Let one poll interval (or ``seconds``) pass."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def coordinator_of(hass: HomeAssistant, entry_id: str) -> Any:
    """The entry's coordinator."""
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    return entry.runtime_data.coordinator


def health(hass: HomeAssistant, entry_id: str) -> Any:
    """The entry's poll statistics."""
    return coordinator_of(hass, entry_id).health


async def closed(meter: Simulator, gateway: Ser2net) -> None:
    """Wait until ser2net has let go of its client and the line."""
    for _ in range(250):
        await meter.settle()
        if not gateway.clients() and not gateway.holds_device():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("ser2net still holds a client or the line")


async def test_flow_and_polls_through_ser2net(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, meter: Simulator, ser2net: Ser2net
) -> None:
    """Raw TCP through the TCP form, RFC 2217 as an ``rfc2217://`` URL in the serial form."""
    connection_type = CONNECTION_SERIAL if ser2net.rfc2217 else CONNECTION_TCP
    await add_meter(hass, connection_type, connection_input(ser2net))
    energy = hass.states.get(ENERGY)
    assert energy is not None
    assert float(energy.state) > 0
    assert energy.attributes["unit_of_measurement"] == "kWh"
    first = float(energy.state)
    await poll(hass, freezer)
    assert float(hass.states.get(ENERGY).state) >= first  # type: ignore[union-attr]
    assert 200 < float(hass.states.get(VOLTAGE).state) < 260  # type: ignore[union-attr]
    await closed(meter, ser2net)
    assert meter.record.open_sessions == []
    assert meter.record.open_associations == []


async def test_flow_and_polls_over_rfc2217_through_debian12_ser2net(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, meter: Simulator, start_ser2net: Any
) -> None:
    """The ser2net of Debian 12 and Raspberry Pi OS bookworm gateways (4.3.11), RFC 2217:
    the serial form with an ``rfc2217://`` URL adds the meter and polls read it."""
    gateway: Ser2net = start_ser2net(rfc2217=True, program=debian12_ser2net())
    await add_meter(hass, CONNECTION_SERIAL, connection_input(gateway))
    first = float(hass.states.get(ENERGY).state)  # type: ignore[union-attr]
    assert first > 0
    await poll(hass, freezer)
    assert float(hass.states.get(ENERGY).state) >= first  # type: ignore[union-attr]
    await closed(meter, gateway)
    assert meter.record.open_sessions == []
    assert meter.record.open_associations == []


async def test_rfc2217_url_for_a_raw_port_is_named_in_the_form(
    hass: HomeAssistant, meter: Simulator, start_ser2net: Any
) -> None:
    """``rfc2217://`` typed for ser2net's raw TCP port: the form says the gateway accepted the
    connection but did not negotiate RFC 2217 (and suggests host and port), not 'cannot
    connect'."""
    gateway: Ser2net = start_ser2net()
    user_input = connection_input(None, f"rfc2217://127.0.0.1:{gateway.port}")
    user_input[CONF_ADVANCED][CONF_CONNECT_TIMEOUT] = 2.0
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": CONNECTION_SERIAL}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "rfc2217_not_negotiated"}
    await closed(meter, gateway)


async def test_flow_and_polls_on_a_local_serial_device(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, meter: Simulator, line: PtyPair
) -> None:
    """No gateway: the serial form with the line's device path."""
    await add_meter(hass, CONNECTION_SERIAL, connection_input(None, str(line.client_end)))
    assert float(hass.states.get(ENERGY).state) > 0  # type: ignore[union-attr]
    await poll(hass, freezer)
    await meter.settle()
    assert meter.record.open_sessions == []


async def test_gateway_busy_repair_through_ser2net(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    meter: Simulator,
    start_ser2net: Any,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Another program holds ser2net's port: three busy polls raise the repair, whose endpoint
    is the gateway; the entities go unavailable; the first good poll clears it."""
    gateway: Ser2net = start_ser2net()
    entry_id = await add_meter(hass, CONNECTION_TCP, connection_input(gateway))
    issue_id = f"gateway_busy_{entry_id}"
    await closed(meter, gateway)
    _, holder = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        for _ in range(5):  # the first tick may fall before the first poll is due
            await poll(hass, freezer)
            if issue := issue_registry.async_get_issue(DOMAIN, issue_id):
                break
        assert issue is not None
        assert health(hass, entry_id).failures == {"gateway_busy": 3}
        assert issue.translation_key == "gateway_busy"
        assert issue.translation_placeholders is not None
        assert issue.translation_placeholders["endpoint"] == f"127.0.0.1:{gateway.port}"
        assert hass.states.get(ENERGY).state == "unavailable"  # type: ignore[union-attr]
    finally:
        holder.close()
        await holder.wait_closed()
    await closed(meter, gateway)
    await poll(hass, freezer, 60)  # a failing meter backs off once its repair is raised
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(ENERGY).state != "unavailable"  # type: ignore[union-attr]
    await closed(meter, gateway)


async def test_ser2net_restart_mid_poll(
    hass: HomeAssistant, meter: Simulator, start_ser2net: Any
) -> None:
    """systemd restarts ser2net while a poll waits for the meter: that poll fails as 'cannot
    connect' at once, the entities go unavailable, and the next poll reads again; ser2net holds
    nothing and the meter has no link or association left open."""
    gateway: Ser2net = start_ser2net()
    entry_id = await add_meter(hass, CONNECTION_TCP, connection_input(gateway))
    coordinator = coordinator_of(hass, entry_id)
    await closed(meter, gateway)
    meter.set_fault(DelayResponse(1.0, on=ResponseKind.GET))
    poll_task = hass.async_create_task(coordinator.async_refresh())
    for _ in range(500):  # until the poll is mid-session
        if meter.record.open_associations:
            break
        await asyncio.sleep(0.02)
    assert meter.record.open_associations
    await hass.async_add_executor_job(gateway.restart)
    await poll_task
    assert not coordinator.last_update_success
    assert coordinator.health.last_failure_kind == "cannot_connect"
    assert hass.states.get(ENERGY).state == "unavailable"  # type: ignore[union-attr]
    meter.clear_faults()
    await meter.settle()
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert hass.states.get(ENERGY).state != "unavailable"  # type: ignore[union-attr]
    await closed(meter, gateway)
    assert meter.record.open_sessions == []
    assert meter.record.open_associations == []


async def test_ser2net_idle_timeout_mid_poll(
    hass: HomeAssistant, meter: Simulator, start_ser2net: Any
) -> None:
    """ser2net's ``timeout: 1`` cuts a poll whose meter is slower than that (the response
    timeout allows 5 s): 'cannot connect', unavailable; the late answer waits on the line, the
    next poll drains it and reads; nothing is left open."""
    gateway: Ser2net = start_ser2net(timeout=1)
    entry_id = await add_meter(
        hass, CONNECTION_TCP, connection_input(gateway, response_timeout=5.0)
    )
    coordinator = coordinator_of(hass, entry_id)
    await closed(meter, gateway)
    meter.set_fault(DelayResponse(4.0, on=ResponseKind.GET))
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert coordinator.health.last_failure_kind == "cannot_connect"
    assert hass.states.get(ENERGY).state == "unavailable"  # type: ignore[union-attr]
    await closed(meter, gateway)
    await meter.settle()  # the meter's late answer is on the line now
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    first = coordinator.health.last_frames[0]  # drained before the SNRM
    assert (first.direction, first.summary) == ("RX", "not HDLC")
    assert hass.states.get(ENERGY).state != "unavailable"  # type: ignore[union-attr]
    await closed(meter, gateway)
    assert meter.record.open_sessions == []
    assert meter.record.open_associations == []
