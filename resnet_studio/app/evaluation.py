"""The evaluation job the window and `resnet-studio eval` share: request, run, cancel, text.

No Qt: the window runs `EvaluationJob.run` in a worker thread and turns its events
into signals; the CLI runs it in the main thread and draws a progress bar. Both
print the same lines (`progress_text`, `summary_lines`), so a number reads the same
in either.

    job = EvaluationJob(EvaluationRequest("cifar-resnet20.akamaster", None, "cifar10"))
    result = job.run(on_event=print)     # in a worker; job.cancel() from any thread
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_studio.core.evaluation import (
    DecodeProgress,
    DownloadProgress,
    EvalProgress,
    EvaluationResult,
    Event,
    evaluate,
    evaluate_loaded,
)


class EvaluationCancelled(Exception):
    """Raised out of `EvaluationJob.run` after `cancel()`; nothing is left half-written."""


@dataclass(frozen=True)
class EvaluationRequest:
    """What to evaluate: any model with weights (`resolve_model_and_weights`'s
    arguments) on a dataset spec ("zip:PATH", "folder:PATH", "cifar10", "cifar100")."""

    model: str | None
    weights: str | None
    dataset: str
    batch_size: int = 256
    limit: int | None = None  # images, spread over the split; None: all
    device: str = "auto"
    workers: int | None = None  # DataLoader workers for the transform path; None: auto
    runs_dir: str | None = None  # run store for weights named by run; None: the default
    data_root: str | None = None  # where cifar10/cifar100 live; None: the default data folder


class EvaluationJob:
    """One evaluation, cancellable from another thread between chunks and batches."""

    def __init__(self, request: EvaluationRequest, loaded: Any = None) -> None:
        self.request = request
        self.loaded = loaded  # a LoadResult the window already holds, else resolved
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop at the next download chunk or batch (`run` raises EvaluationCancelled)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self, on_event: Callable[[Event], None] | None = None) -> EvaluationResult:
        """Evaluate, reporting typed events; blocks (run it in a worker thread)."""

        def report(event: Event) -> None:
            if self._cancel.is_set():
                raise EvaluationCancelled
            if on_event is not None:
                on_event(event)

        r = self.request
        options = dict(batch_size=r.batch_size, limit=r.limit, device=r.device,
                       workers=r.workers, data_root=r.data_root, on_event=report)  # fmt: skip
        if self.loaded is not None:
            result = evaluate_loaded(self.loaded, r.dataset, **options)
        else:
            result = evaluate(r.model, r.weights, r.dataset, runs_dir=r.runs_dir, **options)
        if self._cancel.is_set():
            raise EvaluationCancelled
        return result


# ---------------------------------------------------------------------------- text


def progress_text(event: Event) -> str:
    """One short line for a progress bar's label."""
    if isinstance(event, DownloadProgress):
        total = f" of {event.total / 1e6:.1f} MB" if event.total else ""
        return f"downloading {event.done / 1e6:.1f} MB{total}"
    if isinstance(event, DecodeProgress):
        return f"decoding {event.done:,} of {event.total:,} images"
    if isinstance(event, EvalProgress):
        return f"evaluating {event.done:,} of {event.total:,} images, {event.images_per_s:,.0f}/s"
    raise TypeError(f"not an evaluation event: {event!r}")


def fraction(event: Event) -> float | None:
    """Progress in 0..1, or None when the total is unknown."""
    return event.done / event.total if event.total else None


def summary_lines(result: EvaluationResult) -> list[str]:
    """The measured numbers beside the published ones, then the notes."""
    k = result.k
    lines = [
        f"{result.model} ({result.weights}) on {result.split}: {result.images:,} images, "
        f"{result.images_per_s:,.0f} images/s on {result.device}",
        f"top-1 {result.top1:6.2f} %" + _beside(result.published_top1, result.top1_diff),
        f"top-{k} {result.top5:6.2f} %" + _beside(result.published_top5, result.top5_diff),
    ]
    if result.published_in:
        lines.append(f"published in {result.published_in}")
    if result.skipped:
        lines.append(f"{result.skipped} files could not be decoded and were left out")
    lines += [f"note: {note}" for note in result.notes]
    return lines


def _beside(published: float | None, diff: float | None) -> str:
    if published is None or diff is None:
        return "   (no published number)"
    return f"   published {published:6.2f} %   difference {diff:+.2f} points"


def per_class_lines(result: EvaluationResult, limit: int = 20) -> list[str]:
    """Per-class top-1, worst first (all of them up to `limit` classes)."""
    ranked = sorted(result.class_names, key=lambda c: _or_inf(result.per_class[c]))
    shown = ranked if len(ranked) <= limit else ranked[:limit]
    width = max(len(c) for c in shown)
    lines = [f"  {c:<{width}}  {result.per_class[c]:6.2f} %  of {result.class_images[c]:,}"
             for c in shown]  # fmt: skip
    if len(ranked) > limit:
        lines.append(f"  ... {len(ranked) - limit} more classes (per_class.csv with --out)")
    return lines


def _or_inf(value: float) -> float:
    return math.inf if math.isnan(value) else value
