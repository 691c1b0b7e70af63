"""The network the user works on: which one (`ModelChoice`) and the weights loaded
for it. The Model panel changes it; the Inspection and Training panels follow it.

Weights belong to one architecture: choosing another network drops them (and says
so through `weights_dropped`), loading weights sets the choice to theirs.

A net with weights shipped in the package (`core.weights.shipped`: the CIFAR nets
resnet-studio trained itself) wants those by default: `wanted_shipped` names them
until they are loaded or the user asks for random weights (`clear_weights`), so the
front end loads them in the background; random weights are an explicit choice.

`summarize(choice)` gives a network's numbers at once, without torch, from core's
precomputed model table; `describe(choice)` is the job that adds the module tree
(and measures a network the table lacks) for the Model panel or any other front end.
Both return plain values: core's ModelInfo and the module tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_studio.app.observable import Emitter
from resnet_studio.core.catalog import ModelChoice, Preprocessing, resolve_preprocessing
from resnet_studio.core.model_table import listed_info
from resnet_studio.core.weights.shipped import ShippedWeights, shipped_weights

# The net a new window opens with: the one that ships trained, so a sample is
# classified right away without a download.
DEFAULT_CHOICE = ModelChoice("cifar-resnet20", 10, "A")


class ModelState:
    """Emitters: `changed(choice, weights)` after any change of either;
    `weights_dropped(choice)` when a new choice discarded loaded weights."""

    def __init__(self, choice: ModelChoice = DEFAULT_CHOICE) -> None:
        self.changed = Emitter()
        self.weights_dropped = Emitter()
        self._choice = choice.resolved()
        self._weights: Any = None  # core.weights.LoadResult
        self._weights_choice: ModelChoice | None = None
        self._random_chosen = False  # the user asked for random weights for this choice

    @property
    def choice(self) -> ModelChoice:
        """Always resolved: num_classes and shortcut filled in (None for plain nets)."""
        return self._choice

    @property
    def weights(self) -> Any:
        """The core LoadResult loaded for the current choice, or None (random weights)."""
        return self._weights

    @property
    def wanted_shipped(self) -> ShippedWeights | None:
        """The shipped weights the current choice should get (not loaded yet, and random
        weights not asked for), or None."""
        if self._weights is not None or self._random_chosen:
            return None
        return shipped_weights(self._choice.name, self._choice)

    @property
    def random_chosen(self) -> bool:
        """Random weights were asked for although trained ones ship for this net."""
        return self._random_chosen and shipped_weights(self._choice.name, self._choice) is not None

    @property
    def preprocessing(self) -> Preprocessing:
        prep = self._weights.preprocessing if self._weights is not None else None
        return resolve_preprocessing(self._choice.name, prep)

    def set_choice(self, choice: ModelChoice) -> None:
        """A new network; loaded weights stay only if it is the one they are for."""
        choice = choice.resolved()
        if choice == self._choice:
            return
        self._choice = choice
        self._random_chosen = False
        if self._weights is not None and choice != self._weights_choice:
            self._weights, self._weights_choice = None, None
            self.weights_dropped.emit(choice)
        self.changed.emit(self._choice, self._weights)

    def set_weights(self, result: Any) -> None:
        """Weights loaded (core LoadResult): the choice becomes their architecture."""
        fc = getattr(result.model, "fc", None)
        classes = fc.out_features if fc is not None else self._choice.num_classes
        name = result.model_name or self._choice.name
        entry = getattr(result, "pretrained", None)  # a catalog checkpoint knows its option
        if entry is not None and entry.model == name:
            shortcut = entry.shortcut
        else:
            shortcut = self._choice.shortcut if name == self._choice.name else None
        self._weights = result
        self._weights_choice = self._choice = ModelChoice(name, classes, shortcut).resolved()
        self._random_chosen = False
        self.changed.emit(self._choice, self._weights)

    def clear_weights(self) -> None:
        """Back to random initialisation (an explicit choice of the user: shipped weights
        are not wanted any more for this choice)."""
        was_random = self._weights is None and self._random_chosen
        self._random_chosen = True
        if self._weights is not None:
            self._weights, self._weights_choice = None, None
            self.changed.emit(self._choice, None)
        elif not was_random and shipped_weights(self._choice.name, self._choice) is not None:
            self.changed.emit(self._choice, None)  # the pending shipped load is off

    def use_shipped(self) -> None:
        """Undo `clear_weights` for a net that ships trained: `wanted_shipped` again."""
        if self._random_chosen:
            self._random_chosen = False
            self.changed.emit(self._choice, self._weights)


@dataclass(frozen=True)
class ModelSummary:
    """What the Model panel shows about a network: plain values, never a live model,
    so nothing big or device-bound crosses from the worker thread."""

    choice: ModelChoice  # resolved
    info: Any  # core ModelInfo: stages, params, multiply-adds
    tree: tuple[Any, ...] | None = None  # core.inspect.tree.LayerNode roots; None: not built yet

    @property
    def complete(self) -> bool:
        """The module tree is there too (it needs torch, the numbers do not)."""
        return self.tree is not None


def summarize(choice: ModelChoice) -> ModelSummary | None:
    """The numbers of a network without torch, from core's precomputed model table:
    milliseconds, so the Model panel shows them at once, even while PyTorch is still
    loading. None when the table lacks the network (an option it was not measured
    for, e.g. another class count or shortcut): `describe` measures it then."""
    choice = choice.resolved()
    info = listed_info(choice.name, **choice.options())
    return None if info is None else ModelSummary(choice, info)


def describe(choice: ModelChoice) -> ModelSummary:
    """The whole summary, module tree included (it runs in a worker: torch is imported
    here, not at module level, so the window can show before PyTorch is loaded). The
    numbers come from the table when it has them, else they are measured (seconds for
    cifar-resnet1202 at other options; core caches model_info)."""
    import torch

    from resnet_studio.core.inspect.tree import module_tree
    from resnet_studio.core.models import create_model, model_info

    choice = choice.resolved()
    info = listed_info(choice.name, **choice.options()) or model_info(choice.name, **choice.options())
    with torch.device("meta"):  # structure only: no memory, no initialisation cost
        model = create_model(choice.name, **choice.options())
    return ModelSummary(choice, info, tuple(module_tree(model)))


def save_weights_job(choice: ModelChoice, weights: Any, path: str) -> str:
    """Write `weights` (a LoadResult), or a fresh initialisation of `choice` when None,
    to a safetensors file with the metadata that rebuilds it. Returns the path written."""
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import save_weights

    choice = choice.resolved()
    model = weights.model if weights is not None else create_model(choice.name, **choice.options())
    meta: dict[str, Any] = {"model": choice.name, "num_classes": choice.num_classes}
    if choice.shortcut:
        meta["shortcut"] = choice.shortcut
    if weights is not None and weights.class_names:
        meta["class_names"] = list(weights.class_names)
    return str(save_weights(model, path, meta))


def weights_text(result: Any) -> str:
    """What a loaded LoadResult is, for the user: format, source, tensors matched,
    class names (and whether they were guessed), the loader's notes."""
    name = Path(result.source).name or result.source
    lines = [f"Loaded {result.format} weights from {name}: {result.matched_keys:,} tensors matched."]
    entry = getattr(result, "pretrained", None)
    if entry is not None:  # a catalog checkpoint: what it was trained on and how good it is
        top1 = f"published top-1 {entry.top1:.2f} %" if entry.top1 is not None else "no published top-1"
        lines = [f"Loaded {entry.name}: {entry.model} trained on {entry.dataset} "
                 f"({result.matched_keys:,} tensors matched).",
                 f"{top1}, in {entry.published_in}."]  # fmt: skip
    names = result.class_names or []
    if names:
        first = ", ".join(names[:4])
        guessed = " (guessed from the head size)" if result.class_names_guessed else ""
        lines.append(f"{len(names):,} classes{guessed}: {first}{', …' if len(names) > 4 else ''}")
    else:
        lines.append("No class names in the file.")
    lines += list(result.notes)
    return "\n".join(lines)


@dataclass(frozen=True)
class ExportedOnnx:
    """What an ONNX export wrote, and how closely onnxruntime agrees with torch."""

    path: str
    input_size: int
    max_difference: float | None  # |onnxruntime - torch| over batches 1 and 3; None: no onnxruntime


def export_onnx_job(choice: ModelChoice, weights: Any, path: str) -> ExportedOnnx:
    """Export the current network (its loaded weights, or a fresh initialisation) to an
    ONNX file with a dynamic batch axis and the metadata `resnet-studio export` writes
    (zoo name, weights, class names, preprocessing), then check it with onnxruntime
    when that is installed, as the CLI does. A copy of the model is exported, because
    the exporter moves it to the CPU and into eval mode under the other panels' feet."""
    import copy
    import importlib.util

    from resnet_studio.core.export import export_onnx, verify_onnx
    from resnet_studio.core.models import create_model

    choice = choice.resolved()
    if weights is not None:
        model = copy.deepcopy(weights.model)
    else:
        model = create_model(choice.name, **choice.options())
    prep = resolve_preprocessing(choice.name, weights.preprocessing if weights is not None else None)
    meta = {"model": choice.name, "num_classes": choice.num_classes, "shortcut": choice.shortcut,
            "weights": str(weights.source) if weights is not None else "random initialisation",
            "class_names": list(weights.class_names) if weights is not None and weights.class_names else None,
            "preprocessing": prep}  # fmt: skip
    written = export_onnx(model, path, input_size=prep.input_size, meta=meta)
    diff = None
    if importlib.util.find_spec("onnxruntime") is not None:
        diff = verify_onnx(written, model, input_size=prep.input_size)
    return ExportedOnnx(str(written), prep.input_size, diff)


def onnx_missing() -> str | None:
    """What to install for ONNX export, or None when it can run. Asked before a file
    dialog opens, so a user without the extra is told at once, not after choosing a file."""
    import importlib.util

    from resnet_studio.core.export import EXTRA

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    return f"ONNX export needs {', '.join(missing)}: {EXTRA}." if missing else None
