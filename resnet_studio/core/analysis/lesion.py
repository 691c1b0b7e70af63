"""Lesion study (Veit et al. 2016): the test error with blocks removed at test time.

Removing a residual block zeroes its residual branch, so the block becomes its
shortcut: the identity, or for a downsampling block its option-A padding or option-B
projection (the shortcut stays). A plain net's block is skipped (its input passed on)
where its input and output shapes match; the blocks that change shape cannot be
removed and are reported as such.

`lesioned(model, names)` removes blocks with forward hooks for any forward pass and
takes them off afterwards. The study itself runs a faster walk over the blocks that
computes the same numbers (the tests check both against a net whose branch is zeroed
through its last BN): every lesion set is scored with one forward pass per batch,
the sets are visited in the lexicographic order of their membership, and each pass
starts from the cached input of the first block where the set differs from the one
before, so sets share the work of the blocks in front of their first change.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from resnet_studio.core.analysis.data import LabelledBatches
from resnet_studio.core.analysis.events import AnalysisProgress
from resnet_studio.core.errors import StudioError
from resnet_studio.core.models.blocks import BasicBlock, Bottleneck

CACHE_BUDGET_BYTES = 768 * 2**20  # block inputs kept per batch; bounds the batch size


@dataclass
class LesionResult:
    """The errors of one network with blocks removed; plain values only (percent)."""

    model: str
    weights: str
    split: str
    images: int
    blocks: list[str]  # "layer1.0", ... in forward order
    skippable: list[bool]  # False: a plain block that changes shape
    error: float  # top-1 error with every block in place
    single: list[float | None]  # error with block i removed (None: cannot be)
    removed_k: list[list[float]]  # [k - 1][draw]: error with k random blocks removed
    draws: int
    seed: int
    path_lengths: list[int]  # paths through the net of each length 0..n blocks
    seconds: float
    device: str

    @property
    def not_skippable(self) -> list[str]:
        return [name for name, ok in zip(self.blocks, self.skippable, strict=True) if not ok]

    @property
    def mean_k(self) -> list[float]:
        """Mean error over the draws for k = 1, 2, ... removed blocks."""
        return [sum(errors) / len(errors) for errors in self.removed_k]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["not_skippable"], out["mean_k"] = self.not_skippable, self.mean_k
        return out


# ---------------------------------------------------------------------------- blocks


def named_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The network's blocks with their module names, in forward order."""
    blocks = getattr(model, "blocks", None)
    if not callable(blocks):
        raise StudioError("a lesion study needs a network of the zoo (a ResNet or plain net)")
    names = {id(module): name for name, module in model.named_modules()}
    return [(names[id(block)], block) for block in blocks()]


def block_shapes(model: nn.Module, input_size: int) -> list[tuple[tuple, tuple]]:
    """(input shape, output shape) of each block, without the batch axis, from one
    forward pass of a blank image."""
    shapes: list[tuple[tuple, tuple]] = []

    def record(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        shapes.append((tuple(args[0].shape[1:]), tuple(output.shape[1:])))

    device = next(model.parameters()).device
    handles = [block.register_forward_hook(record) for _, block in named_blocks(model)]
    try:
        with torch.inference_mode(), _eval_mode(model):
            model(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def skippable(model: nn.Module, input_size: int) -> list[bool]:
    """Whether each block can be removed: every residual block (its shortcut stays),
    and the plain blocks whose input and output shapes match."""
    return [block.has_shortcut or shape_in == shape_out
            for (_, block), (shape_in, shape_out)
            in zip(named_blocks(model), block_shapes(model, input_size), strict=True)]  # fmt: skip


def shortcut_output(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What `block` outputs once removed: its shortcut, through the block's final ReLU
    (x for an identity, the padding or projection of a downsampling block), or for a
    plain block x itself. The branch is not computed at all."""
    if not block.has_shortcut:
        return x
    if type(block) in (BasicBlock, Bottleneck):  # act(F(x) + s(x)) with F = 0
        return torch.relu(x if block.downsample is None else block.downsample(x))
    with _branch_zeroed(block):  # a block kind this module does not know: exact, slower
        return block(x)


@contextmanager
def lesioned(model: nn.Module, names: Iterable[str]) -> Iterator[nn.Module]:
    """Within the block, forward passes of `model` run with the blocks `names` removed
    (forward hooks; taken off on exit, whatever happens). A plain block that changes
    shape raises StudioError when the forward pass reaches it."""
    blocks = dict(named_blocks(model))
    handles = []
    try:
        for name in names:
            if name not in blocks:
                raise StudioError(f"{name!r} is not a block of this network; blocks: "
                                  f"{', '.join(blocks)}")  # fmt: skip
            block = blocks[name]
            if block.has_shortcut:
                handles.append(block.residual.register_forward_hook(_zero_output))
            else:
                handles.append(block.register_forward_hook(_skipped(name)))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def _zero_output(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(output)


def _skipped(name: str) -> Callable:
    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        if args[0].shape != output.shape:
            raise StudioError(f"block {name} changes the shape {tuple(args[0].shape[1:])} -> "
                              f"{tuple(output.shape[1:])}: a plain net cannot skip it")  # fmt: skip
        return args[0]

    return hook


@contextmanager
def _branch_zeroed(block: nn.Module) -> Iterator[None]:
    handle = block.residual.register_forward_hook(_zero_output)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------- paths


def path_length_counts(residual: int, plain: int = 0) -> list[int]:
    """How many of the 2**residual paths through the net have each length 0..n (n =
    residual + plain blocks): each residual block is taken through its branch or its
    shortcut, each plain block always (Veit et al., section 4: binomial)."""
    counts = [0] * (residual + plain + 1)
    for k in range(residual + 1):
        counts[plain + k] = math.comb(residual, k)
    return counts


def random_lesions(candidates: Sequence[int], draws: int, seed: int) -> list[list[frozenset[int]]]:
    """[draw][k - 1]: the blocks removed for k = 1..len(candidates). Each draw is one
    random order of the candidates and removes its first k, so one draw's curve is
    one net losing blocks one at a time; every k-set is uniform over k-subsets."""
    rng = random.Random(seed)
    out = []
    for _ in range(draws):
        order = rng.sample(list(candidates), len(candidates))
        out.append([frozenset(order[:k]) for k in range(1, len(order) + 1)])
    return out


# ---------------------------------------------------------------------------- the study


def lesion_errors(model: nn.Module, data: LabelledBatches, sets: Sequence[frozenset[int]],
                  on_pass: Callable[[int, int], None] | None = None) -> list[float]:  # fmt: skip
    """Top-1 error (percent) of `model` on `data` with each set of block indices
    removed, by the cached walk; `on_pass(done, total)` after each pass may raise."""
    unique = _trie_order(sets, len(named_blocks(model)))
    device = data.batches[0][0].device
    correct = torch.zeros(len(unique), dtype=torch.long, device=device)
    total, done = len(unique) * len(data.batches), 0
    with torch.inference_mode(), _eval_mode(model):
        for x, target in data.batches:
            for i, logits in enumerate(_walk(model, x, unique)):
                correct[i] += (logits.argmax(1) == target).sum()
                done += 1
                if on_pass is not None:
                    on_pass(done, total)
    counts = dict(zip(unique, correct.tolist(), strict=True))  # the one sync of the study
    return [100.0 - 100.0 * counts[s] / data.images for s in sets]


def lesion_outputs(model: nn.Module, x: torch.Tensor,
                   sets: Sequence[frozenset[int]]) -> list[torch.Tensor]:  # fmt: skip
    """The logits of `model` on the batch `x` with each set of block indices removed,
    by the same walk as `lesion_errors`."""
    unique = _trie_order(sets, len(named_blocks(model)))
    with torch.inference_mode(), _eval_mode(model):
        by_set = dict(zip(unique, _walk(model, x, unique), strict=True))
    return [by_set[s] for s in sets]


def _trie_order(sets: Iterable[frozenset[int]], n: int) -> list[frozenset[int]]:
    """The distinct sets in the lexicographic order of their membership vectors, so
    that consecutive sets agree on the longest run of leading blocks."""
    return sorted(set(sets), key=lambda s: [j in s for j in range(n)])


def _walk(
    model: nn.Module, x: torch.Tensor, ordered: Sequence[frozenset[int]]
) -> Iterator[torch.Tensor]:
    """The logits for each set of `ordered`, in order. Each pass starts at the first
    block where its set differs from the previous one, from that block's input as the
    previous pass computed it (`cache`); the work in front of it is shared."""
    blocks = [block for _, block in named_blocks(model)]
    cache: list[Any] = [None] * len(blocks)  # input of block j under `previous`
    cache[0] = _first_block_input(model, blocks[0], x)
    previous: frozenset[int] | None = None
    for s in ordered:
        start = 0 if previous is None else min(s ^ previous)
        y = cache[start]
        for j in range(start, len(blocks)):
            cache[j] = y
            y = shortcut_output(blocks[j], y) if j in s else blocks[j](y)
        yield model.forward_head(y)
        previous = s


class _Reached(Exception):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x


def _first_block_input(model: nn.Module, first: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The stem's output, from the model's own forward stopped at its first block."""

    def stop(module: nn.Module, args: tuple) -> None:
        raise _Reached(args[0])

    handle = first.register_forward_pre_hook(stop)
    try:
        model(x)
    except _Reached as reached:
        return reached.x
    finally:
        handle.remove()
    raise StudioError("the network's forward pass never reached its first block")


def lesion_study(
    model: nn.Module,
    data: LabelledBatches,
    *,
    input_size: int,
    draws: int = 3,
    seed: int = 0,
    name: str = "?",
    weights: str = "",
    on_event: Callable[[Any], None] | None = None,
) -> LesionResult:
    """Every single-block lesion, `draws` random orders of removal for k = 1..n, and
    the intact net, on `data` (model on the batches' device)."""
    if draws < 0:
        raise StudioError(f"--draws must be 0 or more, got {draws}")
    start = time.perf_counter()
    blocks = named_blocks(model)
    ok = skippable(model, input_size)
    candidates = [i for i, can in enumerate(ok) if can]
    draws_sets = random_lesions(candidates, draws, seed)
    sets = [frozenset(), *(frozenset([i]) for i in candidates),
            *(s for draw in draws_sets for s in draw)]  # fmt: skip
    emit = on_event or (lambda event: None)
    errors = lesion_errors(
        model, data, sets, lambda done, total: emit(AnalysisProgress("lesion", name, done, total))
    )
    by_set = dict(zip(sets, errors, strict=True))
    single = [by_set[frozenset([i])] if can else None for i, can in enumerate(ok)]
    removed_k = [[by_set[draw[k]] for draw in draws_sets] for k in range(len(candidates))]
    if not draws:
        removed_k = []
    residual = sum(1 for _, block in blocks if block.has_shortcut)
    return LesionResult(
        model=name, weights=weights, split="", images=data.images,
        blocks=[n for n, _ in blocks], skippable=ok, error=by_set[frozenset()], single=single,
        removed_k=removed_k, draws=draws, seed=seed,
        path_lengths=path_length_counts(residual, len(blocks) - residual),
        seconds=time.perf_counter() - start, device=str(data.batches[0][0].device),
    )  # fmt: skip


def cache_batch_size(model: nn.Module, input_size: int, batch_size: int) -> int:
    """`batch_size`, lowered so the walk's cache of block inputs fits CACHE_BUDGET_BYTES
    (ImageNet nets at 224 px keep ~50 MB of them per image)."""
    per_image = sum(math.prod(shape_in) * 4 for shape_in, _ in block_shapes(model, input_size))
    return max(1, min(batch_size, CACHE_BUDGET_BYTES // max(per_image, 1)))
