"""The analyses' pictures, drawn with Pillow and numpy (matplotlib is no dependency),
as `core.inspect.plot` draws Figure 7: line charts with one colour per network, and
for a 2D landscape a filled contour map (log loss, iso-lines at even levels)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from resnet_studio.core.inspect.colormaps import apply_colormap
from resnet_studio.core.inspect.plot import PALETTE, nice_ticks

INK, GRID, PAPER = (30, 30, 30), (225, 225, 225), (255, 255, 255)
Series = tuple[Sequence[float], Sequence[float | None]]  # x values, y values (None: gap)


def _fonts(height: int) -> tuple[ImageFont.ImageFont, ImageFont.ImageFont]:
    return ImageFont.load_default(size=max(11, height // 45)), ImageFont.load_default(
        size=max(13, height // 36)
    )


def line_chart(series: Mapping[str, Series], *, title: str, xlabel: str, ylabel: str,
               width: int = 900, height: int = 520, ymin: float | None = None) -> np.ndarray:  # fmt: skip
    """One line (with markers while they stay apart) per labelled series, as a uint8
    H x W x 3 image."""
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    font, big = _fonts(height)
    draw.text((width / 2, 8), title, fill=INK, font=big, anchor="mt")
    xs = [float(x) for xv, _ in series.values() for x in xv]
    ys = [float(y) for _, yv in series.values() for y in yv if y is not None and math.isfinite(y)]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    lo = ymin if ymin is not None else (min(ys) if ys else 0.0)
    yticks = nice_ticks(lo, max(ys) if ys else 1.0)
    xticks = [t for t in nice_ticks(x0, x1, 8) if x0 - 1e-9 <= t <= x1 + 1e-9]
    # The legend is a row of its own under the title: in a corner of the plot it
    # covered the last points of the curves (a lesion of the last block, say).
    legend_h = font.size + 12 if series else 0
    left, top, right, bottom = 80, 44 + legend_h, width - 24, height - 56
    y0, y1 = yticks[0], yticks[-1]

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1.0) * (right - left)

    def py(y: float) -> float:
        return bottom - (y - y0) / ((y1 - y0) or 1.0) * (bottom - top)

    for tick in yticks:
        draw.line([(left, py(tick)), (right, py(tick))], fill=GRID)
        draw.text((left - 6, py(tick)), f"{tick:.4g}", fill=INK, font=font, anchor="rm")
    for tick in xticks:
        draw.line([(px(tick), bottom), (px(tick), bottom + 4)], fill=INK)
        draw.text((px(tick), bottom + 6), f"{tick:.4g}", fill=INK, font=font, anchor="mt")
    draw.rectangle((left, top, right, bottom), outline=INK)
    draw.text(((left + right) / 2, bottom + 26), xlabel, fill=INK, font=font, anchor="mt")
    draw.text((8, top - 20), ylabel, fill=INK, font=font, anchor="lm")
    for k, (xv, yv) in enumerate(series.values()):
        colour = PALETTE[k % len(PALETTE)]
        run: list[tuple[float, float]] = []
        points = [(px(float(x)), py(float(y))) if y is not None and math.isfinite(y) else None
                  for x, y in zip(xv, yv, strict=True)]  # fmt: skip
        for point in [*points, None]:  # a None breaks the line (a block that cannot go)
            if point is None:
                if len(run) > 1:
                    draw.line(run, fill=colour, width=2, joint="curve")
                run = []
            else:
                run.append(point)
        if len(points) <= 80:
            for p in points:
                if p is not None:
                    draw.ellipse([p[0] - 2.5, p[1] - 2.5, p[0] + 2.5, p[1] + 2.5], fill=colour)
    _legend_row(draw, ((left + right) / 2, 44 + legend_h / 2), list(series), font)
    return np.asarray(image)


def _legend_row(draw: ImageDraw.ImageDraw, centre: tuple[float, float], labels: list[str],
                font: ImageFont.ImageFont) -> None:  # fmt: skip
    """The labels side by side, each after a stroke of its colour, centred on ``centre``."""
    gap, stroke = 24, 30
    widths = [stroke + 8 + draw.textlength(label, font=font) for label in labels]
    x = centre[0] - (sum(widths) + gap * (len(labels) - 1)) / 2
    y = centre[1]
    for k, (label, w) in enumerate(zip(labels, widths, strict=True)):
        draw.line([(x, y), (x + stroke, y)], fill=PALETTE[k % len(PALETTE)], width=3)
        draw.text((x + stroke + 8, y), label, fill=INK, font=font, anchor="lm")
        x += w + gap


def contour_map(grid: Sequence[Sequence[float]], alphas: Sequence[float], betas: Sequence[float],
                *, title: str, levels: int = 16, size: int = 480) -> np.ndarray:  # fmt: skip
    """A filled contour map of log(loss) over the (alpha, beta) grid ([beta][alpha]),
    smooth by bilinear interpolation, with iso-lines at `levels` even steps."""
    z = np.log(np.clip(np.asarray(grid, dtype=np.float32), 1e-8, None))
    z = np.nan_to_num(z, nan=float(np.nanmax(z[np.isfinite(z)])) if np.isfinite(z).any() else 0.0)
    lo, hi = float(z.min()), float(z.max())
    up = np.asarray(Image.fromarray(z, mode="F").resize((size, size), Image.Resampling.BILINEAR))
    up = up[::-1]  # beta grows upwards
    norm = (up - lo) / ((hi - lo) or 1.0)
    rgb = apply_colormap(norm, "viridis").copy()
    band = np.minimum((norm * levels).astype(np.int32), levels - 1)
    edge = np.zeros_like(band, dtype=bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    rgb[edge] = 255
    margin_l, margin_t, margin_r, margin_b = 70, 44, 110, 56
    image = Image.new("RGB", (margin_l + size + margin_r, margin_t + size + margin_b), PAPER)
    image.paste(Image.fromarray(rgb), (margin_l, margin_t))
    draw = ImageDraw.Draw(image)
    font, big = _fonts(size + 100)
    draw.text((image.width / 2, 8), title, fill=INK, font=big, anchor="mt")
    a0, a1, b0, b1 = alphas[0], alphas[-1], betas[0], betas[-1]
    for tick in nice_ticks(a0, a1, 6):
        if a0 - 1e-9 <= tick <= a1 + 1e-9:
            x = margin_l + (tick - a0) / (a1 - a0) * size
            draw.text((x, margin_t + size + 6), f"{tick:.3g}", fill=INK, font=font, anchor="mt")
    for tick in nice_ticks(b0, b1, 6):
        if b0 - 1e-9 <= tick <= b1 + 1e-9:
            y = margin_t + size - (tick - b0) / (b1 - b0) * size
            draw.text((margin_l - 6, y), f"{tick:.3g}", fill=INK, font=font, anchor="rm")
    draw.rectangle((margin_l, margin_t, margin_l + size, margin_t + size), outline=INK)
    draw.text((margin_l + size / 2, margin_t + size + 26), "alpha (direction 1)", fill=INK,
              font=font, anchor="mt")  # fmt: skip
    draw.text((8, margin_t - 20), "beta (direction 2)", fill=INK, font=font, anchor="lm")
    bar_x = margin_l + size + 20
    bar = apply_colormap(np.linspace(1, 0, size)[:, None].repeat(16, 1), "viridis")
    image.paste(Image.fromarray(bar), (bar_x, margin_t))
    for frac in (0.0, 0.5, 1.0):
        value = math.exp(lo + frac * (hi - lo))
        draw.text((bar_x + 20, margin_t + (1 - frac) * size), f"{value:.3g}", fill=INK, font=font,
                  anchor="lm")  # fmt: skip
    draw.text((bar_x, margin_t - 20), "loss", fill=INK, font=font, anchor="lm")
    return np.asarray(image)
