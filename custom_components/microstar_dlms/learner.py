"""Discovery as a pure learner: which objects to ask a meter next, and what each answer teaches.

No Home Assistant, no IO: the coordinator hands it the catalogue, what is known of the meter
(``MeterDiscovery``), which objects' entities are enabled, the batch size its session allows and
a time budget with a clock; it hands out batches of objects to probe (``next_probe``) and takes
the session's results (``learn``). The guide benchmark drives the same learner with a bare client.

Each object is asked for its scaler_unit (its value, for a class without one): an answer
confirms it; a refusal that says it is not there for this client marks it absent; a passing one
(object-unavailable, temporary failure) leaves it to the next poll; one with no data-access
result at all (an exception response: ``RequestRefusedError``) sets it aside until the next
identity check (``identity.py`` clears ``set_aside``). Enabled entities' objects go first; an
object that ``requires`` others (a channel's registers, a tariff's) is asked once those are
confirmed, in the same poll, and never where one is absent. Progress is kept per batch, so a
poll cut short loses nothing it learned.
"""

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
import logging
from time import monotonic
from typing import Any

from .catalogue import KnownObject
from .const import LOGGER
from .cosem import MeterObject, parse_scaler_unit
from .discovery import PROBE_BATCH, MeterDiscovery
from .dlms import NegotiatedParameters, ReadResult
from .dlms.errors import DataAccessError, DataAccessResult, RequestRefusedError

# Answers that say the object is not there for this client: never asked again (until the meter's
# firmware or the entry's access level changes). Any other refusal is asked again next poll, as
# object-unavailable (11) is: meters use it for passing states.
_ABSENT_RESULTS = frozenset(
    {
        DataAccessResult.OBJECT_UNDEFINED,
        DataAccessResult.OBJECT_CLASS_INCONSISTENT,
        DataAccessResult.TYPE_UNMATCHED,
        DataAccessResult.READ_WRITE_DENIED,
        DataAccessResult.SCOPE_OF_ACCESS_VIOLATED,
    }
)


@dataclass(frozen=True, slots=True)
class EnabledEntities:
    """The objects whose entities are enabled: the entity registry's word where it has an entity
    of the object (taken once per poll), else the catalogue's default on a meter with the objects
    confirmed so far (a tariff's registers are enabled once the tariff is)."""

    catalogue: Mapping[str, KnownObject]
    registered: Mapping[str, bool]
    """Object key -> whether one of its registered entities is enabled."""
    discovery: MeterDiscovery

    def __contains__(self, key: object) -> bool:
        """Whether an entity of the object ``key`` is enabled."""
        if not isinstance(key, str):
            return False
        verdict = self.registered.get(key)
        if verdict is not None:
            return verdict
        return self.catalogue[key].enabled_by_default(self.discovery.objects)


def probe_batch(negotiated: NegotiatedParameters | None) -> int:
    """Objects per probe: one per request without GET-with-list (the field meter), where the
    wire cost is the same and every answer is kept the moment it arrives."""
    return PROBE_BATCH if negotiated is not None and negotiated.multiple_references else 1


def pending_objects(
    catalogue: Mapping[str, KnownObject], discovery: MeterDiscovery, enabled: Container[str]
) -> list[str]:
    """Catalogue keys still to probe, enabled entities' first.

    An object waiting for another (a channel's registers for the channel's energy total) is
    probed once that one is confirmed, and never where it is absent.
    """
    keys = [
        key
        for key in discovery.pending(catalogue)  # every pass: the cheap test first
        if all(required in discovery.objects for required in catalogue[key].requires)
    ]
    return sorted(keys, key=lambda key: key not in enabled)


class Learner:
    """One poll's discovery of one meter: batches of objects out, their answers in.

    It runs in passes over the objects pending when each pass starts (a confirmed channel opens
    its other objects for the next pass). Past ``disabled_budget`` a pass stops at the first
    object whose entities are disabled (the rest of it are disabled entities' too: a later
    poll's); past ``budget`` discovery stops after the batch under way. The first batch is always
    asked.
    """

    def __init__(
        self,
        catalogue: Mapping[str, KnownObject],
        discovery: MeterDiscovery,
        enabled: Container[str],
        *,
        batch: int,
        budget: float,
        disabled_budget: float,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        """Start this poll's discovery now (by ``clock``)."""
        self.catalogue = catalogue
        self.discovery = discovery
        self.enabled = enabled
        self.batch = batch
        self._clock = clock
        started = clock()
        self._deadline = started + budget
        self._disabled_deadline = started + min(budget, disabled_budget)
        self._asked: set[str] = set()  # probed in this poll (not the ones a pass stopped before)
        self._pass: list[str] = []
        self._at = 0  # the next object of this pass
        self._over = False
        self._told = False

    def pending(self) -> list[str]:
        """Catalogue keys still to probe, enabled entities' first."""
        return pending_objects(self.catalogue, self.discovery, self.enabled)

    def next_probe(self) -> list[MeterObject]:
        """The next objects to ask (``MeterObject.probe_ref``); empty once this poll's
        discovery is over."""
        while not self._over:
            if self._at >= len(self._pass):
                self._pass = [key for key in self.pending() if key not in self._asked]
                self._at = 0
                if not self._pass:
                    break
            key = self._pass[self._at]
            if self._clock() >= self._disabled_deadline and key not in self.enabled:
                if self._at == 0:
                    break  # a pass that starts with them has nothing else: a later poll's
                self._at = len(self._pass)  # the rest of this pass are disabled entities' too
                continue
            keys = self._pass[self._at : self._at + self.batch]
            self._at += len(keys)
            return [MeterObject(key, self.catalogue[key].class_id) for key in keys]
        self._over = True
        if not self._told and LOGGER.isEnabledFor(logging.DEBUG):
            self._told = True
            LOGGER.debug(
                "Meter %s: has %s; %d objects still to probe",
                self.discovery.serial,
                sorted(self.discovery.objects),
                len(self.pending()),
            )
        return []

    def learn(self, probe: Sequence[MeterObject], results: Sequence[ReadResult]) -> None:
        """Take the answers to ``probe``; past the budget, discovery is over for this poll."""
        for obj, result in zip(probe, results, strict=True):
            self._asked.add(obj.key)
            self._learn(obj, result.error, result.value)
        if self._clock() >= self._deadline:
            self._over = True

    def _learn(self, obj: MeterObject, error: DataAccessError | None, value: Any) -> None:
        """Confirm an object from its probe's answer, mark it absent, or set it aside."""
        discovery = self.discovery
        has_scaler = obj.scaler_unit_ref() is not None
        scaler_unit = parse_scaler_unit(value) if error is None and has_scaler else None
        if isinstance(error, RequestRefusedError):
            # No data-access result (an exception response, say): set aside, never failing a
            # poll nor probed in every one; asked again with the next identity check.
            LOGGER.debug("Meter %s: %s set aside (%s)", discovery.serial, obj.key, error)
            discovery.set_aside.add(obj.key)
            return
        if error is not None and error.result not in _ABSENT_RESULTS:
            # A passing refusal (temporary failure, hardware fault): ask again next poll.
            LOGGER.debug("Meter %s: %s not answered now (%s)", discovery.serial, obj.key, error)
            return
        if error is not None or (has_scaler and scaler_unit is None):
            LOGGER.debug("Meter %s: %s absent or unusable (%s)", discovery.serial, obj.key, error)
            discovery.absent.add(obj.key)
            return
        discovery.confirm(obj, scaler_unit)
