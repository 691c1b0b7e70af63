"""What the inspection functions share: eval mode, input checks, name lookups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from resnet_studio.core.errors import StudioError


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Run in eval mode (BN with running statistics, as a trained net is used) and
    put the model back in the mode it was in, so an inspection never changes a
    model that a training loop elsewhere holds."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def as_batch(model: nn.Module, x: torch.Tensor, *, single: bool) -> torch.Tensor:
    """[3, H, W] or [N, 3, H, W] on the model's device; with `single` only the first
    image is kept (the per-image views show one image at a time)."""
    if not isinstance(x, torch.Tensor) or x.ndim not in (3, 4) or x.shape[-3] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise StudioError(f"expected a preprocessed image [3, H, W] or batch [N, 3, H, W], got {shape}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.shape[0] == 0:
        raise StudioError("no image to inspect: the batch is empty")
    if single:
        x = x[:1]
    return x.to(model_device(model), torch.float32)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 CPU copy: results never hold tensors (and never CUDA memory)."""
    return tensor.detach().to("cpu", torch.float32).numpy()


def block_names(model: nn.Module) -> list[str]:
    """Every residual (or plain) block, e.g. ["layer1.0", "layer1.1", ...]."""
    return [f"{stage}.{i}" for stage in model.stage_names for i in range(len(getattr(model, stage)))]


def block_of(model: nn.Module, name: str) -> str | None:
    """The block `name` is or lies in ("layer2.0.bn1" -> "layer2.0"), else None."""
    parts = name.split(".")
    candidate = ".".join(parts[:2])
    return candidate if len(parts) >= 2 and candidate in set(block_names(model)) else None


def check_resnet(model: nn.Module) -> None:
    if not hasattr(model, "stage_names"):
        raise StudioError("inspection needs a network of the zoo (create_model or load_weights)")
