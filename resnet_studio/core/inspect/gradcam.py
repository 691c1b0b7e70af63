"""Grad-CAM (Selvaraju et al. 2017): where in the image a class's evidence lies.

For a feature map A (C x h x w) and the logit y_c of class c:
    alpha_k = mean over positions of d y_c / d A_k     (one weight per channel)
    cam     = ReLU(sum_k alpha_k A_k)                   (h x w)
upsampled bilinearly to the input and scaled to [0, 1]. Our nets end in global
average pooling and one linear layer, so at the last stage this is exactly CAM
(Zhou et al. 2016) with the fc weights of class c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from resnet_studio.core.errors import StudioError
from resnet_studio.core.inspect._common import (
    as_batch,
    block_names,
    check_resnet,
    evaluating,
    to_numpy,
)
from resnet_studio.core.inspect.colormaps import apply_colormap
from resnet_studio.core.models import forward_intermediates


@dataclass(frozen=True)
class GradCam:
    """The heatmap of one class for one image (CPU numpy)."""

    heatmap: np.ndarray  # [H, W] float32 in [0, 1], at the input's resolution
    cam: np.ndarray  # [h, w] float32, the unscaled map at the layer's resolution
    layer: str
    class_index: int
    score: float  # the class's logit
    probability: float  # its softmax probability
    empty: bool  # True when no position had positive evidence (heatmap all zeros)


def gradcam_layers(model: nn.Module) -> list[str]:
    """Layers Grad-CAM accepts: the stem, every block and every stage. Their outputs
    feed no in-place operation, so gradients with respect to them are exact."""
    return ["stem", *block_names(model), *model.stage_names]


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    *,
    layer: str | None = None,
    class_index: int | None = None,
) -> GradCam:
    """Grad-CAM of `class_index` (default: the top class) at `layer` (default: the
    last stage, the usual choice: the most semantic map that still has positions).

    Runs one forward with autograd and one backward that only reaches back to
    `layer`; parameters' `.grad` are left untouched.
    """
    check_resnet(model)
    layer = layer or model.stage_names[-1]
    if layer not in gradcam_layers(model):
        raise StudioError(
            f"Grad-CAM needs the stem, a block or a stage (e.g. {model.stage_names[-1]!r}), "
            f"not {layer!r}"
        )
    x = as_batch(model, x, single=True).detach().requires_grad_(True)  # a graph even if weights are frozen
    with evaluating(model), torch.enable_grad():
        logits, out = forward_intermediates(model, x, [layer], keep_graph=True)
        features = out[layer]
        if class_index is None:
            class_index = int(logits[0].argmax())
        if not 0 <= class_index < logits.shape[1]:
            raise StudioError(f"class index {class_index} out of range: the net has {logits.shape[1]} classes")
        score = logits[0, class_index]
        (grads,) = torch.autograd.grad(score, features)
    with torch.no_grad():
        alpha = grads[0].mean(dim=(1, 2))  # [C]
        cam = F.relu(torch.einsum("c,chw->hw", alpha, features[0].detach()))
        up = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        peak = float(up.max())
        heat = (up / peak).clamp_(0, 1) if peak > 0 else torch.zeros_like(up)
        probability = float(torch.softmax(logits[0].detach().float(), 0)[class_index])
    return GradCam(
        heatmap=to_numpy(heat), cam=to_numpy(cam), layer=layer, class_index=class_index,
        score=float(score.detach()), probability=probability, empty=peak <= 0,
    )


def overlay(
    image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, colormap: str = "jet"
) -> np.ndarray:
    """Blend a [0, 1] heatmap, coloured, over a uint8 H x W x 3 image.

    The heatmap is resized (bilinear) to the image when their sizes differ, so the
    heatmap of the network's 224 x 224 crop can be laid over that crop at any size.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise StudioError(f"overlay needs a uint8 H x W x 3 image, got {image.dtype} {image.shape}")
    if not 0.0 <= opacity <= 1.0:
        raise StudioError(f"opacity must be between 0 and 1, got {opacity}")
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != image.shape[:2]:
        resized = Image.fromarray(heat).resize((image.shape[1], image.shape[0]), Image.BILINEAR)
        heat = np.asarray(resized, dtype=np.float32)
    colour = apply_colormap(heat, colormap).astype(np.float32)
    out = (1.0 - opacity) * image.astype(np.float32) + opacity * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
