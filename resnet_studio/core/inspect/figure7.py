"""The statistic of the paper's Figure 7: std of each 3x3 layer's response.

Figure 7 (He et al. 2016): "Standard deviations (std) of layer responses on CIFAR-10.
The responses are the outputs of each 3x3 layer, after BN and before nonlinearity.
Top: the layers are shown in their original order. Bottom: the responses are ranked
in descending order." Residual nets show smaller responses than their plain
counterparts, which supports the idea that residual functions are closer to zero.

Definition used here (the caption leaves the axes open): for each layer, the
population standard deviation of *all* elements of its response tensor over the
batch, i.e. of the N*C*H*W values together. Why this one:
  - it is the literal reading of "std of layer responses", one number per layer with
    no choice of axes, and how common reproductions compute it;
  - it works for any batch, a single image included (a std over the batch axis
    alone would need several images and ignore spatial spread);
  - it measures how far responses spread from their mean, which is what "responses
    closer to zero" is about. It also counts the spread of per-channel offsets (BN's
    beta); a per-channel variant would hide that, but BN's gamma and beta are both
    part of what the layer learned to output.
Models run in eval mode: BN uses its running statistics, as a trained net does.
Values are accumulated in float64 per chunk and merged (Chan et al.), so a large
batch gives the same number as one pass without holding every response at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from resnet_studio.core.errors import StudioError
from resnet_studio.core.inspect._common import as_batch, check_resnet, evaluating
from resnet_studio.core.models import forward_intermediates, response_layer_names


@dataclass(frozen=True)
class Figure7Stats:
    """Response stds of one model. `std[i]` belongs to `layers[i]` (network order);
    `sorted_std` is the same values in descending order, `sorted_layers` their names."""

    label: str
    layers: list[str]
    std: np.ndarray  # [L] float64, network order
    sorted_std: np.ndarray  # [L] float64, descending
    sorted_layers: list[str]
    mean: np.ndarray  # [L] float64, the mean response per layer (for reference)
    images: int  # batch size the statistic was computed over

    def to_dict(self) -> dict:
        return {"label": self.label, "layers": self.layers, "std": self.std.tolist(),
                "sorted_std": self.sorted_std.tolist(), "images": self.images}


def response_std(
    model: nn.Module, batch: torch.Tensor, *, chunk_size: int = 32
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(layer names, std per layer, mean per layer) of the 3x3 layers' responses,
    with the definition in the module docstring."""
    check_resnet(model)
    if chunk_size < 1:
        raise StudioError(f"chunk_size must be at least 1, got {chunk_size}")
    names = response_layer_names(model)
    x = as_batch(model, batch, single=False)
    count, mean, m2 = np.zeros(len(names)), np.zeros(len(names)), np.zeros(len(names))
    with evaluating(model), torch.inference_mode():
        for start in range(0, x.shape[0], chunk_size):
            _, out = forward_intermediates(model, x[start:start + chunk_size], names)
            for i, name in enumerate(names):
                t = out[name].double()
                n, c_mean = t.numel(), float(t.mean())
                c_m2 = float(((t - c_mean) ** 2).sum())
                # Chan et al.'s merge of (count, mean, M2): exact, and stable in float64.
                total = count[i] + n
                delta = c_mean - mean[i]
                mean[i] += delta * n / total
                m2[i] += c_m2 + delta**2 * count[i] * n / total
                count[i] = total
            del out  # free this chunk's responses before the next forward
    return names, np.sqrt(m2 / count), mean


def figure7(
    models: Mapping[str, nn.Module],
    batch: torch.Tensor | Mapping[str, torch.Tensor],
    *,
    chunk_size: int = 32,
) -> dict[str, Figure7Stats]:
    """Figure 7 statistics of each labelled model over the same images.

    `batch` is one preprocessed [N, 3, H, W] tensor for all, or one per label when
    the models want different preprocessing.
    """
    if not models:
        raise StudioError("figure7 needs at least one model")
    results = {}
    for label, model in models.items():
        images = batch[label] if isinstance(batch, Mapping) else batch
        layers, std, mean = response_std(model, images, chunk_size=chunk_size)
        order = np.argsort(-std, kind="stable")
        results[label] = Figure7Stats(
            label=label, layers=layers, std=std, sorted_std=std[order],
            sorted_layers=[layers[i] for i in order], mean=mean,
            images=int(images.shape[0]) if images.ndim == 4 else 1,
        )
    return results
