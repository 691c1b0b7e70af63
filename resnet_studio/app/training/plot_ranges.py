"""The view ranges of the training plots, computed from the runs' data (no Qt).

pyqtgraph's auto-range fits each plot to its own items, which goes wrong twice in
the Training panel:

- the first seconds: one point (or several runs' first points, all at one x) gives a
  range of +-0.4 around it (an x axis of 9.6-10.4); here the x axis then spans the
  whole run (0 to the planned end), else 0 to twice the point (at least a floor),
  and the y axis the whole scale: error 0-100 %, loss from 0;
- linked plots: Figure 6's plain and ResNet plots share their axes, and each
  auto-ranged plot overwrote the shared range with its own data, so the curves of
  the other plot could run off it. Here the range is the union of every run's data,
  set on both plots (and the same x on the loss plot, so the three line up).

`run_extents` summarises one run (cached by the plot per series version: 100 runs
of 64k points are not re-scanned at 20 Hz); `fit_views` turns the runs' extents into
the ranges of the error plots and the loss plot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from resnet_studio.app.training.series import RunSeries

Range = tuple[float, float]

PADDING = 0.03  # of the data's span, on each side (the end of x only: x starts at 0)
X_FLOORS = {"iteration": 100.0, "epoch": 1.0}  # the first seconds, when the plan is unknown
ERROR_SCALE = (0.0, 100.0)  # percent
LOG_MARGIN = 0.5  # decades around a degenerate log range


@dataclass(frozen=True)
class RunExtents:
    """Finite min/max of what a run draws: x over its training points and
    evaluations, error in percent (training and test), loss; in log10 units for a
    log y axis (non-positive values are then not drawn and not counted). None: no
    such value. `planned_end`: where it will end on x, when known."""

    x: Range | None
    error: Range | None
    loss: Range | None
    planned_end: float | None = None


@dataclass(frozen=True)
class ViewRanges:
    """The ranges to set: `x` on every plot, `error` on the (linked) error plots,
    `loss` on the loss plot. None: no data, leave that axis alone."""

    x: Range | None
    error: Range | None
    loss: Range | None


def value_range(*arrays: np.ndarray, log: bool = False) -> Range | None:
    """Min and max of the finite values of `arrays` (positive ones as log10 when
    `log`); None when there are none."""
    parts = []
    for array in arrays:
        values = np.asarray(array, dtype=float)
        values = values[np.isfinite(values) & (values > 0)] if log else values[np.isfinite(values)]
        if values.size:
            parts.append(np.log10(values) if log else values)
    if not parts:
        return None
    return union((float(part.min()), float(part.max())) for part in parts)


def union(ranges: Iterable[Range | None]) -> Range | None:
    """The smallest range holding all the given ones (None ones are skipped)."""
    known = [r for r in ranges if r is not None]
    if not known:
        return None
    return min(lo for lo, _ in known), max(hi for _, hi in known)


def run_extents(series: RunSeries, x_key: str, log_y: bool = False) -> RunExtents:
    """What `series` draws against `x_key` ("iteration" or "epoch")."""
    train, evals = series.train, series.evals
    train_error = 100 * train["train_error"].values
    test_error = 100 * evals["error"].values
    return RunExtents(
        x=value_range(train[x_key].values, evals[x_key].values),
        error=value_range(train_error, test_error, log=log_y),
        loss=value_range(train["loss"].values, log=log_y),
        planned_end=series.planned_end(x_key),
    )


def fit_views(runs: Iterable[RunExtents], x_key: str, log_y: bool = False) -> ViewRanges:
    """The ranges that show every run whole. While all points share one x (the
    first seconds of a job), x spans 0 to the furthest planned end (else to
    max(2x, floor)) and y the full scale."""
    runs = list(runs)
    x = union(r.x for r in runs)
    first_seconds = x is not None and x[0] == x[1]
    planned = [r.planned_end for r in runs if r.planned_end]
    return ViewRanges(
        x=fit_x(x, max(planned) if planned else None, X_FLOORS.get(x_key, 1.0)),
        error=fit_y(union(r.error for r in runs), "error", log_y, first_seconds),
        loss=fit_y(union(r.loss for r in runs), "loss", log_y, first_seconds),
    )


def fit_x(x: Range | None, planned_end: float | None, floor: float) -> Range | None:
    """From 0 (training starts there) to the last point, padded; one x only: to
    the planned end if it lies beyond, else to max(2x, floor)."""
    if x is None:
        return None
    lo, hi = min(0.0, x[0]), x[1]
    if x[0] == x[1]:
        end = planned_end if planned_end is not None and planned_end > hi else max(2 * hi, floor)
        return lo, end
    return lo, hi + PADDING * (hi - lo)


def fit_y(y: Range | None, kind: str, log: bool = False, first_seconds: bool = False) -> Range | None:
    """The data padded; in the first seconds, or when every value is the same, the
    full scale: error 0-100 %, loss 0 to a quarter above it (log axes: half a
    decade around, errors up to 100 %)."""
    if y is None:
        return None
    lo, hi = y
    if first_seconds or lo == hi:
        if log:
            top = np.log10(ERROR_SCALE[1]) if kind == "error" else hi + LOG_MARGIN
            return min(lo - LOG_MARGIN, top - 1.0), max(top, hi)
        if kind == "error":
            return min(ERROR_SCALE[0], lo), max(ERROR_SCALE[1], hi)
        return min(0.0, lo), 1.25 * hi if hi > 0 else 1.0
    pad = PADDING * (hi - lo)
    return lo - pad, hi + pad
