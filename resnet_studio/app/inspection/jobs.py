"""What the inspection views compute, for the window and the CLI alike.

The jobs are thin: each calls core (`core.inspect`, `core.images`, `core.weights`)
and returns plain dataclasses of numpy arrays, never Qt types. A model is held as a
`ModelBundle`, a `core.predict.Predictor` (model, preprocessing, class names, the one
softmax/top-k) plus what the views need to know about its layers. Jobs take a `job`
(`control.JobControl`) and call `job.check()` between steps, so a superseded request
in the window stops at the next step; the CLI passes `control.UNATTENDED`.

Torch and core are imported inside the functions: the window imports this module
before PyTorch has loaded.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resnet_studio.app.inspection.control import UNATTENDED, JobControl
from resnet_studio.core.catalog import (
    SYNTHETIC_TEST_SEED_OFFSET,
    ModelChoice,
    resolve_preprocessing,
)

if TYPE_CHECKING:
    from resnet_studio.core.predict import ClassScore, Predictor

TOP_K = 5  # classes the views list
FIGURE7_CHUNK = 8  # images per forward: small steps, so a newer request cancels soon

# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ModelBundle:
    """A model the views inspect: a Predictor on its own eval-mode copy of the
    network, and the names of its layers the views offer."""

    generation: int  # which request built it: a result for an older one is stale
    predictor: Predictor
    tree: list = field(default_factory=list)  # core LayerNode roots (empty for the CLI)
    blocks: list[str] = field(default_factory=list)
    gradcam_layers: list[str] = field(default_factory=list)
    last_stage: str = ""
    num_classes: int = 0
    plain: bool = False  # no block has a shortcut

    @property
    def name(self) -> str:
        return self.predictor.name or ""

    @property
    def model(self) -> Any:
        return self.predictor.model

    @property
    def preprocessing(self) -> Any:
        return self.predictor.preprocessing

    @property
    def random_weights(self) -> bool:
        return self.predictor.random_weights

    @property
    def weights_text(self) -> str:
        return "random weights" if self.random_weights else str(self.predictor.weights_label)


@dataclass(frozen=True)
class LoadedImage:
    label: str  # the file name, or "pasted image"
    path: str | None  # None: from the clipboard
    image: Any  # PIL RGB image, decoded by core.images
    thumbnail: np.ndarray  # uint8 RGB, at most 96 px a side


@dataclass
class LoadedImages:
    """What a load job decoded, and a message for each file it could not."""

    images: list[LoadedImage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Analysis:
    """One image through the model: the input as seen, top-k and one layer's maps."""

    x: Any  # torch.Tensor [3, S, S], CPU: the preprocessed input, reused by later views
    display: np.ndarray  # uint8 S x S x 3, `to_display(x)`
    maps: Any  # core FeatureMaps
    grid: np.ndarray  # uint8, `render_grid(maps)` with the colours asked for
    columns: int
    top: list[ClassScore]


@dataclass(frozen=True)
class GradCamResult:
    cam: Any  # core GradCam
    display: np.ndarray  # the input it lies over, uint8
    class_name: str


@dataclass(frozen=True)
class ComparedModel:
    label: str
    name: str
    weights_text: str
    top: list[ClassScore]
    profile: Any  # core ResidualProfile


@dataclass(frozen=True)
class Comparison:
    """The same image through each model, in the order given."""

    models: list[ComparedModel]


# ----------------------------------------------------------------------------- models


def bundle(predictor: Predictor, generation: int = 0, *, with_tree: bool = True,
           job: JobControl = UNATTENDED) -> ModelBundle:  # fmt: skip
    """Describe a Predictor's network for the views. Its parameters stop asking for
    gradients (Grad-CAM differentiates with respect to activations only)."""
    from resnet_studio.core.inspect import block_names, gradcam_layers, layer_tree

    model = predictor.model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    tree = layer_tree(model, predictor.preprocessing.input_size) if with_tree else []
    job.check()
    blocks = block_names(model)
    return ModelBundle(
        generation=generation, predictor=predictor, tree=tree, blocks=blocks,
        gradcam_layers=gradcam_layers(model), last_stage=model.stage_names[-1],
        num_classes=model.fc.out_features,
        plain=not any(model.get_submodule(b).has_shortcut for b in blocks),
    )  # fmt: skip


def build_bundle(generation: int, choice: ModelChoice, weights: Any, job: JobControl = UNATTENDED) -> ModelBundle:
    """The window's current network (`app.model.ModelState`): our own CPU copy of the
    loaded weights' model, or a fresh one when the weights are random.

    A copy, because the inspection functions switch the model to eval mode and back:
    on the shared instance that could race with another panel."""
    from resnet_studio.core.models import create_model
    from resnet_studio.core.predict import Predictor, describe_weights

    if weights is not None:
        model, names, label = copy.deepcopy(weights.model), weights.class_names, describe_weights(weights)
        prep = resolve_preprocessing(choice.name, weights.preprocessing)
    else:
        model, names, label = create_model(choice.name, **choice.options()), None, None
        prep = resolve_preprocessing(choice.name)
    job.check()
    predictor = Predictor(model, prep, names, device="cpu", weights_label=label, name=choice.name)
    return bundle(predictor, generation, job=job)


def open_bundle(name: str | None, weights: str | None, *, device: str = "cpu", generation: int = 0,
                with_tree: bool = True, job: JobControl = UNATTENDED) -> ModelBundle:  # fmt: skip
    """A zoo network with weights from any source core loads (file, 'torchvision'),
    or random ones; with weights the name may be None (the file tells)."""
    from resnet_studio.core.predict import Predictor

    predictor = Predictor.from_name(name, weights, device=device)
    job.check()
    return bundle(predictor, generation, with_tree=with_tree, job=job)


def build_compare_bundle(generation: int, name: str, source: str, job: JobControl = UNATTENDED) -> ModelBundle:
    """The "compare with…" model: a zoo or pretrained name, with weights from a file,
    a run (its latest checkpoint), a pretrained name or none (random)."""
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.weights import network_name

    name, source = name.strip(), source.strip()
    if not name and not source:
        raise StudioError("Type a network to compare with, e.g. the plain twin cifar-plain56.")
    if name:
        network_name(name)  # a misspelt name fails before any file is read
    weights = str(Path(source).expanduser()) if source else None
    return open_bundle(name or None, weights, generation=generation, job=job)


def labelled(main: ModelBundle, other: ModelBundle | None = None) -> dict[str, ModelBundle]:
    """The models by the label plots and lists show: their names, the second one
    marked when both are the same network."""
    bundles = {main.name: main}
    if other is not None:
        bundles[other.name if other.name not in bundles else f"{other.name} (compared)"] = other
    return bundles


# ----------------------------------------------------------------------------- images


def load_files(paths: list[str], job: JobControl = UNATTENDED) -> LoadedImages:
    """Decode image files and folders; bad files become messages, never exceptions."""
    from resnet_studio.core.images import load_images

    out = LoadedImages()
    for path in paths:
        job.check()
        found = load_images([path], on_error=lambda p, exc: out.errors.append(str(exc)))
        out.images += [LoadedImage(p.name, str(p), image, thumbnail(image)) for p, image in found]
    return out


def load_bytes(label: str, data: bytes, job: JobControl = UNATTENDED) -> LoadedImages:
    """Decode an image pasted from the clipboard (PNG bytes)."""
    from resnet_studio.core.errors import ImageError
    from resnet_studio.core.images import load_image

    out = LoadedImages()
    try:
        image = load_image(data)
    except ImageError as exc:
        out.errors.append(str(exc))
    else:
        out.images.append(LoadedImage(label, None, image, thumbnail(image)))
    return out


def thumbnail(image: Any, size: int = 96) -> np.ndarray:
    small = image.copy()
    small.thumbnail((size, size))
    return np.asarray(small.convert("RGB"))


# ----------------------------------------------------------------------------- views


def grid_columns(count: int) -> int:
    """Maps per row of the grid: near-square, as render_grid's default (the view
    needs the number to map a click back to a channel)."""
    return max(1, math.ceil(math.sqrt(count)))


def analyse(
    model: ModelBundle, image: Any, layer: str, max_maps: int = 64, order: str = "index",
    colormap: str = "viridis", shared: bool = True, job: JobControl = UNATTENDED, *, topk: int = TOP_K,
) -> Analysis:  # fmt: skip
    """Preprocess, one forward for top-k and `layer`'s maps, and the grid image."""
    from resnet_studio.core.images import preprocess, to_display
    from resnet_studio.core.inspect import activations, render_grid

    prep = model.preprocessing
    x = preprocess(image, prep)
    job.check()
    maps = activations(model.model, x, layer, max_maps=max_maps, order=order)
    job.check()
    columns = grid_columns(len(maps.channels))
    grid = render_grid(maps, colormap, shared, columns=columns)
    top = model.predictor.scores(maps.logits, topk)[0]
    return Analysis(x, to_display(x, prep), maps, grid, columns, top)


def residual(model: ModelBundle, x: Any, block: str, job: JobControl = UNATTENDED) -> Any:
    """core's ResidualView of `block` for the analysed input `x`."""
    from resnet_studio.core.inspect import residual_view

    job.check()
    return residual_view(model.model, x, block)


def gradcam(model: ModelBundle, x: Any, layer: str | None, class_index: int | None,
            job: JobControl = UNATTENDED) -> GradCamResult:  # fmt: skip
    """Grad-CAM of `class_index` (None: the top class) at `layer` (None: the last stage)."""
    from resnet_studio.core.images import to_display
    from resnet_studio.core.inspect import grad_cam

    job.check()
    cam = grad_cam(model.model, x, layer=layer, class_index=class_index)
    return GradCamResult(cam, to_display(x, model.preprocessing), model.predictor.class_name(cam.class_index))


def compare(bundles: dict[str, ModelBundle], image: Any, job: JobControl = UNATTENDED) -> Comparison:
    """Top-5 and the per-block residual profile of each model for one image."""
    from resnet_studio.core.images import preprocess
    from resnet_studio.core.inspect import residual_profile

    models = []
    for label, b in bundles.items():
        job.check()
        x = preprocess(image, b.preprocessing)
        top = b.predictor.predict_batch(x[None], TOP_K)[0]
        job.check()
        models.append(ComparedModel(label, b.name, b.weights_text, top, residual_profile(b.model, x)))
    return Comparison(models)


def figure7_batch(prep: Any, source: str, images: list[Any], count: int) -> Any:
    """The Figure 7 batch for one model: real CIFAR-10 test images (the shipped slice),
    synthetic test images normalised with the model's mean/std, or the loaded images,
    each preprocessed as the model wants them."""
    import torch

    from resnet_studio.core.images import preprocess_batch
    from resnet_studio.core.synthetic import make_synthetic

    if source == "images":
        return preprocess_batch(images[:count], prep)
    if source == "cifar10":
        from resnet_studio.core.evaluation.data import open_eval_data
        from resnet_studio.core.samples import cifar10_test_slice

        data = open_eval_data(f"zip:{cifar10_test_slice()}", prep.input_size, limit=count)
        return torch.cat([x for x, _ in data.batches(prep, 100, torch.device("cpu"))])
    # the synthetic data set's test split (training seed 0), as `resnet-studio train` uses
    raw, _ = make_synthetic(count, prep.input_size, SYNTHETIC_TEST_SEED_OFFSET)
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    return (raw.float() / 255.0 - mean) / std


def figure7(bundles: dict[str, ModelBundle], source: str, images: list[Any], count: int,
            job: JobControl = UNATTENDED) -> dict:  # fmt: skip
    """core's Figure 7 statistics of each model, one model at a time (cancellable
    between), each over the batch in its own preprocessing."""
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.inspect import figure7 as core_figure7

    if source == "images" and not images:
        raise StudioError("No images loaded: drop some, or use the synthetic test images.")
    results = {}
    for i, (label, b) in enumerate(bundles.items()):
        job.progress(i, len(bundles))
        batch = figure7_batch(b.preprocessing, source, images, count)
        results |= core_figure7({label: b.model}, batch, chunk_size=FIGURE7_CHUNK)
    job.progress(len(bundles), len(bundles))
    return results
