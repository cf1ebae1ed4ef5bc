"""Constants for the Microstar DLMS integration."""

from datetime import timedelta
import logging
from typing import Final

from .dlms.settings import SNRM_ANSWER_WAIT

DOMAIN: Final = "microstar_dlms"
LOGGER: Final = logging.getLogger(__package__)

MANUFACTURER: Final = "Microstar Electric"

# Config entry data keys. The serial port lives under "device", the key HA's `usb`
# integration reads to show which entry uses a port.
CONF_CONNECTION_TYPE: Final = "connection_type"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_DEVICE: Final = "device"
CONF_CLIENT_SAP: Final = "client_sap"
CONF_OTHER_CLIENT_SAP: Final = "other_client_sap"  # form only: the number for access "other"
CONF_PASSWORD: Final = "password"  # noqa: S105 - the key, not a secret
CONF_ADVANCED: Final = "advanced"
CONF_SERVER_LOGICAL: Final = "server_logical"
CONF_SERVER_PHYSICAL: Final = "server_physical"
CONF_ADDRESS_SIZE: Final = "address_size"
CONF_SERIAL_HINT: Final = "serial_hint"
CONF_RESPONSE_TIMEOUT: Final = "response_timeout"
CONF_CONNECT_TIMEOUT: Final = "connect_timeout"

CONNECTION_TCP: Final = "tcp"
CONNECTION_SERIAL: Final = "serial"

ADDRESS_AUTO: Final = "auto"
ACCESS_OTHER: Final = "other"  # the access level whose client SAP is typed (advanced options)
ADDRESS_SIZES: Final = ("1", "2", "4")

DEFAULT_PORT: Final = 3333
DEFAULT_CLIENT_SAP: Final = 1
PUBLIC_CLIENT_SAP: Final = 16
DEFAULT_SERVER_LOGICAL: Final = 1
DEFAULT_RESPONSE_TIMEOUT: Final = 3.0
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
# Automatic address size: each address form gets one SNRM and the wait of one (the core's
# SNRM_ANSWER_WAIT: one turnaround, doubled). A meter ignores an address not its own (field
# notes 6), so waiting the response timeout three times per form only delays the one that answers.
ADDRESS_PROBE_WAIT: Final = SNRM_ANSWER_WAIT
BAUDRATE: Final = 9600  # field notes 1: RS-232/RS-485 at 9600 8N1
# A person waiting (the add dialog) waits this long for the line; a meter's poll waits its turn
# as long as the line needs (dlms/bus.py): waiting for the line is not a failure.
LOCK_TIMEOUT: Final = 60.0
PASSWORD_MAX_LENGTH: Final = 32

# No poll-interval option (HA policy); see the README for a custom schedule.
UPDATE_INTERVAL: Final = timedelta(seconds=30)
# Hard bound on one poll's session, once its turn on the line has come.
POLL_TIMEOUT: Final = 150.0
# The read action (services.py): how long it waits for its turn on the line (a waiting poll lets
# at most one action go first, dlms/bus.py), and how long its session may take once it has it.
READ_ACTION_WAIT: Final = 60.0
READ_ACTION_TIMEOUT: Final = 30.0
# A failing meter is asked less often once its repairs are decided (doubling up to this), so
# its timeouts do not take the line from the meters sharing it.
BACKOFF_MAX: Final = timedelta(minutes=5)

# Repairs: consecutive failed polls before an issue is raised.
REPAIR_AFTER_POLLS: Final = 3
# The meter drops its association after 180 s without a valid frame (field notes 1).
METER_INACTIVITY_WINDOW: Final = timedelta(seconds=180)
ISSUE_GATEWAY_BUSY: Final = "gateway_busy"
# A silent meter: first a notice that it does not answer (within its inactivity window a session
# another client left open may still hold it), then, past the window, the repair.
ISSUE_METER_NOT_ANSWERING: Final = "meter_not_answering"
ISSUE_METER_SILENT: Final = "meter_silent"
