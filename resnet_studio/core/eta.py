"""How long a run has left: one estimate for the CLI's progress bar and the window.

The first log window of a run is slow for reasons that do not last: PyTorch warms
up (kernel selection, allocator growth, `torch.compile`), the first batches are read
and decoded, evaluation buffers are built. An estimate from that window alone, or
from each window alone, jumps by a factor of several in the first seconds. So
`EtaEstimator` ignores the first `skip` windows, averages seconds per iteration
over the recent windows with an exponential moving average (a window slowed by an
evaluation or a checkpoint moves it a little, not all the way), and says nothing
(None, shown as "estimating…") until `min_windows` windows have entered it.

The engine (`core.trainer`) owns one estimator per run and puts its estimate in
every `Progressed` event (`eta_s`); the CLI and the Training panel only format that
number with `format_eta`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

SKIP_WINDOWS = 1  # the first log window: warm-up, first batches
MIN_WINDOWS = 2  # windows after those before an estimate is given
WEIGHT = 0.3  # share of the newest window in the average (about the last 6 windows count)
ESTIMATING = "estimating…"


class EtaEstimator:
    """Smoothed seconds per iteration of one run, fed once per log window."""

    def __init__(self, skip: int = SKIP_WINDOWS, min_windows: int = MIN_WINDOWS,
                 weight: float = WEIGHT) -> None:  # fmt: skip
        if not 0.0 < weight <= 1.0:
            raise ValueError(f"the weight of the newest window must be in (0, 1], not {weight}")
        self.skip, self.min_windows, self.weight = skip, max(1, min_windows), weight
        self.windows = 0  # windows seen, skipped ones included
        self.used = 0  # windows in the average
        self.seconds_per_iteration: float | None = None

    def add(self, iterations: int, seconds: float) -> None:
        """One log window: `iterations` steps took `seconds` of wall time (the other
        runs' steps of a comparison included: they delay this run's end too)."""
        self.windows += 1
        if self.windows <= self.skip or iterations <= 0 or not math.isfinite(seconds) or seconds < 0:
            return
        rate = seconds / iterations
        if self.seconds_per_iteration is None:
            self.seconds_per_iteration = rate
        else:
            self.seconds_per_iteration += self.weight * (rate - self.seconds_per_iteration)
        self.used += 1

    def eta(self, remaining_iterations: int) -> float | None:
        """Seconds left for `remaining_iterations`; None while estimating."""
        if remaining_iterations <= 0:
            return 0.0
        if self.used < self.min_windows or self.seconds_per_iteration is None:
            return None
        return remaining_iterations * self.seconds_per_iteration


def estimate_eta(windows: Iterable[tuple[int, float]], remaining_iterations: int,
                 skip: int = SKIP_WINDOWS, min_windows: int = MIN_WINDOWS,
                 weight: float = WEIGHT) -> float | None:  # fmt: skip
    """The estimate after the log windows `(iterations, seconds)` in order (what the
    engine reports after them); None while estimating."""
    estimator = EtaEstimator(skip, min_windows, weight)
    for iterations, seconds in windows:
        estimator.add(iterations, seconds)
    return estimator.eta(remaining_iterations)


def format_eta(seconds: float | None) -> str:
    """'1:02:03' or '4:05', and "estimating…" while there is no estimate yet (None,
    or a number that is not one)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ESTIMATING
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
