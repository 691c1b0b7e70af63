"""The batches one `RunTrainer` steps and evaluates on.

In-memory datasets (small images) are `DeviceBatches` on the training device, cropped,
flipped and normalised there; larger ones stream through DataLoader workers and are
normalised here, on the device. Training resumes at any iteration: in memory by
starting the epoch's permutation at that batch, streamed by skipping what was seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from resnet_studio.core import data as datasets
from resnet_studio.core.distributed import DistContext
from resnet_studio.core.errors import TrainingError
from resnet_studio.core.recipes import Recipe

__all__ = ["TrainerBatches"]


class TrainerBatches:
    """Training batches by iteration (`next`), evaluation batches by split (`evaluation`)."""

    def __init__(self, dataset: datasets.Dataset, recipe: Recipe, device: torch.device,
                 ctx: DistContext, channels_last: bool) -> None:  # fmt: skip
        self.dataset, self.recipe, self.device = dataset, recipe, device
        self.ctx, self.channels_last = ctx, channels_last
        self.train = self._make(train=True)
        self.per_epoch = len(self.train)
        self._iterator: Iterator | None = None
        self._eval_sources: dict[int, Any] = {}
        self._stream_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def _make(self, train: bool, split: Any = None) -> Any:
        split = self.dataset.train if split is None else split
        recipe, ctx = self.recipe, self.ctx
        if self.dataset.in_memory:
            return datasets.DeviceBatches(
                split, recipe.batch_size, self.device, train=train, augment=recipe.augment,
                normalize=self.dataset.normalize(recipe.normalization), seed=recipe.seed,
                drop_last=train, channels_last=self.channels_last,
                rank=ctx.rank, world_size=ctx.world_size,
            )
        if ctx.enabled:
            raise TrainingError("multi-GPU training streams only in-memory datasets for now")
        return datasets.make_loader(
            split, recipe.batch_size, train=train, image_size=self.dataset.image_size,
            workers=recipe.workers, seed=recipe.seed, pin_memory=self.device.type == "cuda",
        )

    def _epoch(self, epoch: int, start: int) -> Iterator:
        if self.dataset.in_memory:
            return self.train.epoch(epoch, start_batch=start)
        loader = iter(self.train)
        for _ in range(start):  # streamed data resumes by skipping what was seen
            next(loader)
        return loader

    def rewind(self) -> None:
        """Forget the position: the next batch is looked up from its iteration (a restore)."""
        self._iterator = None

    def next(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of `iteration` (0-based), on the device and normalised."""
        epoch, position = divmod(iteration, self.per_epoch)
        if self._iterator is None or position == 0:
            self._iterator = self._epoch(epoch, position)
        x, y = next(self._iterator)
        if not self.dataset.in_memory:
            x = self._normalize_streamed(x)
            y = y.to(self.device, non_blocking=True)
        return x, y

    def _normalize_streamed(self, x: torch.Tensor) -> torch.Tensor:
        if self._stream_stats is None:  # made once, not per batch
            self._stream_stats = tuple(
                torch.tensor(values, device=self.device).view(1, 3, 1, 1)
                for values in (self.dataset.mean, self.dataset.std)
            )
        mean, std = self._stream_stats
        x = x.to(self.device, non_blocking=True).float().div_(255).sub_(mean).div_(std)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def evaluation(self, split: Any) -> Iterator:
        """The batches of an evaluation split, in order, unaugmented."""
        # Built once per split: DeviceBatches moves its split to the device.
        batches = self._eval_sources.get(id(split))
        if batches is None:
            batches = self._eval_sources[id(split)] = self._make(train=False, split=split)
        if self.dataset.in_memory:
            return batches.epoch(0)
        return ((self._normalize_streamed(x), y.to(self.device)) for x, y in batches)
