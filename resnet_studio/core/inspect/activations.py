"""Feature maps of one layer, and the grid image that shows them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from resnet_studio.core.errors import StudioError
from resnet_studio.core.inspect._common import as_batch, check_resnet, evaluating, to_numpy
from resnet_studio.core.inspect.colormaps import apply_colormap
from resnet_studio.core.models import forward_intermediates

ORDERS = ("index", "mean", "max")


@dataclass(frozen=True)
class FeatureMaps:
    """Some channels of one layer's output for one image (CPU numpy, float32).

    `maps[k]` is channel `channels[k]` of the layer; `minimum/maximum/mean` are per map.
    `logits` is the network's output for the same forward pass (num_classes,), so the
    views get their top-k (`core.predict.Predictor.scores`) without a second forward.
    """

    layer: str
    maps: np.ndarray  # [K, H, W] float32
    channels: np.ndarray  # [K] int64, indices into the layer's channels
    minimum: np.ndarray  # [K]
    maximum: np.ndarray  # [K]
    mean: np.ndarray  # [K]
    total_channels: int  # C of the layer, K <= C
    logits: np.ndarray  # [num_classes] float32

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the whole layer output."""
        return (self.total_channels, *self.maps.shape[1:])


def activations(
    model: nn.Module,
    x: torch.Tensor,
    layer: str,
    *,
    max_maps: int = 64,
    order: str = "index",
) -> FeatureMaps:
    """The output of `layer` for image `x` ([3, H, W] or the first of a batch).

    At most `max_maps` channels are kept: the first ones ("index"), or those with the
    largest mean ("mean") or peak ("max") response, strongest first, which is what
    one wants to look at in a 2048-channel layer.
    """
    check_resnet(model)
    if order not in ORDERS:
        raise StudioError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    if max_maps < 1:
        raise StudioError(f"max_maps must be at least 1, got {max_maps}")
    with evaluating(model), torch.inference_mode():
        logits, outputs = forward_intermediates(model, as_batch(model, x, single=True), [layer])
        if layer not in outputs:
            raise StudioError(f"layer {layer!r} produced no output in this forward pass")
        out = outputs[layer][0].float()
        if out.ndim != 3:
            raise StudioError(f"layer {layer!r} has no feature map (output shape {tuple(out.shape)})")
        flat = out.flatten(1)
        means, peaks = flat.mean(1), flat.amax(1)
        k = min(max_maps, out.shape[0])
        if order == "index":
            chosen = torch.arange(k, device=out.device)
        else:
            key = means if order == "mean" else peaks
            chosen = torch.argsort(key, descending=True, stable=True)[:k]
        maps = out[chosen]
        return FeatureMaps(
            layer=layer,
            maps=to_numpy(maps),
            channels=chosen.cpu().numpy().astype(np.int64),
            minimum=to_numpy(flat[chosen].amin(1)),
            maximum=to_numpy(peaks[chosen]),
            mean=to_numpy(means[chosen]),
            total_channels=int(out.shape[0]),
            logits=to_numpy(logits[0]),
        )


def render_grid(
    maps: FeatureMaps | np.ndarray,
    colormap: str = "viridis",
    shared_scale: bool = True,
    *,
    columns: int | None = None,
    min_cell: int = 48,
    gap: int = 2,
) -> np.ndarray:
    """Tile feature maps into one uint8 H x W x 3 image.

    shared_scale: one colour scale for all maps (compare strengths across channels);
        otherwise each map is stretched to its own min..max (see each map's pattern).
    columns: maps per row (default: a near-square grid).
    min_cell: small maps are enlarged by whole pixels (nearest) until at least this
        many pixels wide, so a 7 x 7 map is still visible.
    gap: pixels of dark background between cells.
    """
    arr = maps.maps if isinstance(maps, FeatureMaps) else np.asarray(maps, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise StudioError(f"expected maps of shape [K, H, W], got {arr.shape}")
    k, h, w = arr.shape
    if shared_scale:
        lo = np.full((k, 1, 1), arr.min(), np.float32)
        hi = np.full((k, 1, 1), arr.max(), np.float32)
    else:
        lo = arr.min(axis=(1, 2), keepdims=True)
        hi = arr.max(axis=(1, 2), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)  # a constant map shows as the low colour
    cells = apply_colormap((arr - lo) / span, colormap)  # [K, H, W, 3]
    scale = max(1, math.ceil(min_cell / max(h, w)))
    if scale > 1:
        cells = cells.repeat(scale, axis=1).repeat(scale, axis=2)
    columns = columns or math.ceil(math.sqrt(k))
    rows = math.ceil(k / columns)
    ch, cw = h * scale, w * scale
    grid = np.full((rows * (ch + gap) + gap, columns * (cw + gap) + gap, 3), 24, np.uint8)
    for i in range(k):
        r, c = divmod(i, columns)
        top, left = gap + r * (ch + gap), gap + c * (cw + gap)
        grid[top:top + ch, left:left + cw] = cells[i]
    return grid
