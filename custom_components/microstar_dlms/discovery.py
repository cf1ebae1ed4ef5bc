"""What the integration knows about a meter: learned a little per poll, kept across restarts.

Asking the objects the integration can present for their scaler_unit (object-undefined marks the
absent ones) costs far less than the meter's object list on a large meter: the vendor's guide
meter lists 450 objects (a 21 kB list) of which about 45 matter here (figures in the README).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .cosem import MeterObject, ScalerUnit

STORAGE_VERSION: Final = 1
# Serial and firmware are checked once a day (and when a known object turns undefined), not on
# every poll or restart: a poll after a restart reads only values.
IDENTITY_CHECK_INTERVAL: Final = timedelta(days=1)
# Objects probed per request batch; progress is kept after each batch.
PROBE_BATCH: Final = 8
# Seconds of discovery in one poll at most: the rest goes on in the next poll.
DISCOVERY_BUDGET: Final = 60.0
# Seconds of a poll spent on objects whose entities are disabled (the most of a large meter's):
# they are learned over the following polls, so the first ones stay short.
DISABLED_DISCOVERY_BUDGET: Final = 10.0
# The poll inside the entry's setup (the add-meter dialog waits for it) learns only this long:
# the enabled entities' objects first, the rest in the following polls (issue 17: the dialog
# answers in seconds, not after the whole discovery).
SETUP_DISCOVERY_BUDGET: Final = 0.5

# Meters share what they have in common: one object per (key, class) and per scaler_unit in the
# process, not one per meter (scripts/bench: objects_alive_per_meter). Both are immutable, and
# bounded by the catalogue and the unit table.
_OBJECTS: Final[dict[MeterObject, MeterObject]] = {}
_SCALER_UNITS: Final[dict[ScalerUnit, ScalerUnit]] = {}


@dataclass(slots=True)
class MeterDiscovery:
    """What polls learned about the meter; scalers never change, so each is read once."""

    serial: str
    firmware: str | None = None
    objects: dict[str, MeterObject] = field(default_factory=dict)
    scaler_units: dict[str, ScalerUnit] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)
    identity_checked: datetime | None = None
    # Refused with an exception instead of a data-access result: asked again once the
    # identity is next checked (daily, or after a failed poll); not stored.
    set_aside: set[str] = field(default_factory=set)

    def pending(self, keys: Iterable[str]) -> list[str]:
        """The keys neither confirmed, known absent nor set aside, in the given order."""
        return [
            key
            for key in keys
            if key not in self.objects and key not in self.absent and key not in self.set_aside
        ]

    def identity_due(self, now: datetime) -> bool:
        """Whether serial and firmware should be read in this poll."""
        checked = self.identity_checked
        return checked is None or now - checked >= IDENTITY_CHECK_INTERVAL

    def confirm(self, obj: MeterObject, scaler_unit: ScalerUnit | None) -> None:
        """The meter has ``obj`` (with this scaler_unit when its class has one)."""
        self.objects[obj.key] = _OBJECTS.setdefault(obj, obj)
        if scaler_unit is not None:
            self.scaler_units[obj.key] = _SCALER_UNITS.setdefault(scaler_unit, scaler_unit)

    def forget(self) -> None:
        """Start over: the meter changed (firmware, or a known object is gone)."""
        self.objects.clear()
        self.scaler_units.clear()
        self.absent.clear()
        self.set_aside.clear()
        self.identity_checked = None

    def forget_changed(self, undefined: Sequence[str]) -> bool:
        """Start over when a confirmed object is ``undefined`` now (the meter changed: learn it
        again next poll); whether it did."""
        if not undefined or not self.objects:
            return False
        LOGGER.warning(
            "Meter %s no longer has %s; learning its objects again", self.serial, undefined[0]
        )
        self.forget()
        return True

    def as_dict(self) -> dict[str, Any]:
        """The stored form (JSON)."""
        return {
            "serial": self.serial,
            "firmware": self.firmware,
            "identity_checked": (
                self.identity_checked.isoformat() if self.identity_checked is not None else None
            ),
            "objects": {
                key: {
                    "class_id": obj.class_id,
                    "scaler_unit": (
                        [su.scaler, su.unit] if (su := self.scaler_units.get(key)) else None
                    ),
                }
                for key, obj in self.objects.items()
            },
            "absent": sorted(self.absent),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], catalogue: Iterable[str]) -> MeterDiscovery:
        """The stored form back; objects the integration no longer presents are left out."""
        known = set(catalogue)
        discovery = cls(serial=str(data["serial"]), firmware=data.get("firmware"))
        if checked := data.get("identity_checked"):
            discovery.identity_checked = dt_util.parse_datetime(checked)
        for key, stored in data.get("objects", {}).items():
            if key not in known:
                continue
            scaler_unit = stored.get("scaler_unit")
            discovery.confirm(
                MeterObject(key, int(stored["class_id"])),
                ScalerUnit(*scaler_unit) if scaler_unit else None,
            )
        discovery.absent = {key for key in data.get("absent", ()) if key in known}
        return discovery


class DiscoveryStore:
    """One entry's discovery on disk (``.storage/microstar_dlms.<entry_id>``)."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open the store of one config entry."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}", serialize_in_event_loop=False
        )

    async def async_load(self, serial: str, catalogue: Iterable[str]) -> MeterDiscovery:
        """What earlier polls learned about meter ``serial``; nothing for another meter."""
        data = await self._store.async_load()
        if not data or data.get("serial") != serial:
            return MeterDiscovery(serial)
        try:
            return MeterDiscovery.from_dict(data, catalogue)
        except KeyError, TypeError, ValueError:
            return MeterDiscovery(serial)  # unreadable: learn again

    async def async_save(self, discovery: MeterDiscovery) -> None:
        """Keep what was learned (written at once: a retry may read it seconds later)."""
        await self._store.async_save(discovery.as_dict())

    async def async_remove(self) -> None:
        """Forget the meter (its entry was deleted)."""
        await self._store.async_remove()
