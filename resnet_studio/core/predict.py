"""Top-k classification of user images with a zoo network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from resnet_studio.core.device import resolve_device
from resnet_studio.core.images import Preprocessing, preprocess_batch
from resnet_studio.core.models import create_model, model_info
from resnet_studio.core.weights import load_weights


@dataclass(frozen=True)
class ClassScore:
    index: int
    name: str  # the class name, or "class <index>" when the weights carry none
    probability: float


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
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.preprocessing = preprocessing
        self.class_names = class_names
        self.weights_label = weights_label  # None: random initialisation

    @classmethod
    def from_name(
        cls,
        name: str,
        weights: str | None = None,
        *,
        device: str = "auto",
        progress: Callable[[int, int], None] | None = None,
    ) -> Predictor:
        """Build a zoo network, load `weights` (any supported source) if given."""
        device_ = resolve_device(device)
        info = model_info(name)
        default_prep = Preprocessing(info.input_size, info.resize_size, info.mean, info.std)
        if weights is None:
            return cls(create_model(name), default_prep, None, device=device_)
        loaded = load_weights(name, weights, progress=progress)
        # The weights know how their network was trained: their preprocessing wins.
        return cls(loaded.model, loaded.preprocessing or default_prep, loaded.class_names,
                   device=device_, weights_label=f"{loaded.format} weights from {loaded.source}")

    @property
    def random_weights(self) -> bool:
        return self.weights_label is None

    def class_name(self, index: int) -> str:
        if self.class_names and index < len(self.class_names):
            return self.class_names[index]
        return f"class {index}"

    def predict(self, images: list[Image.Image], topk: int = 5) -> list[list[ClassScore]]:
        """The `topk` most probable classes of each image, most probable first."""
        return self.predict_batch(preprocess_batch(images, self.preprocessing), topk)

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, topk: int = 5) -> list[list[ClassScore]]:
        """Top-k of an already preprocessed batch [N,3,H,W]."""
        logits = self.model(batch.to(self.device))
        probabilities = torch.softmax(logits.float(), dim=1).cpu()
        k = min(topk, probabilities.shape[1])
        values, indices = probabilities.topk(k, dim=1)
        return [
            [ClassScore(int(i), self.class_name(int(i)), float(p))
             for p, i in zip(row_p.tolist(), row_i.tolist(), strict=True)]
            for row_p, row_i in zip(values, indices, strict=True)
        ]
