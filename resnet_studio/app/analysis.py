"""The analysis jobs the window and `resnet-studio analyze` share: lesion study and
loss landscape of a model and optionally its twin, with cancel and the printed text.

No Qt: the window runs `AnalysisJob.run` in a worker thread and turns its events into
signals; the CLI runs it in the main thread with a progress bar. Both print the same
lines (`progress_text`, `lesion_lines`, `landscape_lines`).

    job = AnalysisJob(LesionRequest("cifar-resnet56", "run.safetensors", "zip:test.zip",
                                    compare="twin", compare_weights="plain.safetensors"))
    results = job.run(on_event=print)     # in a worker; job.cancel() from any thread
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_studio.core.analysis import (
    AnalysisProgress,
    LandscapeResult,
    LesionResult,
    data_key,
    landscape_loaded,
    lesion_batch_size,
    lesion_loaded,
    load_batches,
)
from resnet_studio.core.catalog import twin
from resnet_studio.core.evaluation import DecodeProgress, DownloadProgress

TWIN = "twin"  # --compare twin: the plain/residual twin of --model (catalog.twin)
RANDOM = "random"  # --weights random: a fresh initialisation, on purpose


class AnalysisCancelled(Exception):
    """Raised out of `AnalysisJob.run` after `cancel()`; nothing was written."""


@dataclass(frozen=True)
class LesionRequest:
    """A lesion study of `model` with `weights` (`resolve_model_and_weights`'s
    arguments, or weights "random"), beside `compare` ("twin" or a name) if given."""

    model: str | None
    weights: str | None
    dataset: str  # "zip:PATH", "folder:PATH", "cifar10", "cifar100": its test split
    compare: str | None = None
    compare_weights: str | None = None
    images: int | None = 1000  # spread over the classes; None: all
    draws: int = 3  # random orders of removal
    seed: int = 0
    batch_size: int = 250
    device: str = "auto"
    runs_dir: str | None = None
    data_root: str | None = None


@dataclass(frozen=True)
class LandscapeRequest:
    """A loss landscape of `model` (and `compare`) on a fixed subset of `dataset`
    (the training split: a zip or folder holding train/, or train.zip itself)."""

    model: str | None
    weights: str | None
    dataset: str
    compare: str | None = None
    compare_weights: str | None = None
    dims: int = 1
    points: int = 51  # per axis, odd: 0 is the middle one
    span: float = 1.0  # steps in [-span, span]
    images: int | None = 2000
    seed: int = 0
    batch_size: int = 500
    device: str = "auto"
    runs_dir: str | None = None
    data_root: str | None = None


Request = LesionRequest | LandscapeRequest
Result = LesionResult | LandscapeResult


def load_model(model: str | None, weights: str | None, *, runs_dir: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> Any:  # fmt: skip
    """A LoadResult for `model` with `weights`; weights "random" builds the network
    with a fresh initialisation (meaningful only as a baseline, and said so)."""
    from resnet_studio.core.weights import LoadResult, network_name, resolve_model_and_weights

    if weights is not None and weights.strip() == RANDOM:
        from resnet_studio.core.models import create_model

        if model is None:
            from resnet_studio.core.errors import WeightsError

            raise WeightsError("--weights random needs --model to name the network")
        name = network_name(model)
        return LoadResult(model=create_model(name), format="random", source="random initialisation",
                          matched_keys=0, class_names=None, meta={}, model_name=name)  # fmt: skip
    return resolve_model_and_weights(model, weights, require_weights=True, runs_dir=runs_dir,
                                     progress=progress)  # fmt: skip


def compare_name(request: Request, loaded: Any) -> str | None:
    """The zoo or pretrained name `request.compare` means ("twin": the other one of
    the plain/residual pair of the analysed network)."""
    if request.compare is None or not request.compare.strip():
        return None
    if request.compare.strip() == TWIN:
        return twin(loaded.model_name)
    return request.compare.strip()


class AnalysisJob:
    """One analysis of one or two networks, cancellable between forward passes."""

    def __init__(self, request: Request, loaded: Any = None, compare_loaded: Any = None) -> None:
        self.request = request
        self.loaded = loaded  # LoadResults the window already holds, else resolved
        self.compare_loaded = compare_loaded
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop at the next forward pass, decode chunk or download chunk."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self, on_event: Callable[[Any], None] | None = None) -> list[Result]:
        """Resolve, read the images once per kind of preprocessing, analyse each
        network; blocks (run it in a worker thread). Raises AnalysisCancelled."""

        def report(event: Any) -> None:
            if self._cancel.is_set():
                raise AnalysisCancelled
            if on_event is not None:
                on_event(event)

        r = self.request
        download = lambda done, total: report(DownloadProgress(done, total))  # noqa: E731
        models = [
            self.loaded or load_model(r.model, r.weights, runs_dir=r.runs_dir, progress=download)
        ]
        other = compare_name(r, models[0]) if self.compare_loaded is None else None
        if self.compare_loaded is not None:
            models.append(self.compare_loaded)
        elif other is not None:
            models.append(
                load_model(other, r.compare_weights, runs_dir=r.runs_dir, progress=download)
            )
        results: list[Result] = []
        shared: dict[tuple, Any] = {}
        for loaded in models:
            results.append(self._analyse(loaded, shared, report))
        if self._cancel.is_set():
            raise AnalysisCancelled
        return results

    def _analyse(
        self, loaded: Any, shared: dict[tuple, Any], report: Callable[[Any], None]
    ) -> Result:
        from resnet_studio.core.device import resolve_device

        r = self.request
        lesion = isinstance(r, LesionRequest)
        batch = lesion_batch_size(loaded, r.batch_size) if lesion else r.batch_size
        key = (data_key(loaded), batch)
        if key not in shared:
            shared[key] = load_batches(loaded, r.dataset, images=r.images, batch_size=batch,
                                       device=resolve_device(r.device), data_root=r.data_root,
                                       on_event=report)  # fmt: skip
        options = dict(device=r.device, seed=r.seed, data=shared[key], on_event=report)
        if isinstance(r, LesionRequest):
            return lesion_loaded(loaded, r.dataset, draws=r.draws, **options)
        return landscape_loaded(
            loaded, r.dataset, dims=r.dims, points=r.points, span=r.span, **options
        )


# ---------------------------------------------------------------------------- text


def progress_text(event: Any) -> str:
    """One short line for a progress bar's label."""
    if isinstance(event, AnalysisProgress):
        what = "lesions" if event.task == "lesion" else "landscape points"
        return f"{event.model}: {what}, pass {event.done:,} of {event.total:,}"
    if isinstance(event, DecodeProgress):
        return f"decoding {event.done:,} of {event.total:,} images"
    if isinstance(event, DownloadProgress):
        total = f" of {event.total / 1e6:.1f} MB" if event.total else ""
        return f"downloading {event.done / 1e6:.1f} MB{total}"
    raise TypeError(f"not an analysis event: {event!r}")


def fraction(event: Any) -> float | None:
    """Progress in 0..1 (None when the total is unknown)."""
    return event.done / event.total if event.total else None


def lesion_lines(results: list[LesionResult]) -> list[str]:
    """A short table: intact error, single-block lesions, k random blocks removed."""
    lines = []
    for r in results:
        singles = [e for e in r.single if e is not None]
        worst = max(range(len(r.single)), key=lambda i: -1 if r.single[i] is None else r.single[i])
        lines.append(
            f"{r.model} ({r.weights}) on {r.split}: {r.images:,} images, {r.seconds:.1f} s"
        )
        lines.append(f"  error intact {r.error:6.2f} %   one block removed: mean "
                     f"{sum(singles) / max(len(singles), 1):6.2f} %, worst {r.single[worst]:6.2f} % "
                     f"({r.blocks[worst]})")  # fmt: skip
        if r.not_skippable:
            lines.append(
                f"  cannot be removed (a plain block that changes shape): {', '.join(r.not_skippable)}"
            )
        if r.mean_k:
            shown = sorted({1, 2, len(r.mean_k) // 4, len(r.mean_k) // 2, len(r.mean_k)} - {0})
            cells = "  ".join(f"k={k}: {r.mean_k[k - 1]:.1f}" for k in shown)
            lines.append(f"  k random blocks removed (mean of {r.draws}): {cells} %")
    return lines


def landscape_lines(results: list[LandscapeResult]) -> list[str]:
    """A short table: loss and accuracy at the origin and at the ends of the axes."""
    lines = []
    for r in results:
        lines.append(f"{r.model} ({r.weights}) on {r.split}: {r.images:,} images, "
                     f"{len(r.alphas) ** r.dims} points, {r.seconds:.1f} s")  # fmt: skip
        row = r.loss if r.dims == 1 else r.loss[r.betas.index(0.0)]
        acc = r.accuracy if r.dims == 1 else r.accuracy[r.betas.index(0.0)]
        centre = r.alphas.index(0.0)
        lines.append(f"  alpha {r.alphas[0]:+.2f}: loss {row[0]:9.4g}, {acc[0]:5.1f} %   "
                     f"alpha 0: loss {row[centre]:9.4g}, {acc[centre]:5.1f} %   "
                     f"alpha {r.alphas[-1]:+.2f}: loss {row[-1]:9.4g}, {acc[-1]:5.1f} %")  # fmt: skip
        if r.dims == 2:
            flat = [v for line in r.loss for v in line]
            lines.append(f"  grid loss from {min(flat):.4g} to {max(flat):.4g}")
    return lines
