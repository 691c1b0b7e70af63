"""Small colour lookup tables (256 entries) and image helpers, numpy and Pillow only.

matplotlib is not a dependency: its perceptually uniform maps are reproduced by
linear interpolation between nine anchor colours sampled from matplotlib's own
tables (at 0, 1/8, ..., 1). The result differs from matplotlib's by at most a few
grey levels, which no one can see in a feature map.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np
from PIL import Image

from resnet_studio.core.errors import StudioError

_ANCHORS: dict[str, list[str]] = {
    "viridis": ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c",
                "#27ad81", "#5ec962", "#aadc32", "#fde725"],
    "inferno": ["#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60",
                "#cf4446", "#ed6925", "#fb9b06", "#fcffa4"],
    # Grad-CAM figures are conventionally drawn in jet; kept for familiarity.
    "jet": ["#00007f", "#0000ff", "#007fff", "#00ffff", "#7fff7f",
            "#ffff00", "#ff7f00", "#ff0000", "#7f0000"],
    "gray": ["#000000", "#ffffff"],
}
COLORMAPS: tuple[str, ...] = tuple(_ANCHORS)


@cache
def colormap_lut(name: str) -> np.ndarray:
    """The 256 x 3 uint8 table of colormap `name` (read-only, cached)."""
    try:
        anchors = _ANCHORS[name]
    except KeyError:
        raise StudioError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}") from None
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in anchors], dtype=np.float64)
    where = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, where, rgb[:, c]) for c in range(3)], axis=1)
    lut = np.rint(lut).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def apply_colormap(values: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Colour values in [0, 1] (any shape); returns uint8 of shape values.shape + (3,).
    Values outside [0, 1] are clipped; NaN becomes 0."""
    index = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    index = np.clip(index * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return colormap_lut(name)[index]


def save_png(image: np.ndarray, path: str | os.PathLike) -> None:
    """Write a uint8 H x W x 3 (or H x W) array as PNG; StudioError when it cannot."""
    try:
        Image.fromarray(np.ascontiguousarray(image)).save(path, format="PNG")
    except OSError as exc:
        raise StudioError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from exc
