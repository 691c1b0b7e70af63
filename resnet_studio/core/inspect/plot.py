"""The Figure 7 plot, drawn with Pillow (no matplotlib dependency).

Two panels, as in the paper: the response std of each 3x3 layer in network order
(top) and the same values ranked in descending order (bottom), one line per model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from resnet_studio.core.errors import StudioError
from resnet_studio.core.inspect.figure7 import Figure7Stats

# matplotlib's "tab10": distinct, colour-blind-tolerant and familiar from papers.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_INK, _GRID, _PAPER = (30, 30, 30), (225, 225, 225), (255, 255, 255)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering lo..hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int(math.ceil((hi - first) / step)) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}"


def figure7_png(
    stats: Mapping[str, Figure7Stats],
    *,
    width: int = 900,
    height: int = 700,
    title: str = "Std of 3x3 layer responses (after BN, before ReLU)",
) -> np.ndarray:
    """The plot as a uint8 H x W x 3 image; `save_png` writes it."""
    if not stats:
        raise StudioError("nothing to plot: no Figure 7 statistics")
    image = Image.new("RGB", (width, height), _PAPER)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(11, height // 50))
    big = ImageFont.load_default(size=max(13, height // 40))
    draw.text((width / 2, 8), title, fill=_INK, font=big, anchor="mt")
    all_std = np.concatenate([s.std for s in stats.values()])
    ymax = float(np.nanmax(all_std)) if all_std.size else 1.0
    yticks = nice_ticks(0.0, ymax * 1.05 if ymax > 0 else 1.0)
    top = 40
    panel_h = (height - top - 30) // 2
    panels = [("layer index (original order)", "std"), ("layer index (sorted by magnitude)", "sorted_std")]
    for p, (xlabel, field) in enumerate(panels):
        box = (84, top + p * panel_h + 10, width - 20, top + (p + 1) * panel_h - 40)
        _panel(draw, box, stats, field, yticks, xlabel, font)
    _legend(draw, (width - 30, top + 20), list(stats), font)
    return np.asarray(image)


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
           stats: Mapping[str, Figure7Stats], field: str, yticks: list[float],
           xlabel: str, font: ImageFont.ImageFont) -> None:
    left, top, right, bottom = box
    n_layers = max(len(s.layers) for s in stats.values())
    y0, y1 = yticks[0], yticks[-1]

    def px(i: float) -> float:  # layer index (1-based) -> x pixel
        return left + (i - 1) / max(n_layers - 1, 1) * (right - left)

    def py(v: float) -> float:
        return bottom - (v - y0) / (y1 - y0) * (bottom - top)

    for tick in yticks:
        y = py(tick)
        draw.line([(left, y), (right, y)], fill=_GRID)
        draw.text((left - 6, y), _label(tick), fill=_INK, font=font, anchor="rm")
    for tick in nice_ticks(1, n_layers, 8):
        if 1 <= tick <= n_layers:
            x = px(tick)
            draw.line([(x, bottom), (x, bottom + 4)], fill=_INK)
            draw.text((x, bottom + 6), str(int(tick)), fill=_INK, font=font, anchor="mt")
    draw.rectangle(box, outline=_INK)
    draw.text(((left + right) / 2, bottom + 22), xlabel, fill=_INK, font=font, anchor="mt")
    draw.text((8, (top + bottom) / 2), "std", fill=_INK, font=font, anchor="lm")
    for k, s in enumerate(stats.values()):
        colour = PALETTE[k % len(PALETTE)]
        values = getattr(s, field)
        points = [(px(i + 1), py(float(v))) for i, v in enumerate(values) if np.isfinite(v)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2, joint="curve")
        if len(points) <= 60:  # markers while they do not merge into a blur
            for x, y in points:
                draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)


def _legend(draw: ImageDraw.ImageDraw, corner: tuple[int, int], labels: list[str],
            font: ImageFont.ImageFont) -> None:
    """Top-right legend box: a line sample and the label of each model."""
    right, top = corner
    line_h = font.size + 6
    text_w = max(draw.textlength(label, font=font) for label in labels)
    left = right - text_w - 44
    draw.rectangle([left, top, right, top + line_h * len(labels) + 6], fill=_PAPER, outline=_GRID)
    for k, label in enumerate(labels):
        y = top + 4 + k * line_h + line_h / 2
        colour = PALETTE[k % len(PALETTE)]
        draw.line([(left + 8, y), (left + 32, y)], fill=colour, width=3)
        draw.text((left + 38, y), label, fill=_INK, font=font, anchor="lm")
