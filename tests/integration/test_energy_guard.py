"""The energy guard alone: reads in, verdicts out, no Home Assistant and no clock."""

from decimal import Decimal

from hypothesis import given, strategies as st

from custom_components.microstar_dlms.energy_guard import (
    MAX_PLAUSIBLE_POWER_W,
    REBASE_AFTER_READS,
    WH_PER_UNIT,
    EnergyGuard,
    Verdict,
)

KWH = WH_PER_UNIT["kWh"]


def test_rising_reads_are_published() -> None:
    """A register that grows at a household's pace is shown as read."""
    guard = EnergyGuard(KWH)
    assert guard.accept(Decimal("12386.799"), 0) is Verdict.PUBLISHED
    assert guard.accept(Decimal("12386.812"), 30) is Verdict.PUBLISHED
    assert guard.published == Decimal("12386.812")


def test_a_drop_to_zero_is_a_glitch_and_the_floor_stays() -> None:
    """The field's "0 Wh" read never reaches Home Assistant's statistics."""
    guard = EnergyGuard(KWH)
    guard.accept(Decimal("12386.799"), 0)
    assert guard.accept(Decimal(0), 30) is Verdict.DECREASE
    assert guard.published == Decimal("12386.799")


def test_a_register_that_always_read_zero_is_published() -> None:
    """Export on a site without solar panels: zero is its real value."""
    guard = EnergyGuard(KWH)
    assert guard.accept(Decimal(0), 0) is Verdict.PUBLISHED
    assert guard.accept(Decimal(0), 30) is Verdict.PUBLISHED


def test_an_impossible_rise_is_dropped() -> None:
    """More than the plausible power over 30 s: a bad high read that must not become a floor."""
    guard = EnergyGuard(KWH)
    guard.accept(Decimal(1000), 0)
    limit_kwh = MAX_PLAUSIBLE_POWER_W * Decimal(30) / Decimal(3600) / KWH
    assert guard.accept(Decimal(1000) + limit_kwh * 2, 30) is Verdict.IMPLAUSIBLE_RISE
    assert guard.published == Decimal(1000)


def test_a_restored_floor_has_no_time_base() -> None:
    """After a restart any rise is believed (no time since the restored read is known)."""
    guard = EnergyGuard(KWH)
    guard.restore(Decimal(1000))
    assert guard.accept(Decimal(5000), 0) is Verdict.PUBLISHED


def test_a_steady_run_under_a_bad_floor_replaces_it() -> None:
    """Ten positive, non-decreasing reads under the floor are the meter's real total."""
    guard = EnergyGuard(KWH)
    guard.restore(Decimal(99999))  # a bad read that got in before a restart
    verdicts = [guard.accept(Decimal(1000 + n), 30 * n) for n in range(REBASE_AFTER_READS)]
    assert verdicts[:-1] == [Verdict.DECREASE] * (REBASE_AFTER_READS - 1)
    assert verdicts[-1] is Verdict.REBASED
    assert guard.published == Decimal(1000 + REBASE_AFTER_READS - 1)


def test_a_zero_breaks_the_run() -> None:
    """A glitch zero inside the run starts the count again."""
    guard = EnergyGuard(KWH)
    guard.restore(Decimal(99999))
    for n in range(REBASE_AFTER_READS - 1):
        guard.accept(Decimal(1000 + n), n)
    assert guard.accept(Decimal(0), 100) is Verdict.DECREASE
    assert guard.accept(Decimal(2000), 101) is Verdict.DECREASE
    assert guard.published == Decimal(99999)


@given(st.lists(st.decimals(0, 10**9, places=3), min_size=1, max_size=60))
def test_what_is_published_never_decreases_without_a_steady_run(reads: list[Decimal]) -> None:
    """Whatever the meter sends, a published value is lower than the last only by a rebase."""
    guard = EnergyGuard(KWH)
    last: Decimal | None = None
    for n, value in enumerate(reads):
        verdict = guard.accept(value, 30.0 * n)
        if last is not None and guard.published is not None and guard.published < last:
            assert verdict is Verdict.REBASED
        last = guard.published
