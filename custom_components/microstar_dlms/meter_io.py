"""Talking to a meter for the config flow and the coordinator: identify it, find its address
form, and name what went wrong in the words of the translations."""

from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import DOMAIN, POLL_TIMEOUT
from .cosem import FIRMWARE, SERIAL_NUMBER, MeterObject, as_text
from .dlms import MeterClient, MeterSession, ReadResult, ServerAddress
from .dlms.errors import (
    AssociationRejected,
    ConnectionFailed,
    DlmsError,
    EndpointBusy,
    GatewayBusy,
    NoAnswer,
    ResponseTimeout,
    Rfc2217NotNegotiated,
)
from .meter_config import MeterConfig


class MeterIdentityError(DlmsError):
    """The meter answered but did not give a usable serial number."""


# Client errors to translation keys, shared by the flow's form errors and the coordinator's
# exceptions and statistics; authentication failures are handled before (reauth, password field).
_ERROR_KINDS: tuple[tuple[type[DlmsError], str], ...] = (
    (GatewayBusy, "gateway_busy"),
    (EndpointBusy, "endpoint_busy"),
    (NoAnswer, "no_answer"),
    (Rfc2217NotNegotiated, "rfc2217_not_negotiated"),
    (ConnectionFailed, "cannot_connect"),
    (AssociationRejected, "association_rejected"),
    (ResponseTimeout, "response_timeout"),
    (MeterIdentityError, "no_serial_number"),
)


def error_kind(err: DlmsError) -> str:
    """The translation key (and statistics bucket) of a client error."""
    for error_type, kind in _ERROR_KINDS:
        if isinstance(err, error_type):
            return kind
    return "protocol_error"


def poll_failed(err: DlmsError | TimeoutError, config: MeterConfig) -> UpdateFailed:
    """The failed poll Home Assistant shows for a client error or the poll's own timeout (its
    translation key is the statistics bucket)."""
    if isinstance(err, DlmsError):
        key = error_kind(err)
        placeholders = {"endpoint": config.display_endpoint, "error": str(err)}
    else:
        key, placeholders = "poll_timeout", {"seconds": str(int(POLL_TIMEOUT))}
    return UpdateFailed(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


async def async_identify(config: MeterConfig, server: ServerAddress, *, probe: bool = False) -> str:
    """Open one session with the meter at ``server`` and return its serial number (``probe``:
    one short SNRM, as ``server`` may not be the meter's)."""
    client = MeterClient(config.settings(server, probe=probe))
    async with client.session() as session:
        return await async_read_serial(session)


async def async_read_serial(session: MeterSession) -> str:
    """The meter's serial number (1-0:0.0.0, class 1); MeterIdentityError when it has none."""
    (result,) = await session.read_attributes([MeterObject(SERIAL_NUMBER, 1).value_ref()])
    return _serial(result)


async def async_read_identity(session: MeterSession) -> tuple[str, ReadResult]:
    """The serial number and the firmware id's read, in one request where the meter allows
    it; MeterIdentityError when the serial is missing (a firmware refusal comes back as is)."""
    serial, firmware = await session.read_attributes(
        [MeterObject(SERIAL_NUMBER, 1).value_ref(), MeterObject(FIRMWARE, 1).value_ref()]
    )
    return _serial(serial), firmware


def _serial(result: ReadResult) -> str:
    if result.error is not None:
        raise MeterIdentityError("the meter did not give its serial number") from result.error
    if (serial := as_text(result.value)) is None:
        raise MeterIdentityError("the meter's serial number is empty")
    return serial


async def async_detect(config: MeterConfig) -> tuple[MeterConfig, str]:
    """Find the address form the meter answers to; return the fixed config and the serial.

    A meter ignores frames not addressed to it (field notes 6), so only NoAnswer moves on to
    the next candidate; any other error means the address was right and is raised. With
    several candidates each is probed (one SNRM, a short wait, DISC when silent); the session
    that got its UA goes on with the full response timeout and retries.
    """
    candidates = config.address_candidates()
    probe = len(candidates) > 1
    silence: NoAnswer | None = None
    for server in candidates:
        try:
            serial = await async_identify(config, server, probe=probe)
        except NoAnswer as err:
            silence = err
            continue
        return config.with_server(server), serial
    assert silence is not None
    raise silence
