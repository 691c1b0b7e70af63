"""F(x), x and F(x) + x of a block: the paper's central idea made visible.

A residual block computes H(x) = ReLU(F(x) + x). Section 3.1 argues that when the
identity is close to optimal the solver drives F(x) towards zero, so ||F(x)|| / ||x||
should be small in trained nets (Figure 7 measures the same thing through response
stds). `residual_view` shows one block; `residual_profile` gives the ratio of every
block from one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from resnet_studio.core.errors import StudioError
from resnet_studio.core.inspect._common import (
    as_batch,
    block_names,
    check_resnet,
    evaluating,
    to_numpy,
)
from resnet_studio.core.models import forward_intermediates

PLAIN_NOTE = (
    "plain net: this block has no shortcut, so there is no x to add; "
    "its output is ReLU(F(x)) and F(x) must carry the whole signal"
)


@dataclass(frozen=True)
class Magnitude:
    """Size of one tensor: mean |v|, L2 norm and standard deviation of its values."""

    mean_abs: float
    l2: float
    std: float

    @classmethod
    def of(cls, t: torch.Tensor) -> Magnitude:
        t = t.double()
        return cls(float(t.abs().mean()), float(torch.linalg.vector_norm(t)), float(t.std(correction=0)))


@dataclass(frozen=True)
class ResidualView:
    """One block for one image (CPU numpy, float32 [C, H, W] each).

    identity is None for plain nets (see `note`); then `ratio` is None too.
    ratio = ||F(x)||_2 / ||x||_2 over the whole block output: below 1 the block
    only nudges its input, which is what the paper expects of deep residual nets.
    """

    block: str
    residual: np.ndarray  # F(x), the branch after its last BN
    identity: np.ndarray | None  # x as the shortcut delivers it (padded/projected)
    sum: np.ndarray  # F(x) + x, before the final ReLU (plain: F(x))
    output: np.ndarray  # ReLU(sum), the block's output
    residual_magnitude: Magnitude
    identity_magnitude: Magnitude | None
    sum_magnitude: Magnitude
    ratio: float | None
    note: str = ""

    def to_dict(self) -> dict:
        """The numbers only (no arrays), e.g. for JSON."""
        def mag(m: Magnitude | None) -> dict | None:
            return None if m is None else {"mean_abs": m.mean_abs, "l2": m.l2, "std": m.std}

        return {"block": self.block, "residual": mag(self.residual_magnitude),
                "identity": mag(self.identity_magnitude), "sum": mag(self.sum_magnitude),
                "ratio": self.ratio, "note": self.note}


def _check_block(model: nn.Module, block: str) -> nn.Module:
    names = block_names(model)
    if block not in names:
        raise StudioError(
            f"{block!r} is not a block of this network; residual views need a block "
            f"such as {names[0]!r} or {names[-1]!r}"
        )
    return model.get_submodule(block)


def residual_view(model: nn.Module, x: torch.Tensor, block: str) -> ResidualView:
    """F(x), x, their sum and the block output for `block` (e.g. "layer2.0")."""
    check_resnet(model)
    module = _check_block(model, block)
    names = [f"{block}.residual", f"{block}.sum", block]
    if module.has_shortcut:
        names.append(f"{block}.identity")
    with evaluating(model), torch.inference_mode():
        _, out = forward_intermediates(model, as_batch(model, x, single=True), names)
        residual, total, output = out[names[0]][0], out[names[1]][0], out[block][0]
        identity = out[f"{block}.identity"][0] if module.has_shortcut else None
        res_m, sum_m = Magnitude.of(residual), Magnitude.of(total)
        id_m = Magnitude.of(identity) if identity is not None else None
        return ResidualView(
            block=block,
            residual=to_numpy(residual),
            identity=None if identity is None else to_numpy(identity),
            sum=to_numpy(total),
            output=to_numpy(output),
            residual_magnitude=res_m,
            identity_magnitude=id_m,
            sum_magnitude=sum_m,
            ratio=None if id_m is None else _ratio(res_m.l2, id_m.l2),
            note="" if module.has_shortcut else PLAIN_NOTE,
        )


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("inf")


@dataclass(frozen=True)
class ResidualProfile:
    """||F(x)|| / ||x|| of every block, network order (None for plain blocks)."""

    blocks: list[str]
    residual_l2: np.ndarray  # [B] float64
    identity_l2: np.ndarray  # [B] float64, NaN for plain blocks
    ratio: np.ndarray  # [B] float64, NaN for plain blocks


def residual_profile(model: nn.Module, x: torch.Tensor) -> ResidualProfile:
    """The residual-to-identity ratio of every block for image `x`, in one forward."""
    check_resnet(model)
    blocks = block_names(model)
    names = [f"{b}.residual" for b in blocks]
    names += [f"{b}.identity" for b in blocks if model.get_submodule(b).has_shortcut]
    with evaluating(model), torch.inference_mode():
        _, out = forward_intermediates(model, as_batch(model, x, single=True), names)
        norm = lambda n: float(torch.linalg.vector_norm(out[n][0].double())) if n in out else np.nan  # noqa: E731
        res = np.array([norm(f"{b}.residual") for b in blocks])
        ident = np.array([norm(f"{b}.identity") for b in blocks])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = res / ident
    return ResidualProfile(blocks, res, ident, ratio)
