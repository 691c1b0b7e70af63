"""Top-k classification of user images with a zoo network.

`Predictor` is the one place that turns logits into class probabilities: `predict`
and the inspection jobs of the window and the CLI all ask it (`scores`), so the
softmax and the top-k exist once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from resnet_studio.core.catalog import Preprocessing, resolve_preprocessing
from resnet_studio.core.device import resolve_device
from resnet_studio.core.errors import StudioError
from resnet_studio.core.images import preprocess_batch
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import network_name, resolve_model_and_weights


@dataclass(frozen=True)
class ClassScore:
    index: int
    name: str  # the class name, or "class <index>" when the weights carry none
    probability: float


def describe_weights(loaded: Any) -> str:
    """How a core LoadResult is named to users: "studio weights from r20.safetensors",
    or what shipped weights are ("trained by resnet-studio: 30 epochs, 88.1 % ...")."""
    shipped = getattr(loaded, "shipped", None)
    if shipped is not None:
        return shipped.label
    source = str(loaded.source)
    return f"{loaded.format} weights from {Path(source).name or source}"


class Predictor:
    """A model in eval mode on its device, with the preprocessing and class names
    that belong to its weights."""

    def __init__(
        self,
        model: torch.nn.Module,
        preprocessing: Preprocessing,
        class_names: list[str] | None = None,
        *,
        device: torch.device | str = "cpu",
        weights_label: str | None = None,
        name: str | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.preprocessing = preprocessing
        self.class_names = list(class_names) if class_names else None
        self.weights_label = weights_label  # None: random initialisation
        self.name = name  # the zoo name, when known

    @classmethod
    def from_name(
        cls,
        name: str | None,
        weights: str | None = None,
        *,
        device: str = "auto",
        progress: Callable[[int, int], None] | None = None,
        runs_dir: str | None = None,
    ) -> Predictor:
        """A network with weights, as `--model NAME [--weights SOURCE]` names them
        (`core.weights.resolve_model_and_weights`): a zoo name with a weight file,
        'torchvision', a pretrained name or a run; a pretrained name alone (its
        network, weights, class names and preprocessing); weights alone (the file
        tells the network); a zoo name alone (random weights)."""
        device_ = resolve_device(device)
        if weights is None and not name:
            raise StudioError("Name a network (e.g. cifar-resnet56) or give its weights.")
        loaded = resolve_model_and_weights(name or None, weights, progress=progress, runs_dir=runs_dir)
        if loaded is None:
            name = network_name(name)
            return cls(create_model(name), resolve_preprocessing(name), None, device=device_, name=name)
        name = loaded.model_name or (network_name(name) if name else None)
        # The weights know how their network was trained: their preprocessing wins.
        return cls(loaded.model, resolve_preprocessing(name, loaded.preprocessing), loaded.class_names,
                   device=device_, weights_label=describe_weights(loaded), name=name)  # fmt: skip

    @property
    def random_weights(self) -> bool:
        return self.weights_label is None

    def class_name(self, index: int) -> str:
        if self.class_names and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return f"class {index}"

    def predict(self, images: list[Image.Image], topk: int = 5) -> list[list[ClassScore]]:
        """The `topk` most probable classes of each image, most probable first."""
        return self.predict_batch(preprocess_batch(images, self.preprocessing), topk)

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, topk: int = 5) -> list[list[ClassScore]]:
        """Top-k of an already preprocessed batch [N,3,H,W]."""
        return self.scores(self.model(batch.to(self.device)), topk)

    def scores(self, logits: torch.Tensor | np.ndarray, topk: int = 5) -> list[list[ClassScore]]:
        """Top-k of logits already computed ([N, C], or one image's [C]): the inspection
        views get them from the forward that also recorded a layer's maps."""
        logits = torch.as_tensor(logits)
        if logits.ndim == 1:
            logits = logits[None]
        probabilities = torch.softmax(logits.detach().float(), dim=1).cpu()
        k = min(topk, probabilities.shape[1])
        values, indices = probabilities.topk(k, dim=1)
        return [
            [ClassScore(int(i), self.class_name(int(i)), float(p))
             for p, i in zip(row_p.tolist(), row_i.tolist(), strict=True)]
            for row_p, row_i in zip(values, indices, strict=True)
        ]  # fmt: skip
