"""Least-squares lines through daily series, and what they predict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Fit:
    """y = intercept + slope · x, with r² (1 = every point on the line)."""

    intercept: float
    slope: float
    r2: float

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x

    def days_until(self, x_now: float, level: float) -> int | None:
        """Whole days from ``x_now`` until the line reaches ``level`` (0 when already
        there); None when it never does (flat or moving away)."""
        now = self.at(x_now)
        if now >= level:
            return 0
        if self.slope <= 0:
            return None
        # Round before flooring: 33.99999999 from float noise is 34 days, not 33.
        return math.floor(round((level - now) / self.slope, 6))


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """Ordinary least squares; None with fewer than two distinct x."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - mean_y) ** 2 for y in ys)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    r2 = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    return Fit(intercept, slope, r2)


def last_run(values: Sequence[float], drop: float) -> int:
    """Index where the last run starts: after the last fall of more than ``drop``
    (a disk whose old recordings were deleted starts filling again from there)."""
    start = 0
    for index in range(1, len(values)):
        if values[index] < values[index - 1] - drop:
            start = index
    return start
