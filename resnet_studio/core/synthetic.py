"""The embedded default dataset: ten classes of small shape images, made in memory.

Why a synthetic set at all: the app must show the paper's degradation problem (Fig. 6:
a deeper *plain* net trains worse than a shallower one, while the residual net of the
same depth does not) on a laptop CPU in a few minutes, with no download. Real CIFAR-10
is too slow for that: after a few hundred iterations every 56-layer net is still near
chance. So the task here is easy enough that residual nets learn it within ~300
iterations, yet it needs real spatial features (shape and outline vs. fill), so that
what separates the nets is how well their depth can be optimised.

Design (all sizes scale with `image_size`, so 16 px and 32 px images look alike):
- label = shape (disk, square, triangle, cross, diamond) x style (solid, outline);
- nuisances that carry no label information: foreground and background colours, a
  smooth background colour gradient, position, scale, a small rotation, a distractor
  blob, and per-pixel Gaussian noise. Colour alone never predicts the class, so a net
  must look at shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NUM_CLASSES = 10
SHAPES = ("disk", "square", "triangle", "cross", "diamond")
STYLES = ("solid", "outline")
CLASS_NAMES = [f"{style} {shape}" for style in STYLES for shape in SHAPES]

_CHUNK = 2048  # images rendered at once: bounds the float32 scratch memory


@dataclass(frozen=True)
class Design:
    """The knobs of the generator, in pixels of a 16 px canvas (scaled to image_size)."""

    noise: float = 0.06  # std of per-pixel Gaussian noise, image range [0, 1]
    jitter: float = 1.5  # max shift of the shape centre
    radius: tuple[float, float] = (4.5, 6.5)  # shape size range
    outline: float = 1.0  # half-thickness of outlines
    max_angle: float = 0.25  # radians of random rotation
    blob: tuple[float, float] = (1.0, 1.5)  # distractor radius range
    background: float = 0.6  # spread of the corner colours around 0.5 (1 = full range)


DESIGN = Design()


def make_synthetic(
    n: int, image_size: int = 32, seed: int = 0, *, design: Design = DESIGN
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (uint8 [n,3,S,S]) and labels (int64 [n]), balanced over the 10 classes.

    Deterministic in (n, image_size, seed, design): the same call gives the same bytes
    on every run, because all randomness comes from one numpy PCG64 stream drawn in a
    fixed order (different numpy builds could round a rare edge pixel differently).
    """
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    rng = np.random.default_rng(seed)
    # Balanced classes in a random order: a slice of the set stays nearly balanced too.
    labels = rng.permutation(np.arange(n) % NUM_CLASSES)
    images = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        images[start:stop] = _render(labels[start:stop], image_size, rng, design)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def _render(labels: np.ndarray, size: int, rng: np.random.Generator, d: Design) -> np.ndarray:
    """Render one chunk; every random draw is made here in a fixed order."""
    n = len(labels)
    unit = size / 16.0  # the design is drawn on a 16 px canvas and scaled
    yy, xx = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32),
                         indexing="ij")
    centre = (size - 1) / 2.0

    background = _gradient_background(n, size, rng, d.background)
    bg_mean = background.mean(axis=(2, 3))
    foreground = _contrasting_colours(bg_mean, rng)

    # Shape pose: a small jitter keeps the shape inside the frame after the 4 px crop.
    cx = centre + rng.uniform(-d.jitter, d.jitter, n).astype(np.float32) * unit
    cy = centre + rng.uniform(-d.jitter, d.jitter, n).astype(np.float32) * unit
    radius = rng.uniform(*d.radius, n).astype(np.float32) * unit
    angle = rng.uniform(-d.max_angle, d.max_angle, n).astype(np.float32)  # radians: a nuisance, not a class
    x = xx[None] - cx[:, None, None]
    y = yy[None] - cy[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * x + sin * y, -sin * x + cos * y

    sd = _signed_distance(labels % len(SHAPES), u, v, radius[:, None, None])
    outline = (labels // len(SHAPES)) == 1
    thickness = d.outline * unit
    sd = np.where(outline[:, None, None], np.abs(sd) - thickness, sd)
    coverage = np.clip(0.5 - sd, 0.0, 1.0)[:, None]  # anti-aliased: 1 px soft edge

    # A label-independent distractor blob, drawn under the shape.
    bx = rng.uniform(0, size - 1, n).astype(np.float32)[:, None, None]
    by = rng.uniform(0, size - 1, n).astype(np.float32)[:, None, None]
    br = rng.uniform(*d.blob, n).astype(np.float32)[:, None, None] * unit
    blob = np.clip(br + 0.5 - np.hypot(xx[None] - bx, yy[None] - by), 0.0, 1.0)[:, None]
    blob_colour = rng.uniform(0.0, 1.0, (n, 3, 1, 1)).astype(np.float32)

    img = background * (1 - blob) + blob_colour * blob
    img = img * (1 - coverage) + foreground[:, :, None, None] * coverage
    img += rng.normal(0.0, d.noise, img.shape).astype(np.float32)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _gradient_background(n: int, size: int, rng: np.random.Generator,
                         spread: float) -> np.ndarray:
    """A random colour in each corner, blended bilinearly: smooth, label-free variation."""
    corners = 0.5 + spread * rng.uniform(-0.5, 0.5, (n, 3, 2, 2)).astype(np.float32)
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)
    top = corners[..., 0, :1] * (1 - t) + corners[..., 0, 1:] * t  # [n,3,S]
    bottom = corners[..., 1, :1] * (1 - t) + corners[..., 1, 1:] * t
    return top[:, :, None, :] * (1 - t)[:, None] + bottom[:, :, None, :] * t[:, None]


def _contrasting_colours(bg_mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random foreground colours at least 0.35 (RMS) away from the background mean.

    Without a floor on contrast some shapes would be invisible and their labels pure
    noise; the floor is set by pushing a too-close colour away from the background.
    """
    fg = rng.uniform(0.0, 1.0, bg_mean.shape).astype(np.float32)
    diff = fg - bg_mean
    dist = np.sqrt((diff**2).mean(axis=1, keepdims=True)) + 1e-6
    away = bg_mean + diff / dist * 0.35
    fg = np.where(dist < 0.35, np.where(away.min(1, keepdims=True) < 0, 1 - bg_mean, away), fg)
    return np.clip(fg, 0.0, 1.0)


def _signed_distance(shape: np.ndarray, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Approximate signed distance (pixels, <0 inside) of each sample's shape."""
    au, av = np.abs(u), np.abs(v)
    disk = np.hypot(u, v) - r
    square = np.maximum(au, av) - 0.8 * r
    diamond = (au + av) / np.sqrt(2.0) - 0.72 * r
    arm = 0.32 * r
    cross = np.minimum(np.maximum(au - r, av - arm), np.maximum(au - arm, av - r))
    # Equilateral triangle pointing up: the largest of three half-plane distances.
    s3 = np.sqrt(3.0) / 2.0
    triangle = np.maximum(np.maximum(-v, s3 * u + 0.5 * v), -s3 * u + 0.5 * v) - 0.5 * r
    table = np.stack([disk, square, triangle, cross, diamond])  # [5,n,S,S]
    return np.take_along_axis(table, shape[None, :, None, None], axis=0)[0]
