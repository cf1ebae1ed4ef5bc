"""The glitch guard of a cumulative energy register: which reads may be published.

A pure object (no Home Assistant, no clock of its own): the sensor hands it each read with the
time it was taken and publishes what the guard keeps.

Why it exists although Home Assistant's recorder copes with resets (``sensor/recorder.py``,
``reset_detected``): the recorder takes a drop below 90 % of the last state of a
``total_increasing`` sensor as a new meter cycle, so after the field's "0 Wh" glitch the next
good read counts the meter's whole total a second time on the Energy dashboard. A smaller
decrease is no reset: the hour's sum goes negative and the recorder warns of a "dip", asking
users to report a bug against the integration. Neither check is redundant here.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

# No home or small site draws more than this: a rise faster than it between two reads is a glitch.
MAX_PLAUSIBLE_POWER_W: Final = Decimal(2_000_000)
# Reads under the floor this many polls in a row, positive and not decreasing, are the meter's real
# total (the floor came from a bad high read that got through): the guard starts again from them.
REBASE_AFTER_READS: Final = 10
WH_PER_UNIT: Final = {"Wh": Decimal(1), "kWh": Decimal(1000), "MWh": Decimal(1_000_000)}


class Verdict(StrEnum):
    """What the guard did with a read."""

    PUBLISHED = "published"
    DECREASE = "a decrease"
    IMPLAUSIBLE_RISE = "a rise faster than any site draws"
    REBASED = "rebased"


@dataclass(slots=True)
class EnergyGuard:
    """Keeps a cumulative register from going backwards or jumping impossibly far.

    ``wh_per_unit`` converts the register's unit to Wh for the plausibility check (None: no
    check). The floor is the last published value; a restored one has no time base.
    """

    wh_per_unit: Decimal | None
    published: Decimal | None = None
    published_at: float | None = None
    below: tuple[Decimal, ...] = ()

    def restore(self, value: Decimal) -> None:
        """Take the value published before a restart as the floor."""
        self.published = value
        self.published_at = None
        self.below = ()

    def accept(self, value: Decimal, now: float) -> Verdict:
        """Judge a read taken at monotonic time ``now``; publish it unless it is a glitch.

        A drop to zero is the usual glitch and a decrease like any other; a register that has
        always read zero (export without solar panels) is published as such.
        """
        if self.published is not None and value < self.published:
            return Verdict.REBASED if self._rebased(value, now) else Verdict.DECREASE
        self.below = ()
        if self._implausible_rise(value, now):
            return Verdict.IMPLAUSIBLE_RISE
        self._publish(value, now)
        return Verdict.PUBLISHED

    def _publish(self, value: Decimal, now: float) -> None:
        self.published = value
        self.published_at = now
        self.below = ()

    def _implausible_rise(self, value: Decimal, now: float) -> bool:
        """Whether the rise since the last published read exceeds the plausible power."""
        if self.published is None or self.published_at is None or self.wh_per_unit is None:
            return False  # the first read after start-up has no time base
        hours = Decimal(str((now - self.published_at) / 3600))
        return (value - self.published) * self.wh_per_unit > MAX_PLAUSIBLE_POWER_W * hours

    def _rebased(self, value: Decimal, now: float) -> bool:
        """Count a steady run of reads under the floor; after enough, take them as the total."""
        steady = value > 0 and (not self.below or value >= self.below[-1])
        self.below = (*self.below, value) if steady else ((value,) if value > 0 else ())
        if len(self.below) < REBASE_AFTER_READS:
            return False
        self._publish(value, now)
        return True
