"""Discovery's learner on its own: no meter, no Home Assistant, a clock the test moves."""

from collections.abc import Iterable

from custom_components.microstar_dlms.catalogue import KINDS, PROBED, AsSensor, KnownObject
from custom_components.microstar_dlms.cosem import MeterObject
from custom_components.microstar_dlms.discovery import MeterDiscovery
from custom_components.microstar_dlms.dlms import Data, DataAccessError, ReadResult
from custom_components.microstar_dlms.dlms.axdr import DataType
from custom_components.microstar_dlms.dlms.errors import DataAccessResult, RequestRefusedError
from custom_components.microstar_dlms.learner import EnabledEntities, Learner

TARIFF = "0.0.96.14.0.255"  # enabled by default
RATE_1 = "1.1.1.8.1.255"  # enabled with the tariff
LATER = "1.1.31.7.0.255"  # enabled by default, waits for the tariff
SPARE = "1.1.21.7.0.255"  # disabled
MISSING = "1.1.41.7.0.255"  # enabled by default, absent from the meter

DISABLED_BUDGET = 10.0


def _known(
    key: str, *, enabled: bool = False, with_: str | None = None, requires: str = ""
) -> KnownObject:
    sensor = AsSensor(name="x", kind=KINDS["number"], enabled=enabled, enabled_with=with_)
    return KnownObject(key, 1, key, (sensor,), requires=tuple(requires.split()))


class Meter:
    """Answers probes (class 1: the value) and moves the clock as a slow line would."""

    def __init__(self, has: Iterable[str], seconds_per_answer: float = 0.0) -> None:
        self.has = set(has)
        self.now = 0.0
        self.asked: list[str] = []
        self._step = seconds_per_answer

    def clock(self) -> float:
        return self.now

    def answer(self, probe: list[MeterObject]) -> list[ReadResult]:
        self.asked += [obj.key for obj in probe]
        self.now += self._step * len(probe)
        return [
            ReadResult(obj.probe_ref(), data=Data(DataType.LONG_UNSIGNED, 1))
            if obj.key in self.has
            else ReadResult(
                obj.probe_ref(), error=DataAccessError(DataAccessResult.OBJECT_UNDEFINED)
            )
            for obj in probe
        ]


def _learn(
    catalogue: dict[str, KnownObject],
    discovery: MeterDiscovery,
    meter: Meter,
    *,
    budget: float = 60.0,
    batch: int = 1,
) -> None:
    """One poll's discovery, driven as the coordinator drives it."""
    learner = Learner(
        catalogue,
        discovery,
        EnabledEntities(catalogue, {}, discovery),
        batch=batch,
        budget=budget,
        disabled_budget=DISABLED_BUDGET,
        clock=meter.clock,
    )
    while probe := learner.next_probe():
        learner.learn(probe, meter.answer(probe))


def test_an_object_enabled_later_in_the_poll_is_still_asked_in_it() -> None:
    """An object passed over as a disabled entity's once its budget ran out, then enabled by an
    answer in a later pass (the rates by the tariff), is asked in the same poll."""
    catalogue = {
        SPARE: _known(SPARE),  # the slow disabled object that uses up the budget
        TARIFF: _known(TARIFF, requires=SPARE, enabled=True),
        RATE_1: _known(RATE_1, with_=TARIFF),
    }
    discovery = MeterDiscovery("1234")
    meter = Meter(catalogue, seconds_per_answer=DISABLED_BUDGET + 1)
    _learn(catalogue, discovery, meter)
    assert meter.asked == [SPARE, TARIFF, RATE_1]
    assert set(discovery.objects) == set(catalogue)


def test_enabled_entities_first_the_others_within_their_budget_then_next_poll() -> None:
    """Disabled entities' objects stop at their budget; the next poll goes on with them."""
    catalogue = {key: _known(key) for key in (SPARE, MISSING)}
    catalogue[TARIFF] = _known(TARIFF, enabled=True)
    discovery = MeterDiscovery("1234")
    meter = Meter({TARIFF, SPARE}, seconds_per_answer=DISABLED_BUDGET * 0.6)
    _learn(catalogue, discovery, meter)
    assert meter.asked == [TARIFF, SPARE]
    assert MISSING not in discovery.absent
    meter.asked.clear()
    _learn(catalogue, discovery, meter)
    assert meter.asked == [MISSING]
    assert discovery.absent == {MISSING}
    assert set(discovery.objects) == {TARIFF, SPARE}


def test_the_first_batch_always_and_nothing_past_the_budget() -> None:
    """A poll with no time left still asks one batch; the rest waits for the next poll."""
    catalogue = {key: _known(key, enabled=True) for key in (TARIFF, LATER, MISSING, SPARE)}
    discovery = MeterDiscovery("1234")
    meter = Meter(catalogue)
    _learn(catalogue, discovery, meter, budget=0, batch=2)
    assert meter.asked == [TARIFF, LATER]


def test_an_object_waiting_for_an_absent_one_is_never_asked() -> None:
    """A channel's registers wait for its energy total; where that is absent, never asked."""
    catalogue = {
        MISSING: _known(MISSING, enabled=True),
        LATER: _known(LATER, enabled=True, requires=MISSING),
    }
    discovery = MeterDiscovery("1234")
    meter = Meter(set())
    _learn(catalogue, discovery, meter)
    assert meter.asked == [MISSING]
    assert discovery.absent == {MISSING}
    _learn(catalogue, discovery, meter)
    assert meter.asked == [MISSING]  # nothing more, ever


def test_the_registry_decides_over_the_default() -> None:
    """An entity the user enabled goes first; one the user disabled waits with the others."""
    catalogue = {TARIFF: _known(TARIFF, enabled=True), SPARE: _known(SPARE)}
    discovery = MeterDiscovery("1234")
    enabled = EnabledEntities(catalogue, {TARIFF: False, SPARE: True}, discovery)
    assert SPARE in enabled
    assert TARIFF not in enabled
    learner = Learner(catalogue, discovery, enabled, batch=1, budget=60, disabled_budget=0)
    assert learner.pending() == [SPARE, TARIFF]
    assert [obj.key for obj in learner.next_probe()] == [SPARE]


def test_the_catalogue_probe_order_is_kept() -> None:
    """On a meter never learned, the integration's own catalogue is asked in PROBED's order
    with the enabled entities' objects first."""
    discovery = MeterDiscovery("1234")
    enabled = EnabledEntities(PROBED, {}, discovery)
    learner = Learner(PROBED, discovery, enabled, batch=8, budget=60, disabled_budget=10)
    first = [obj.key for obj in learner.next_probe()]
    assert first == [key for key in learner.pending() if key in enabled][:8]
    assert all(key in enabled for key in first)


def test_refusals_absent_passing_and_set_aside() -> None:
    """Object-undefined: absent for good; object-unavailable: asked again next poll; refused
    with an exception (no data-access result): set aside, not asked until the identity check
    clears it."""
    catalogue = {key: _known(key, enabled=True) for key in (MISSING, LATER, SPARE)}
    discovery = MeterDiscovery("1234")
    refusals = {
        MISSING: DataAccessError(DataAccessResult.OBJECT_UNDEFINED),
        LATER: DataAccessError(DataAccessResult.OBJECT_UNAVAILABLE),
        SPARE: RequestRefusedError("exception response D8 01 02"),
    }
    asked: list[str] = []
    for _ in range(2):
        learner = Learner(
            catalogue,
            discovery,
            EnabledEntities(catalogue, {}, discovery),
            batch=1,
            budget=60,
            disabled_budget=60,
        )
        while probe := learner.next_probe():
            asked += [obj.key for obj in probe]
            learner.learn(probe, [ReadResult(o.probe_ref(), error=refusals[o.key]) for o in probe])
    assert asked == [MISSING, LATER, SPARE, LATER]
    assert discovery.absent == {MISSING}
    assert discovery.set_aside == {SPARE}
    assert not discovery.objects
