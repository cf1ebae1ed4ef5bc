"""Talking to a meter for the config flow and the coordinator: identify it, find its address
form, and name what went wrong in the words of the translations."""

from .cosem import SERIAL_NUMBER, MeterObject, as_text
from .dlms import MeterClient, MeterSession, ServerAddress
from .dlms.errors import (
    AssociationRejected,
    ConnectionFailed,
    DataAccessError,
    DlmsError,
    EndpointBusy,
    GatewayBusy,
    NoAnswer,
    ResponseTimeout,
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


async def async_identify(config: MeterConfig, server: ServerAddress) -> str:
    """Open one session with the meter at ``server`` and return its serial number."""
    client = MeterClient(config.settings(server))
    async with client.session() as session:
        return await async_read_serial(session)


async def async_read_serial(session: MeterSession) -> str:
    """The meter's serial number (1-0:0.0.0, class 1); MeterIdentityError when it has none."""
    try:
        value = await session.get(MeterObject(SERIAL_NUMBER, 1).value_ref())
    except DataAccessError as err:
        raise MeterIdentityError("the meter did not give its serial number") from err
    if (serial := as_text(value)) is None:
        raise MeterIdentityError("the meter's serial number is empty")
    return serial


async def async_detect(config: MeterConfig) -> tuple[MeterConfig, str]:
    """Find the address form the meter answers to; return the fixed config and the serial.

    A meter ignores frames not addressed to it (field notes 6), so only NoAnswer moves on to
    the next candidate; any other error means the address was right and is raised.
    """
    silence: NoAnswer | None = None
    for server in config.address_candidates():
        try:
            serial = await async_identify(config, server)
        except NoAnswer as err:
            silence = err
            continue
        return config.with_server(server), serial
    assert silence is not None
    raise silence
