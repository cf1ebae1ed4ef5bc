"""What the meter measures: a household load (with some PV) and the registers that integrate it.

Instantaneous values are a pure function of time and the seed, so frozen time gives steady values;
energy integrates power between reads and only grows. A test can hold the net power at a value
(``LoadModel.held``, the control port's ``load W``): the registers integrate the model up to that
moment, then the held power.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math

_NOISE_STEP = 10  # seconds a noise sample holds
_INTEGRATION_STEP = 60.0  # seconds; coarser when a long jump must be integrated
_MAX_STEPS = 5000
_MASK64 = (1 << 64) - 1


def _mix(seed: int, channel: int, slot: int) -> float:
    """A deterministic pseudo-random value in [0, 1) for (seed, channel, slot) (splitmix64)."""
    x = (seed * 0x9E3779B97F4A7C15 + channel * 0xBF58476D1CE4E5B9 + slot) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return (x >> 11) / float(1 << 53)


@dataclass(frozen=True, slots=True)
class PhaseValues:
    """One phase at one instant."""

    voltage: float  # V
    current: float  # A
    power_factor: float  # 0..1
    active_power: float  # W, positive import, negative export
    angle: float  # degrees between voltage and current


@dataclass(frozen=True, slots=True)
class Instant:
    """All phases and the line frequency at one instant."""

    phases: tuple[PhaseValues, ...]
    frequency: float  # Hz

    @property
    def net_power(self) -> float:
        """Active power summed over phases, positive import."""
        return sum(p.active_power for p in self.phases)

    @property
    def reactive_power(self) -> float:
        """Reactive power (inductive load), var."""
        return sum(abs(p.active_power) * math.tan(math.acos(p.power_factor)) for p in self.phases)

    @property
    def apparent_power(self) -> float:
        """Apparent power, VA."""
        return sum(p.voltage * p.current for p in self.phases)

    @property
    def power_factor(self) -> float:
        """Total power factor."""
        apparent = self.apparent_power
        return abs(self.net_power) / apparent if apparent else 1.0


class LoadModel:
    """A plausible household: base load, morning and evening peaks, appliances, midday PV."""

    def __init__(self, phases: int, seed: int, utc_offset_minutes: int = 0) -> None:
        """``phases`` is 1 or 3."""
        self.phases = phases
        self.seed = seed
        self.offset = timedelta(minutes=utc_offset_minutes)
        self._shares = (0.40, 0.35, 0.25) if phases == 3 else (1.0,)
        self._scale = 1.0 if phases == 3 else 0.45
        self.held: float | None = None
        """Net power held at this value (W, positive import) instead of the household's."""

    def _noise(self, t: float, channel: int) -> float:
        """A value in [-1, 1) that holds for ``_NOISE_STEP`` seconds (deterministic)."""
        return _mix(self.seed, channel, int(t // _NOISE_STEP)) * 2.0 - 1.0

    def _appliance(self, t: float) -> float:
        """Kettles, ovens, washing machines: a random extra load per quarter hour."""
        draw = _mix(self.seed, 99, int(t // 900))
        return (0.0, 0.0, 0.0, 150.0, 800.0, 2000.0)[int(draw * 6)]

    def net_power(self, at: datetime) -> float:
        """Net active power at ``at`` (W, positive import): the held value, if one is."""
        if self.held is not None:
            return self.held
        t = at.timestamp()
        local = at + self.offset
        hour = local.hour + local.minute / 60 + local.second / 3600
        load = 350.0
        load += 1200.0 * math.exp(-(((hour - 7.5) / 1.0) ** 2))
        load += 1800.0 * math.exp(-(((hour - 19.5) / 1.8) ** 2))
        load += self._appliance(t)
        load *= 1.0 + 0.08 * self._noise(t, 0)
        pv = 3200.0 * max(0.0, math.sin(math.pi * (hour - 7.0) / 11.0)) if 7 < hour < 18 else 0.0
        pv *= 0.85 + 0.15 * self._noise(t, 1)
        return (load - pv) * self._scale

    def instant(self, at: datetime) -> Instant:
        """Everything the meter would show at ``at``."""
        t = at.timestamp()
        net = self.net_power(at)
        phases = []
        for index, share in enumerate(self._shares):
            voltage = 230.0 + 3.0 * math.sin(t / 3600.0 + index) + 1.2 * self._noise(t, 10 + index)
            power = net * share
            pf = min(0.999, 0.93 + 0.05 * self._noise(t, 20 + index))
            current = abs(power) / (voltage * pf)
            angle = math.degrees(math.acos(pf)) + (180.0 if power < 0 else 0.0)
            phases.append(PhaseValues(voltage, current, pf, power, angle))
        frequency = 50.0 + 0.03 * math.sin(t / 600.0) + 0.01 * self._noise(t, 30)
        return Instant(tuple(phases), frequency)


def tariff_rate(local: datetime) -> int:
    """Tariff 1..4 by local hour: 1 night 23-7, 2 day 7-17, 3 peak 17-21, 4 shoulder 21-23."""
    hour = local.hour
    if hour >= 23 or hour < 7:
        return 1
    if hour < 17:
        return 2
    if hour < 21:
        return 3
    return 4


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One load-profile row as captured."""

    at: datetime  # UTC
    import_wh: int
    export_wh: int
    average_demand_w: int


@dataclass(slots=True)
class Registers:
    """The integrating registers: energies, demand, billing, load profile; only grow."""

    model: LoadModel
    now: datetime
    import_wh: float
    export_wh: float = 0.0
    reactive_import_varh: float = 0.0
    reactive_export_varh: float = 0.0
    apparent_import_vah: float = 0.0
    apparent_export_vah: float = 0.0
    rates_wh: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    month_start_import_wh: float = 0.0
    billing_periods: int = 17
    demand_period: int = 900
    period_start: datetime | None = None
    period_import_wh: float = 0.0  # energy imported in the running demand period
    last_average_w: float = 0.0
    max_demand_w: float = 0.0
    max_demand_at: datetime | None = None
    profile: list[ProfileEntry] = field(default_factory=list)
    profile_capacity: int = 960
    # Per-tariff counters of the other energy kinds (the guide profile's 2/3/4/9/10.8.1..4),
    # the counters at the start of the month (its .9. registers) and each tariff's max demand.
    kind_rates: dict[str, list[float]] = field(default_factory=dict)
    month_start_rates: dict[str, list[float]] = field(default_factory=dict)
    max_demand_rates_w: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])

    @classmethod
    def start(
        cls,
        *,
        model: LoadModel,
        now: datetime,
        initial_import_wh: float,
        history: timedelta,
        demand_period: int,
        profile_capacity: int,
    ) -> Registers:
        """Registers as found at ``now`` with ``history`` of integration (and profile) behind."""
        begin = now - history
        registers = cls(
            model=model,
            now=begin,
            import_wh=float(initial_import_wh),
            demand_period=demand_period,
            profile_capacity=profile_capacity,
        )
        registers.rates_wh = [initial_import_wh * s for s in (0.35, 0.40, 0.17, 0.08)]
        registers.export_wh = initial_import_wh * 0.08
        registers.reactive_import_varh = initial_import_wh * 0.30
        registers.apparent_import_vah = initial_import_wh * 1.07
        registers.apparent_export_vah = registers.export_wh * 1.02
        local = begin + model.offset
        registers.month_start_import_wh = initial_import_wh - 11_000.0 * model._scale * (
            local.day - 1 + local.hour / 24
        )
        shares = (0.35, 0.40, 0.17, 0.08)
        registers.kind_rates = {
            "export": [registers.export_wh * s for s in shares],
            "reactive_import": [registers.reactive_import_varh * s for s in shares],
            "reactive_export": [registers.reactive_export_varh * s for s in shares],
            "apparent_import": [registers.apparent_import_vah * s for s in shares],
            "apparent_export": [registers.apparent_export_vah * s for s in shares],
        }
        month_share = max(0.0, registers.month_start_import_wh) / max(1.0, initial_import_wh)
        registers.month_start_rates = {
            kind: [value * month_share for value in values]
            for kind, values in registers.all_rates().items()
        }
        registers.period_start = registers._period_floor(begin)
        registers.advance(now)
        return registers

    def _period_floor(self, at: datetime) -> datetime:
        seconds = int(at.timestamp())
        return datetime.fromtimestamp(seconds - seconds % self.demand_period, tz=at.tzinfo)

    def advance(self, now: datetime) -> None:
        """Integrate from the last update to ``now`` (time never runs backwards here)."""
        total = (now - self.now).total_seconds()
        if total <= 0:
            return
        step = max(_INTEGRATION_STEP, total / _MAX_STEPS)
        while self.now < now:
            period_end = (self.period_start or self.now) + timedelta(seconds=self.demand_period)
            target = min(now, self.now + timedelta(seconds=step), period_end)
            self._integrate(self.now, target)
            self.now = target
            if target >= period_end:
                self._close_period(period_end)

    def _integrate(self, begin: datetime, end: datetime) -> None:
        seconds = (end - begin).total_seconds()
        instant = self.model.instant(begin + (end - begin) / 2)
        hours = seconds / 3600.0
        net = instant.net_power
        apparent = instant.apparent_power * hours
        reactive = instant.reactive_power * hours
        rate = tariff_rate(begin + self.model.offset) - 1
        kinds = self.kind_rates
        if net >= 0:
            energy = net * hours
            self.import_wh += energy
            self.period_import_wh += energy
            self.rates_wh[rate] += energy
            self.reactive_import_varh += reactive
            self.apparent_import_vah += apparent
            if kinds:
                kinds["reactive_import"][rate] += reactive
                kinds["apparent_import"][rate] += apparent
        else:
            self.export_wh += -net * hours
            self.reactive_export_varh += reactive
            self.apparent_export_vah += apparent
            if kinds:
                kinds["export"][rate] += -net * hours
                kinds["reactive_export"][rate] += reactive
                kinds["apparent_export"][rate] += apparent
        local_begin, local_end = begin + self.model.offset, end + self.model.offset
        if (local_begin.year, local_begin.month) != (local_end.year, local_end.month):
            self.month_start_import_wh = self.import_wh
            self.month_start_rates = {k: list(v) for k, v in self.all_rates().items()}
            self.billing_periods += 1

    def _close_period(self, end: datetime) -> None:
        self.last_average_w = self.period_import_wh * 3600.0 / self.demand_period
        if self.last_average_w > self.max_demand_w:
            self.max_demand_w = self.last_average_w
            self.max_demand_at = end
        rate = tariff_rate(end + self.model.offset) - 1
        self.max_demand_rates_w[rate] = max(self.max_demand_rates_w[rate], self.last_average_w)
        self.period_import_wh = 0.0
        self.period_start = end
        self.profile.append(
            ProfileEntry(end, int(self.import_wh), int(self.export_wh), int(self.last_average_w))
        )
        if len(self.profile) > self.profile_capacity:
            del self.profile[0]

    @property
    def current_average_w(self) -> float:
        """Average import power of the running demand period so far (rising demand)."""
        if self.period_start is None:
            return 0.0
        elapsed = (self.now - self.period_start).total_seconds()
        return self.period_import_wh * 3600.0 / elapsed if elapsed > 0 else 0.0

    def all_rates(self) -> dict[str, list[float]]:
        """Per-tariff counters of every energy kind, import active included."""
        return {"import": self.rates_wh, **self.kind_rates}

    @property
    def monthly_import_wh(self) -> float:
        """Import since the start of the month."""
        return max(0.0, self.import_wh - self.month_start_import_wh)
