"""Arrival schedules: when each request is meant to be sent.

A plan is a list of stages (a step holds a rate, a ramp moves linearly from one rate to another)
and an arrival process that turns the rate into send times:

- ``constant``: evenly spaced sends, ``1/rate`` apart;
- ``poisson``: exponential gaps at the current mean rate (seeded, so a run can be repeated);
- ``burst``: at the start of every second, as many sends as the rate says, all at once (the
  MLPerf HTTP load generator's behaviour).

Times are seconds from the run's start. The rate can be overridden while the run goes on
(``Rates.override``): every process that holds the same plan and the same overrides computes
the same send times, which is how several sender processes split one schedule between them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Iterator

ARRIVALS = ("constant", "poisson", "burst")


class ScheduleError(ValueError):
    """A schedule that cannot be run (negative rate, empty plan, unknown arrival process)."""


@dataclass(frozen=True)
class Stage:
    duration: float  # seconds
    rate: float  # requests/s at the stage's start
    rate_end: float | None = None  # a ramp ends here; None holds ``rate``

    def __post_init__(self) -> None:
        if not (self.duration > 0 and math.isfinite(self.duration)):
            raise ScheduleError(f"stage duration must be a positive number of seconds, got {self.duration}")
        for name, value in (("rate", self.rate), ("rate_end", self.rate_end)):
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ScheduleError(f"stage {name} must be a rate >= 0 requests/s, got {value}")

    def rate_at(self, offset: float) -> float:
        if self.rate_end is None:
            return self.rate
        return self.rate + (self.rate_end - self.rate) * min(1.0, max(0.0, offset / self.duration))


@dataclass
class Rates:
    """The rate at each moment: the stages, then live overrides (time, rate) that replace it."""
    stages: list[Stage]
    overrides: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ScheduleError("a schedule needs at least one stage")

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.stages)

    def override(self, at: float, rate: float) -> None:
        if not (rate >= 0 and math.isfinite(rate)):
            raise ScheduleError(f"rate must be >= 0 requests/s, got {rate}")
        self.overrides.append((at, rate))
        self.overrides.sort()

    def piece(self, t: float) -> tuple[float, float, float]:
        """At time t: (rate, slope in req/s per s, end of this linear piece)."""
        later = [at for at, _ in self.overrides if at > t]
        live = [r for at, r in self.overrides if at <= t]
        if live:
            return live[-1], 0.0, min(later, default=math.inf)
        start = 0.0
        for stage in self.stages:
            end = start + stage.duration
            if t < end:
                slope = 0.0 if stage.rate_end is None else (stage.rate_end - stage.rate) / stage.duration
                return stage.rate_at(t - start), slope, min([end, *later])
            start = end
        return 0.0, 0.0, min(later, default=math.inf)

    def rate_at(self, t: float) -> float:
        return self.piece(t)[0]


def send_times(rates: Rates, arrival: str, seed: int = 0, end: float | None = None) -> Iterator[float]:
    """Intended send times (s from start) in order, until ``end`` (default: the plan's length).

    Sends are placed where the integrated rate reaches the next whole request (constant) or the
    next sum of unit exponential draws (Poisson, by time rescaling), so ramps and rate changes
    are followed exactly. Reads ``rates`` lazily: overrides added while iterating take effect
    from their time on.
    """
    if arrival not in ARRIVALS:
        raise ScheduleError(f"unknown arrival process {arrival!r}; choose one of {', '.join(ARRIVALS)}")
    stop = rates.duration if end is None else end
    if arrival == "burst":
        yield from _bursts(rates, stop)
        return
    rng = random.Random(seed)
    draw = (lambda: rng.expovariate(1.0)) if arrival == "poisson" else (lambda: 1.0)
    # Constant sends sit mid-way in each request's share of time (k + 1/2)/rate, so a stage of
    # rate r and length d holds exactly r*d of them, whatever the floating-point rounding.
    t, need = 0.0, (draw() if arrival == "poisson" else 0.5)
    while t < stop:
        rate, slope, piece_end = rates.piece(t)
        piece_end = min(piece_end, stop)
        dt = _time_to_mass(rate, slope, need)
        if dt is not None and t + dt < piece_end:
            t += dt
            yield t
            need = draw()
        else:
            span = piece_end - t
            need -= rate * span + slope * span * span / 2
            t = piece_end


def _time_to_mass(rate: float, slope: float, mass: float) -> float | None:
    """The dt >= 0 at which rate*dt + slope*dt**2/2 first equals mass; None if never."""
    if mass <= 1e-12:
        return 0.0
    if slope == 0:
        return mass / rate if rate > 0 else None
    disc = rate * rate + 2 * slope * mass
    if disc < 0:
        return None  # a falling ramp reaches zero first
    return 2 * mass / (rate + math.sqrt(disc))  # the stable form of (sqrt(disc) - rate) / slope


def _bursts(rates: Rates, stop: float) -> Iterator[float]:
    second = 0
    owed = 0.0  # fractional requests carried over, so 2.5 req/s sends 2, 3, 2, 3, ...
    while second < stop:
        owed += rates.rate_at(float(second))
        count = int(owed + 1e-9)
        owed -= count
        for _ in range(count):
            yield float(second)
        second += 1
