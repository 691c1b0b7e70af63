"""Small-image batches shuffled, cropped, flipped and normalised on the device."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from resnet_studio.core.data.containers import ImageTensors, Normalize
from resnet_studio.core.errors import DataError

# --------------------------------------------------------------------------- device batches


def crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor,
              pad: int) -> torch.Tensor:
    """Zero-pad by `pad`, crop back to size at per-sample offsets, then mirror where flipped.

    One advanced-indexing gather does crop and flip for the whole batch (no Python per
    sample). offsets: int [B,2] (row, col) in [0, 2*pad]; an offset of (pad, pad) is the
    uncropped image. The result has channels_last strides; call `.contiguous()` for NCHW.
    """
    b, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    dev = images.device
    rows = offsets[:, :1] + torch.arange(h, device=dev)  # [B,H]
    cols = torch.arange(w, device=dev).expand(b, w)
    cols = offsets[:, 1:] + torch.where(flips[:, None], w - 1 - cols, cols)  # [B,W]
    batch = torch.arange(b, device=dev)[:, None, None]
    # Advanced indices around a slice: the result is [B,H,W,C].
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 63-bit seed for one epoch, so nearby (seed, epoch) pairs are unrelated."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0] >> 1)


class DeviceBatches:
    """Batches of an in-memory split, shuffled and augmented on the training device.

    The whole split is moved to `device` once as uint8. Each epoch draws, on CPU from a
    generator seeded by (seed, epoch), one permutation and one crop offset and flip bit
    per *position* in the epoch; so the batches of an epoch are the same on every run and
    `epoch(e, start_batch=k)` yields exactly the tail of `epoch(e)` (exact resume).

    train=True shuffles and (unless augment=False) pads by `pad`, crops back at random and
    flips at random (section 4.2); train=False keeps the order and the images as they are.

    batch_size is the global batch: with `world_size` > 1 each rank gets a disjoint
    contiguous slice of batch_size // world_size of every global batch, so DDP sees the
    very batches a single process would.
    """

    def __init__(
        self,
        data: ImageTensors,
        batch_size: int,
        device: torch.device | str,
        *,
        train: bool,
        normalize: Normalize,
        seed: int = 0,
        drop_last: bool | None = None,
        channels_last: bool = False,
        augment: bool = True,
        pad: int = 4,
        flip: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1 or batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be a positive multiple of "
                             f"world_size {world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} must be in [0, {world_size})")
        if normalize.kind == "per-pixel" and normalize.mean_image.shape != data.images.shape[1:]:
            raise DataError(f"The mean image is {tuple(normalize.mean_image.shape)} but the "
                            f"images are {tuple(data.images.shape[1:])}: compute the mean image "
                            "of this training set (Dataset.normalize) or use 'per-channel'.")
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.augment = train and augment and (pad > 0 or flip)
        self.drop_last = train if drop_last is None else drop_last
        self.channels_last, self.pad, self.flip = channels_last, pad, flip
        self.rank, self.world_size = rank, world_size
        self._norm = normalize.to(self.device)

    def __len__(self) -> int:
        n, b = len(self.labels), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (x float32 [b,3,H,W], y int64 [b]) on the device for batches start_batch.."""
        n = len(self.labels)
        order, offsets, flips = self._plan(epoch)
        for i in range(start_batch, len(self)):
            lo, hi = i * self.batch_size, min(n, (i + 1) * self.batch_size)
            lo, hi = self._shard(lo, hi)
            idx = order[lo:hi]
            x = self._norm(self.images[idx])
            if self.augment:
                x = crop_flip(x, offsets[lo:hi], flips[lo:hi], self.pad)
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            yield x.contiguous(memory_format=fmt), self.labels[idx]

    def _plan(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Order, crop offsets and flips for every position of the epoch, on the device."""
        n = len(self.labels)
        if not self.train:
            order = torch.arange(n)
            return order.to(self.device), order, order  # offsets/flips unused in eval
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        order = torch.randperm(n, generator=gen)
        offsets = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=gen)
        flips = torch.randint(0, 2, (n,), generator=gen).bool() & self.flip
        return order.to(self.device), offsets.to(self.device), flips.to(self.device)

    def _shard(self, lo: int, hi: int) -> tuple[int, int]:
        if self.world_size == 1:
            return lo, hi
        per = -(-(hi - lo) // self.world_size)  # a short last batch splits as evenly as can be
        start = min(hi, lo + self.rank * per)
        return start, min(hi, start + per)
