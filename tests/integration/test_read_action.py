"""The read action as a Home Assistant user meets it: admins only, the attributes a person asks
for, the OBIS field checked before any I/O, and each bound a translated error."""

import asyncio
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from unittest.mock import patch

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.microstar_dlms.const import DOMAIN
from custom_components.microstar_dlms.coordinator import MicrostarCoordinator
from custom_components.microstar_dlms.dlms.axdr import CosemDateTime
from custom_components.microstar_dlms.services import plain_value
from microstar_sim import Silent, Simulator

from .conftest import SERIAL, settled

SERVICES = "custom_components.microstar_dlms.services"
READ_URL = f"/api/services/{DOMAIN}/read?return_response"


async def _read(
    hass: HomeAssistant, entry: MockConfigEntry, context: Context | None = None, **fields: Any
) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "read",
        {"config_entry_id": entry.entry_id, **fields},
        blocking=True,
        return_response=True,
        context=context,
    )


async def _connections(sim: Simulator) -> int:
    return len((await settled(sim)).record.connections)


@pytest.mark.usefixtures("init_integration")
async def test_a_user_who_is_not_an_admin_is_refused(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    hass_read_only_user: MockUser,
    hass_admin_user: MockUser,
) -> None:
    """A non-admin's call is refused before the line is used; an admin's is read."""
    before = await _connections(sim)
    with pytest.raises(Unauthorized):
        await _read(
            hass, mock_config_entry, Context(user_id=hass_read_only_user.id), obis="1-1:32.7.0"
        )
    assert await _connections(sim) == before
    voltage = await _read(
        hass, mock_config_entry, Context(user_id=hass_admin_user.id), obis="1-1:32.7.0"
    )
    assert voltage["unit"] == "V"


@pytest.mark.usefixtures("init_integration")
async def test_the_rest_api_answers_401_to_a_user_who_is_not_an_admin(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    """POST /api/services/microstar_dlms/read: 401 for a read-only user, the value for an admin."""
    assert await async_setup_component(hass, "api", {})
    body = {"config_entry_id": mock_config_entry.entry_id, "obis": "1-0:0.0.0", "class_id": 1}
    before = await _connections(sim)

    refused = await (await hass_client(hass_read_only_access_token)).post(READ_URL, json=body)
    assert refused.status == HTTPStatus.UNAUTHORIZED
    assert await _connections(sim) == before

    admitted = await (await hass_client()).post(READ_URL, json=body)
    assert admitted.status == HTTPStatus.OK
    assert (await admitted.json())["service_response"] == {"value": SERIAL}


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("obis", "class_id", "attribute"),
    [
        ("1-0:0.0.0", 1, 2),  # serial number
        ("1-0:0.2.0", 1, 2),  # firmware id
        ("1-1:32.7.0", 3, 3),  # a register's scaler and unit
        ("1-1:1.6.0", 4, 5),  # an extended register's capture time
        ("1-1:1.4.0", 5, 3),  # a demand register's last average
        ("1-1:1.4.0", 5, 4),  # ... its scaler and unit
        ("1-1:1.4.0", 5, 6),  # ... its capture time
        *(("0-0:1.0.0", 8, attribute) for attribute in range(2, 10)),  # the clock
    ],
)
async def test_what_a_person_asks_for_is_read(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    obis: str,
    class_id: int,
    attribute: int,
) -> None:
    """Values, scalers and units, capture times, the clock and the identity are read."""
    response = await _read(
        hass, mock_config_entry, obis=obis, class_id=class_id, attribute=attribute
    )
    assert "value" in response


@pytest.mark.usefixtures("init_integration")
async def test_a_demand_registers_averages_are_scaled(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The current and the last average come with the demand register's scaler and unit."""
    for attribute in (2, 3):
        response = await _read(
            hass, mock_config_entry, obis="1-1:1.4.0", class_id=5, attribute=attribute
        )
        assert response["unit"] == "W"
        assert "scaled" in response


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("obis", "class_id", "attribute"),
    [
        ("0-0:40.0.0", 15, 2),  # the association's object list
        ("1-1:99.1.0", 7, 2),  # the load profile's buffer
        ("1-1:99.1.0", 7, 3),  # ... its capture objects
        ("0-0:22.0.0", 23, 2),  # the HDLC setup
        ("1-1:32.7.0", 3, 1),  # a logical name: the code typed
        ("1-1:1.6.0", 4, 4),  # an extended register's status
        ("1-0:0.0.0", 1, 3),  # data has no attribute 3
    ],
)
async def test_other_attributes_are_refused_before_the_line_is_used(
    hass: HomeAssistant,
    sim: Simulator,
    mock_config_entry: MockConfigEntry,
    obis: str,
    class_id: int,
    attribute: int,
) -> None:
    """Anything else is a translated refusal that names the class and attribute; no session."""
    before = await _connections(sim)
    with pytest.raises(ServiceValidationError) as raised:
        await _read(hass, mock_config_entry, obis=obis, class_id=class_id, attribute=attribute)
    assert raised.value.translation_key == "attribute_not_readable"
    assert raised.value.translation_placeholders == {
        "class_id": str(class_id),
        "attribute": str(attribute),
    }
    assert await _connections(sim) == before


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    "obis",
    [
        "1-0:0.0.\u0660",  # Arabic-Indic zero: once read as 1-0:0.0.0
        "\uff11-0:0.0.0",  # fullwidth one
        "1-1:32.7.0" + " " * 40,  # past the length bound, even if it would parse
        "<b>" + "9" * 10_000,
    ],
)
async def test_the_obis_field_takes_ascii_digits_and_is_never_echoed(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry, obis: str
) -> None:
    """A malformed or overlong code is a translated validation error that does not repeat it."""
    before = await _connections(sim)
    with pytest.raises(ServiceValidationError) as raised:
        await _read(hass, mock_config_entry, obis=obis, class_id=1)
    error = raised.value
    assert error.translation_key == "invalid_obis"
    assert error.translation_placeholders == {"max_length": "32"}
    assert obis.strip() not in str(error)
    assert await _connections(sim) == before


@pytest.mark.usefixtures("init_integration")
async def test_an_answer_past_the_size_bound_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A value larger than the action returns is a translated error, not a huge response."""
    with (
        patch(f"{SERVICES}.RESPONSE_MAX_BYTES", 12),
        pytest.raises(HomeAssistantError) as raised,
    ):
        await _read(hass, mock_config_entry, obis="1-0:0.0.0", class_id=1)
    assert raised.value.translation_key == "value_too_large"
    assert raised.value.translation_placeholders == {"size": "20", "limit": "12"}


@pytest.mark.usefixtures("init_integration")
async def test_no_turn_in_time_is_a_translated_error(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The meter's line held past the action's wait: the action gives up and says so."""
    coordinator: MicrostarCoordinator = mock_config_entry.runtime_data.coordinator
    held, release = asyncio.Event(), asyncio.Event()

    async def hold_the_line() -> None:
        async with coordinator.seat.turn():
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_line())
    await held.wait()
    try:
        with (
            patch(f"{SERVICES}.READ_ACTION_WAIT", 0.1),
            pytest.raises(HomeAssistantError) as raised,
        ):
            async with asyncio.timeout(5):
                await _read(hass, mock_config_entry, obis="1-1:32.7.0")
    finally:
        release.set()
        await holder
    assert raised.value.translation_key == "read_no_turn"
    assert raised.value.translation_placeholders["seconds"] == "0.1"  # the wait it had


@pytest.mark.usefixtures("init_integration")
async def test_a_read_past_its_time_bound_is_a_translated_error(
    hass: HomeAssistant, sim: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    """A session that runs past the action's own bound ends (DISC) with a translated error."""
    sim.set_fault(Silent())
    with (
        patch(f"{SERVICES}.READ_ACTION_TIMEOUT", 0.4),  # below 3 unanswered SNRMs (0.9 s)
        pytest.raises(HomeAssistantError) as raised,
    ):
        await _read(hass, mock_config_entry, obis="1-1:32.7.0")
    assert raised.value.translation_key == "no_answer_in_time"
    assert raised.value.translation_placeholders == {"seconds": "0.4"}  # the bound it had


@pytest.mark.usefixtures("init_integration")
async def test_an_entry_that_is_not_a_loaded_meter_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """An unknown entry, another integration's entry or an unloaded meter: a translated error."""
    other = MockConfigEntry(domain="sun")
    other.add_to_hass(hass)
    for entry_id in ("no-such-entry", other.entry_id):
        with pytest.raises(ServiceValidationError) as refused:
            await hass.services.async_call(
                DOMAIN,
                "read",
                {"config_entry_id": entry_id, "obis": "1-1:32.7.0"},
                blocking=True,
                return_response=True,
            )
        assert refused.value.translation_key == "entry_not_loaded"
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    with pytest.raises(ServiceValidationError) as refused:
        await _read(hass, mock_config_entry, obis="1-1:32.7.0")
    assert refused.value.translation_key == "entry_not_loaded"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, None),
        (True, True),
        (Decimal("230.15"), 230.15),
        (b"21061234", "21061234"),
        (b"\x00\xff\x10", "00ff10"),
        (
            CosemDateTime.from_datetime(datetime(2026, 12, 3, 15, 4, 5)).encode(),
            "2026-12-03T15:04:05",
        ),
        (b"\x07\xea\x0d\x01\xff\x00\x00\x00\x00\x80\x00\x00", "07ea0d01ff00000000800000"),
        (bytes.fromhex("270f0c1fff173b3b0002d000"), "9999-12-31T23:59:59-12:00"),
        ([1, [b"ab", Decimal(2)]], [1, ["ab", 2.0]]),
        (CosemDateTime.from_datetime(datetime(2026, 1, 2, 3, 4, 5)), "2026-01-02T03:04:05"),
        (frozenset({7}), "frozenset({7})"),
    ],
    ids=[
        "none",
        "bool",
        "decimal",
        "text",
        "bytes",
        "date-time octets",
        "month 13 octets",
        "year 9999",
        "nested",
        "date-time",
        "other",
    ],
)
def test_a_value_comes_back_as_json_can_carry_it(value: Any, shown: Any) -> None:
    """Octet strings as text, a date-time or hex; numbers as numbers; anything else as text."""
    assert plain_value(value) == shown


@pytest.mark.usefixtures("init_integration")
async def test_an_object_the_meter_does_not_have_is_a_translated_error(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The meter answers object-undefined: the action says so, with the code asked for."""
    with pytest.raises(HomeAssistantError) as refused:
        await _read(hass, mock_config_entry, obis="1-1:99.99.0")
    assert refused.value.translation_key == "object_undefined"
    assert refused.value.translation_placeholders["obis"] == "1-1:99.99.0"
