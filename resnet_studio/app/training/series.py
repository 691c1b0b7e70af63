"""The points of a run as plain arrays, TensorBoard's smoothing, and CSV export.

A run's curve grows by one point per log window for hours, and 100 overlaid runs of
64k iterations must stay interactive, so points go into numpy columns that grow by
doubling (`Column`): appends are O(1) and the plot reads views, never copies.

Gradient norms by layer (issue 12) are kept per window too: `latest_grad_norms` is
what the gradient view draws (norm against depth), `write_grad_norms_csv` exports
them, one row per run, window and layer.

Smoothing is TensorBoard's bias-corrected exponential moving average. It is causal,
so new points need only the last state (`Smoother`), and `SmoothedSeries` keeps the
smoothed training curves of one run up to date incrementally. Test error is measured
every `eval_every` iterations and stays raw, as in the paper.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.catalog import is_plain
from resnet_studio.core.runs.validation import grad_norms_of

CSV_COLUMNS = ("run", "model", "iteration", "epoch", "loss", "train_error", "val_error",
               "test_error", "lr")  # fmt: skip
GRAD_NORM_COLUMNS = ("run", "model", "iteration", "epoch", "layer", "depth", "grad_norm")


def smooth(values: Iterable[float], weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an EMA debiased by 1 - weight**n, n = finite points seen.

    Without the debiasing the curve would start at 0 and creep up; dividing by
    1 - w**n makes the first smoothed point equal the first value. Non-finite points
    are passed through and do not enter the average (as in TensorBoard).
    """
    return Smoother(weight).extend(np.asarray(list(values), dtype=float))


class Smoother:
    """Incremental state of `smooth`: feed new points, get their smoothed values."""

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)
        self.last = 0.0
        self.count = 0

    def extend(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=float)
        w, last, count = self.weight, self.last, self.count
        for i, value in enumerate(values.tolist()):  # a plain loop: the state is serial
            if not math.isfinite(value):
                out[i] = value
                continue
            last = last * w + (1.0 - w) * value
            count += 1
            out[i] = last / (1.0 - w**count) if w > 0 else last
        self.last, self.count = last, count
        return out


class Column:
    """A float column that grows by doubling, so appends are O(1) and views are free.
    None is stored as NaN (a gap in the curve)."""

    def __init__(self) -> None:
        self._data = np.empty(64, dtype=float)
        self.size = 0

    def append(self, value: Any) -> None:
        if self.size == len(self._data):
            self._data = np.resize(self._data, 2 * len(self._data))
        self._data[self.size] = math.nan if value is None else float(value)
        self.size += 1

    def truncate(self, size: int) -> None:
        self.size = min(self.size, size)

    @property
    def values(self) -> np.ndarray:
        return self._data[: self.size]


@dataclass
class RunSeries:
    """The points of one run, as plain arrays: training records and evaluations apart."""

    name: str
    model: str  # the model label, e.g. "cifar-resnet20 (B)"
    dataset: str = ""  # what it trains on, one line (core.data.dataset_label); "" unknown
    records: list[dict[str, Any]] = field(default_factory=list)  # raw, for CSV
    train: dict[str, Column] = field(default_factory=dict)
    evals: dict[str, Column] = field(default_factory=dict)
    version: int = 0  # bumped on every change; the plot redraws when it differs
    # the recorded layers (grad_layers.json, RunStarted) and their depths on the main
    # path (None: a projection shortcut); empty when unknown
    grad_layers: list[str] = field(default_factory=list)
    grad_depths: list[int | None] = field(default_factory=list)
    grad_iterations: Column = field(default_factory=Column)  # the windows with norms
    grad_norms: list[np.ndarray] = field(default_factory=list)  # one array per such window
    total_iterations: int | None = None  # the run's plan, when known (a live run)
    batches_per_epoch: int | None = None

    def __post_init__(self) -> None:
        self.train = {k: Column() for k in ("iteration", "epoch", "loss", "train_error")}
        self.evals = {k: Column() for k in ("iteration", "epoch", "error")}

    def set_grad_layers(self, names: Iterable[str], depths: Iterable[int | None]) -> None:
        """Name the layers whose norms the records hold (in their order)."""
        self.grad_layers, self.grad_depths = list(names), list(depths)
        self.version += 1

    def latest_grad_norms(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The latest window's gradient norm per layer against its depth (x: depth,
        1-based; y: norm), projection shortcuts left out; None before a window with
        norms. Without a matching layer list every layer counts as on the path."""
        if not self.grad_norms:
            return None
        norms = self.grad_norms[-1]
        depths = self.grad_depths
        if len(depths) != len(norms):
            return np.arange(1, len(norms) + 1, dtype=float), norms
        on_path = np.array([d is not None for d in depths])
        x = np.array([d for d in depths if d is not None], dtype=float)
        return x, norms[on_path]

    @property
    def plain(self) -> bool:
        """Plain nets go to Figure 6's left plot, ResNets to the middle one."""
        return is_plain(self.model)

    def planned_end(self, x_key: str) -> float | None:
        """Where the run will end on the x axis ("iteration" or "epoch"); None when
        the plan is unknown (a past run read from the store)."""
        total, per_epoch = self.total_iterations, self.batches_per_epoch
        if not total:
            return None
        if x_key == "epoch":
            return total / per_epoch if per_epoch else None
        return float(total)

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one metrics record (a metrics.jsonl line: a window, and the errors
        at evaluations)."""
        self.records.append(dict(record))
        if "train_error" in record or "loss" in record:
            for key, column in self.train.items():
                column.append(record.get(key))
        if "test_error" in record or "val_error" in record:
            self._add_evaluation(record)
        norms = grad_norms_of(record)
        if norms is not None:
            self.grad_iterations.append(record.get("iteration"))
            self.grad_norms.append(np.asarray(norms, dtype=float))
        self.version += 1

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.add(record)

    def add_evaluation(self, errors: Mapping[str, Any]) -> None:
        """Errors measured live after a window (`iteration`, `epoch`, `val_error`,
        `test_error`): they join that window's record, as in metrics.jsonl, so a CSV
        of a live run has the rows of its file."""
        last = self.records[-1] if self.records else None
        if last is not None and last.get("iteration") == errors.get("iteration"):
            last.update({k: errors.get(k) for k in ("val_error", "test_error") if k in errors})
        else:
            self.records.append(dict(errors))
        self._add_evaluation(errors)
        self.version += 1

    def _add_evaluation(self, record: Mapping[str, Any]) -> None:
        error = record.get("test_error")
        self.evals["iteration"].append(record.get("iteration"))
        self.evals["epoch"].append(record.get("epoch"))
        self.evals["error"].append(error if error is not None else record.get("val_error"))

    def truncate_after(self, iteration: int) -> None:
        """Forget points past `iteration` (a resumed run redoes them from its checkpoint)."""
        self.records = [r for r in self.records if r.get("iteration", 0) <= iteration]
        for columns in (self.train, self.evals):
            its = columns["iteration"].values
            keep = int(np.searchsorted(its, iteration, side="right"))
            for column in columns.values():
                column.truncate(keep)
        keep = int(np.searchsorted(self.grad_iterations.values, iteration, side="right"))
        self.grad_iterations.truncate(keep)
        del self.grad_norms[keep:]
        self.version += 1


class SmoothedSeries:
    """The smoothed training error and loss of one run, extended by the new points
    only; restarted on a new weight or after a truncation (a resumed run)."""

    def __init__(self, series: RunSeries) -> None:
        self.series = series
        self.weight: float | None = None
        self._restart(0.0)

    def _restart(self, weight: float) -> None:
        self.weight = weight
        self._smoothers = {key: Smoother(weight) for key in ("train_error", "loss")}
        self.columns = {key: Column() for key in ("train_error", "loss")}

    def update(self, weight: float) -> dict[str, np.ndarray]:
        """The smoothed "train_error" and "loss" columns, up to date for `weight`."""
        n = self.series.train["loss"].size
        if weight != self.weight or self.columns["loss"].size > n:
            self._restart(weight)
        start = self.columns["loss"].size
        for key, smoother in self._smoothers.items():
            out = self.columns[key]
            for value in smoother.extend(self.series.train[key].values[start:n]).tolist():
                out.append(value)
        return {key: column.values for key, column in self.columns.items()}


def write_csv(path: str | Path, runs: Iterable[RunSeries]) -> int:
    """One row per metrics record: the same numbers as metrics.jsonl, errors as
    fractions, no smoothing. Returns the rows written."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for series in runs:
            for record in series.records:
                values = {"run": series.name, "model": series.model, **record}
                writer.writerow(["" if values.get(c) is None else values.get(c) for c in CSV_COLUMNS])
                rows += 1
    return rows


def write_grad_norms_csv(path: str | Path, runs: Iterable[RunSeries]) -> int:
    """The gradient norms of `runs` in long form, one row per run, window and layer
    (`GRAD_NORM_COLUMNS`; depth empty for a projection shortcut, layer empty when the
    run's layer list is unknown), the numbers of metrics.jsonl. Returns the rows."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(GRAD_NORM_COLUMNS)
        for series in runs:
            for record in series.records:
                norms = grad_norms_of(record)
                if norms is None:
                    continue
                known = len(series.grad_layers) == len(series.grad_depths) == len(norms)
                for index, norm in enumerate(norms):
                    layer = series.grad_layers[index] if known else ""
                    depth = series.grad_depths[index] if known else index + 1
                    writer.writerow([series.name, series.model, record["iteration"],
                                     record.get("epoch", ""), layer,
                                     "" if depth is None else depth,
                                     "" if math.isnan(norm) else norm])  # fmt: skip
                    rows += 1
    return rows
