"""What the Inspection panel computes, and the queue that runs it off the GUI thread.

The job functions are thin: each calls core (`resnet_studio.core.inspect`, `images`,
`weights`) and returns plain dataclasses of numpy arrays, so nothing here needs Qt but
the queue. They take a `job` (`workers.JobControl`) and call `job.check()` between
steps, so a superseded request stops at the next step instead of finishing work no
one will look at.

Why one job at a time (`JobQueue`): `forward_intermediates` registers forward hooks on
the model's modules, so two forwards of one model in two threads would record each
other's tensors; and on a 2-core CPU two concurrent forwards are no faster than two
in a row. A newer request of a kind replaces the pending one of that kind and cancels
the running one, and every result carries the generation it was asked for, so a stale
result is dropped even if it finishes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from resnet_studio.gui.workers import Worker

# Kinds run in this order when several are pending: the model before what needs it,
# the cheap top-k before the views, the slow Figure 7 last.
PRIORITY = ("model", "compare-model", "load", "analyse", "residual", "gradcam", "compare", "figure7")
FIGURE7_SEED = 1_000_003  # the synthetic set's test images (core.data uses the same seed)


# ----------------------------------------------------------------------------- results


@dataclass
class ModelBundle:
    """A model the panel inspects: our own eval-mode copy and what belongs to it."""

    generation: int
    name: str
    model: Any  # torch.nn.Module, never the Model panel's shared instance
    prep: Any  # core Preprocessing
    class_names: list[str] | None
    weights_label: str | None  # None: random initialisation
    tree: list  # core LayerNode roots
    blocks: list[str]
    gradcam_layers: list[str]
    last_stage: str
    num_classes: int
    plain: bool

    @property
    def random_weights(self) -> bool:
        return self.weights_label is None

    def class_name(self, index: int) -> str:
        if self.class_names and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return f"class {index}"


@dataclass
class LoadedImages:
    """Images decoded by a load job: (label, path or None, PIL image, thumbnail RGB)."""

    images: list[tuple[str, str | None, Any, np.ndarray]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """One image through the model: the input as seen, top-k and one layer's maps."""

    x: Any  # torch.Tensor [3, S, S], CPU: the preprocessed input, reused by later views
    display: np.ndarray  # uint8 S x S x 3, `to_display(x)`
    maps: Any  # core FeatureMaps
    grid: np.ndarray  # uint8, `render_grid(maps)` with the colours asked for
    columns: int
    top: list[tuple[int, float]]  # (class index, probability)


@dataclass
class Comparison:
    """The same image through two models."""

    top: dict[str, list[tuple[int, float]]]  # label -> (class, probability)
    profiles: dict[str, Any]  # label -> core ResidualProfile


# ----------------------------------------------------------------------------- jobs


def grid_columns(count: int) -> int:
    """Maps per row of the grid: near-square, as render_grid's default (the panel
    needs the number to map a click back to a channel)."""
    return max(1, int(np.ceil(np.sqrt(count))))


def build_bundle(generation: int, name: str, options: dict, weights: Any, job) -> ModelBundle:
    """Our own eval-mode copy of the Model panel's network (or a fresh one when its
    weights are random), with preprocessing, class names and the layer tree.

    A copy, because the inspection functions switch the model to eval mode and back:
    on the shared instance that could race with another panel."""
    from resnet_studio.core.images import Preprocessing
    from resnet_studio.core.models import create_model, model_info

    if weights is not None:
        model = copy.deepcopy(weights.model)
        prep = weights.preprocessing
        names = list(weights.class_names) if weights.class_names else None
        label = f"{weights.format} weights from {Path(str(weights.source)).name or weights.source}"
    else:
        model = create_model(name, options.get("num_classes"), shortcut=options.get("shortcut"))
        prep, names, label = None, None, None
    job.check()
    if prep is None:
        info = model_info(name, options.get("num_classes"), shortcut=options.get("shortcut"))
        prep = Preprocessing(info.input_size, info.resize_size, info.mean, info.std)
    return _bundle(generation, name, model, prep, names, label, job)


def build_compare_bundle(generation: int, name: str, source: str, job) -> ModelBundle:
    """The "compare with…" model: a zoo name, with weights from a file, a run (its
    latest checkpoint) or none (random)."""
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.images import Preprocessing
    from resnet_studio.core.models import create_model, model_info, parse_name
    from resnet_studio.core.weights import load_weights

    name = name.strip()
    source = source.strip()
    if not name and not source:
        raise StudioError("Type a network to compare with, e.g. the plain twin cifar-plain56.")
    if name:
        parse_name(name)
    if not source:
        model, prep, names, label = create_model(name), None, None, None
    else:
        path = checkpoint_file(source)
        loaded = load_weights(name or None, str(path))
        model, prep = loaded.model, loaded.preprocessing
        names = list(loaded.class_names) if loaded.class_names else None
        label = f"{loaded.format} weights from {path.name}"
        name = loaded.model_name or name
        if not name:
            raise StudioError(f"Could not tell which network {path} holds; type its name.")
    job.check()
    if prep is None:
        info = model_info(name)
        prep = Preprocessing(info.input_size, info.resize_size, info.mean, info.std)
    return _bundle(generation, name, model, prep, names, label, job)


def checkpoint_file(source: str) -> Path:
    """A weight file, or a run (folder or name) -> its latest checkpoint's weights."""
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.runs import open_run

    path = Path(source).expanduser()
    if path.is_file():
        return path
    run = open_run(source)
    folder = run.latest_checkpoint()
    if folder is None or not (folder / "model.safetensors").is_file():
        raise StudioError(f"Run {run.path.name} has no finished checkpoint yet.")
    return folder / "model.safetensors"


def _bundle(generation, name, model, prep, names, label, job) -> ModelBundle:
    from resnet_studio.core.inspect import gradcam_layers, layer_tree
    from resnet_studio.core.inspect._common import block_names

    model = model.to("cpu").eval()
    for param in model.parameters():
        param.requires_grad_(False)  # Grad-CAM differentiates w.r.t. activations only
    tree = layer_tree(model, prep.input_size)
    job.check()
    blocks = block_names(model)
    plain = not any(model.get_submodule(b).has_shortcut for b in blocks)
    return ModelBundle(
        generation=generation, name=name, model=model, prep=prep, class_names=names,
        weights_label=label, tree=tree, blocks=blocks, gradcam_layers=gradcam_layers(model),
        last_stage=model.stage_names[-1], num_classes=model.fc.out_features, plain=plain,
    )


def load_files(paths: list[str], job) -> LoadedImages:
    """Decode image files and folders; bad files become messages, never exceptions."""
    from resnet_studio.core.images import load_images

    out = LoadedImages()
    for path in paths:
        job.check()
        found = load_images([path], on_error=lambda p, exc: out.errors.append(str(exc)))
        out.images += [(p.name, str(p), image, thumbnail(image)) for p, image in found]
    return out


def load_bytes(label: str, data: bytes, job) -> LoadedImages:
    """Decode an image pasted from the clipboard (PNG bytes)."""
    from resnet_studio.core.errors import ImageError
    from resnet_studio.core.images import load_image

    out = LoadedImages()
    try:
        image = load_image(data)
    except ImageError as exc:
        out.errors.append(str(exc))
    else:
        out.images.append((label, None, image, thumbnail(image)))
    return out


def thumbnail(image: Any, size: int = 96) -> np.ndarray:
    small = image.copy()
    small.thumbnail((size, size))
    return np.asarray(small.convert("RGB"))


def analyse(
    bundle: ModelBundle, image: Any, layer: str, max_maps: int, order: str,
    colormap: str, shared: bool, job,
) -> Analysis:  # fmt: skip
    """Preprocess, one forward for top-k and `layer`'s maps, and the grid image."""
    from resnet_studio.core.images import preprocess, to_display
    from resnet_studio.core.inspect import activations, render_grid

    x = preprocess(image, bundle.prep)
    job.check()
    maps = activations(bundle.model, x, layer, max_maps=max_maps, order=order)
    job.check()
    columns = grid_columns(len(maps.channels))
    grid = render_grid(maps, colormap, shared, columns=columns)
    return Analysis(x, to_display(x, bundle.prep), maps, grid, columns, maps.top(5))


def residual(bundle: ModelBundle, x: Any, block: str, job) -> Any:
    from resnet_studio.core.inspect import residual_view

    job.check()
    return residual_view(bundle.model, x, block)


def gradcam(bundle: ModelBundle, x: Any, layer: str, class_index: int | None, job) -> Any:
    from resnet_studio.core.inspect import grad_cam

    job.check()
    return grad_cam(bundle.model, x, layer=layer, class_index=class_index)


def compare(bundles: dict[str, ModelBundle], image: Any, job) -> Comparison:
    """Top-5 and the per-block residual profile of each model for one image."""
    import torch

    from resnet_studio.core.images import preprocess
    from resnet_studio.core.inspect import residual_profile

    top, profiles = {}, {}
    for label, bundle in bundles.items():
        job.check()
        x = preprocess(image, bundle.prep)
        with torch.inference_mode():
            logits = bundle.model(x[None])[0].float()
        p = torch.softmax(logits, 0)
        values, indices = p.topk(min(5, p.numel()))
        top[label] = list(zip(indices.tolist(), values.tolist(), strict=True))
        job.check()
        profiles[label] = residual_profile(bundle.model, x)
    return Comparison(top, profiles)


def figure7_batch(prep: Any, source: str, images: list[Any], count: int):
    """The Figure 7 batch for one model: synthetic test images normalised with the
    model's mean/std, or the loaded images preprocessed as the model wants them."""
    import torch

    from resnet_studio.core.images import preprocess_batch
    from resnet_studio.core.synthetic import make_synthetic

    if source == "images":
        return preprocess_batch(images[:count], prep)
    raw, _ = make_synthetic(count, prep.input_size, FIGURE7_SEED)
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    return (raw.float() / 255.0 - mean) / std


def figure7(bundles: dict[str, ModelBundle], source: str, images: list[Any], count: int, job) -> dict:
    """core's Figure 7 statistics of each model, one model at a time (cancellable between)."""
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.inspect import figure7 as core_figure7

    if source == "images" and not images:
        raise StudioError("No images loaded: drop some, or use the synthetic test images.")
    results = {}
    for i, (label, bundle) in enumerate(bundles.items()):
        job.progress(i, len(bundles))
        batch = figure7_batch(bundle.prep, source, images, count)
        results |= core_figure7({label: bundle.model}, batch, chunk_size=8)
    job.progress(len(bundles), len(bundles))
    return results


# ----------------------------------------------------------------------------- queue


@dataclass
class _Request:
    kind: str
    generation: int
    fn: Callable[..., Any]
    args: tuple
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException, str], None] | None
    on_progress: Callable[..., None] | None


class JobQueue(QObject):
    """Runs jobs one at a time, each in its own worker thread (see the module docstring).

    `busy_changed(bool)` fires when the queue starts or stops having work, for a
    progress indicator.
    """

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[str, _Request] = {}
        self._running: _Request | None = None
        self._worker: Worker | None = None
        self._generation: dict[str, int] = {}
        self._unique = 0
        self._busy = False

    def submit(
        self, kind: str, fn: Callable[..., Any], *args: Any,
        on_done: Callable[[Any], None], on_error: Callable[[BaseException, str], None] | None = None,
        on_progress: Callable[..., None] | None = None, supersede: bool = True,
    ) -> int:  # fmt: skip
        """Queue `fn(*args, job=...)`. With `supersede` a newer request of `kind` replaces
        the pending one and cancels the running one. Returns the request's generation."""
        if not supersede:  # e.g. loads: every drop counts
            self._unique += 1
            kind = f"{kind}#{self._unique}"
        generation = self._generation.get(kind, 0) + 1
        self._generation[kind] = generation
        self._pending.pop(kind, None)
        self._pending[kind] = _Request(kind, generation, fn, args, on_done, on_error, on_progress)
        if self._running is not None and self._running.kind == kind and self._worker is not None:
            self._worker.cancel()
        self._start_next()
        return generation

    def cancel(self, kind: str) -> None:
        """Forget `kind`: drop its pending request, cancel it if running, ignore its result."""
        self._generation[kind] = self._generation.get(kind, 0) + 1
        self._pending.pop(kind, None)
        if self._running is not None and self._running.kind == kind and self._worker is not None:
            self._worker.cancel()
        self._update_busy()

    def is_current(self, kind: str, generation: int) -> bool:
        return self._generation.get(kind) == generation

    def idle(self) -> bool:
        return self._worker is None and not self._pending

    def running_kind(self) -> str | None:
        return self._running.kind if self._running is not None else None

    def shutdown(self) -> None:
        """Drop what is pending, cancel and join what runs (the window is closing)."""
        self._pending.clear()
        worker = self._worker
        if worker is not None:
            worker.cancel()
            worker.join()
        self._worker = self._running = None
        self._update_busy()

    def _start_next(self) -> None:
        if self._worker is not None or not self._pending:
            self._update_busy()
            return
        kind = min(self._pending, key=_rank)
        request = self._pending.pop(kind)
        worker = Worker(request.fn, *request.args)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        worker.progressed.connect(self._on_worker_progressed)
        self._running, self._worker = request, worker
        worker.start()
        self._update_busy()

    def _end(self) -> _Request | None:
        request, self._running, self._worker = self._running, None, None
        if request is not None and self.is_current(request.kind, request.generation):
            return request
        return None

    def _on_worker_finished(self, result: object) -> None:
        request = self._end()
        if request is not None:
            request.on_done(result)
        self._start_next()

    def _on_worker_failed(self, exc: BaseException) -> None:
        worker = self._worker
        details = worker.traceback_text if worker is not None else ""
        request = self._end()
        if request is not None and request.on_error is not None:
            request.on_error(exc, details)
        self._start_next()

    def _on_worker_cancelled(self) -> None:
        self._end()
        self._start_next()

    def _on_worker_progressed(self, values: tuple) -> None:
        request = self._running
        if request is not None and request.on_progress is not None and self.is_current(
            request.kind, request.generation
        ):
            request.on_progress(*values)

    def _update_busy(self) -> None:
        busy = not self.idle()
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)


def _rank(kind: str) -> int:
    base = kind.split("#", 1)[0]
    return PRIORITY.index(base) if base in PRIORITY else len(PRIORITY)
