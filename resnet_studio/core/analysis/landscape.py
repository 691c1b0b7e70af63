"""The loss landscape (Li et al. 2018) along filter-normalised random directions.

A direction d has the shape of every parameter θ. For a conv or linear weight, d is
Gaussian and each filter (output channel) of d is rescaled to the norm of θ's filter,
d_i ← d_i / ‖d_i‖ · ‖θ_i‖, so a step of 1 moves every filter by its own size and
nets of any scale are comparable. BN weights and biases and every bias get
direction 0 (the paper's "ignore biasbn"); BN running statistics stay as trained and
BN runs in eval mode. The loss and accuracy at θ + αd (1D) or θ + αd₁ + βd₂ (2D) are
averaged over a fixed set of training images.

The model's parameters are never written: each point is evaluated with
`torch.func.functional_call` on the shifted tensors. Seeded: the same seed gives the
same directions and, on the same device, the same surface bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from resnet_studio.core.analysis.data import LabelledBatches
from resnet_studio.core.analysis.events import AnalysisProgress
from resnet_studio.core.errors import StudioError

Direction = dict[str, torch.Tensor]


@dataclass
class LandscapeResult:
    """Loss and accuracy over a 1D line or 2D grid of one network; plain values."""

    model: str
    weights: str
    split: str
    images: int
    dims: int  # 1 or 2
    seed: int
    alphas: list[float]  # steps along direction 1
    betas: list[float]  # steps along direction 2 (empty in 1D)
    loss: list  # 1D: [alpha]; 2D: [beta][alpha]; mean cross-entropy
    accuracy: list  # the same shape, top-1 percent
    seconds: float
    device: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def origin_loss(self) -> float:
        """The loss at the trained weights (the grid's centre)."""
        i = self.alphas.index(0.0)
        return self.loss[i] if self.dims == 1 else self.loss[self.betas.index(0.0)][i]


def steps(points: int, span: float = 1.0) -> list[float]:
    """`points` evenly spaced values in [-span, span]; 0 is exactly one of them."""
    if points < 3 or points % 2 == 0:
        raise StudioError(
            f"--points must be odd and at least 3 (0 is the middle one), got {points}"
        )
    if not span > 0:
        raise StudioError(f"--span must be positive, got {span}")
    half = points - 1
    return [span * (2 * i - half) / half for i in range(points)]


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> Direction:
    """A random direction of `model`'s parameters, filter-normalised (module doc).
    Drawn on the CPU from `generator`, so a seed gives the same one on any device."""
    direction: Direction = {}
    for name, theta in model.named_parameters():
        if theta.dim() <= 1:  # BN weights and biases, every bias: not moved
            direction[name] = torch.zeros_like(theta)
            continue
        d = torch.randn(theta.shape, generator=generator, dtype=torch.float32)
        d = d.to(device=theta.device, dtype=theta.dtype)
        dims = tuple(range(1, theta.dim()))
        norm = torch.linalg.vector_norm
        d = d * (
            norm(theta.detach(), dim=dims, keepdim=True) / (norm(d, dim=dims, keepdim=True) + 1e-10)
        )
        direction[name] = torch.empty_like(theta).copy_(d)  # the weight's memory layout
    return direction


def directions(model: nn.Module, dims: int, seed: int) -> list[Direction]:
    """`dims` (1 or 2) filter-normalised directions drawn from one generator."""
    if dims not in (1, 2):
        raise StudioError(f"--dims must be 1 or 2, got {dims}")
    generator = torch.Generator().manual_seed(seed)
    return [filter_normalized_direction(model, generator) for _ in range(dims)]


def loss_surface(
    model: nn.Module,
    data: LabelledBatches,
    dirs: Sequence[Direction],
    points: Sequence[Sequence[float]],
    on_pass: Callable[[int, int], None] | None = None,
) -> tuple[list[float], list[float]]:
    """Mean cross-entropy and top-1 percent at θ + Σ c_k d_k for each coefficient
    tuple of `points`; batches are the outer loop, so the images are read once."""
    theta = {name: p.detach() for name, p in model.named_parameters()}
    moving = [name for name in theta if any(bool(d[name].any()) for d in dirs)]
    buffers = dict(model.named_buffers())
    device = data.batches[0][0].device
    loss_sum = torch.zeros(len(points), dtype=torch.float64, device=device)
    correct = torch.zeros(len(points), dtype=torch.long, device=device)
    total, done = len(points) * len(data.batches), 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for x, target in data.batches:
                for i, coefficients in enumerate(points):
                    shifted = dict(theta)
                    for name in moving:
                        value = theta[name]
                        for c, d in zip(coefficients, dirs, strict=True):
                            value = value + c * d[name]
                        shifted[name] = value
                    logits = functional_call(model, (shifted, buffers), (x,))
                    loss_sum[i] += F.cross_entropy(logits.float(), target, reduction="sum").double()
                    correct[i] += (logits.argmax(1) == target).sum()
                    done += 1
                    if on_pass is not None:
                        on_pass(done, total)
    finally:
        model.train(was_training)
    images = data.images
    return ((loss_sum / images).tolist(), (100.0 * correct.double() / images).tolist())


def loss_landscape(
    model: nn.Module,
    data: LabelledBatches,
    *,
    dims: int = 1,
    points: int = 51,
    span: float = 1.0,
    seed: int = 0,
    name: str = "?",
    weights: str = "",
    on_event: Callable[[Any], None] | None = None,
) -> LandscapeResult:
    """The 1D line (`points` steps in [-span, span]) or 2D grid (`points` x `points`)."""
    start = time.perf_counter()
    alphas = steps(points, span)
    dirs = directions(model, dims, seed)
    betas = alphas if dims == 2 else []
    grid = [(a,) for a in alphas] if dims == 1 else [(a, b) for b in betas for a in alphas]
    emit = on_event or (lambda event: None)
    loss, accuracy = loss_surface(
        model,
        data,
        dirs,
        grid,
        lambda done, total: emit(AnalysisProgress("landscape", name, done, total)),
    )
    if dims == 2:
        n = len(alphas)
        loss = [loss[r * n : (r + 1) * n] for r in range(n)]
        accuracy = [accuracy[r * n : (r + 1) * n] for r in range(n)]
    return LandscapeResult(
        model=name, weights=weights, split="", images=data.images, dims=dims, seed=seed,
        alphas=alphas, betas=list(betas), loss=loss, accuracy=accuracy,
        seconds=time.perf_counter() - start, device=str(data.batches[0][0].device),
    )  # fmt: skip
