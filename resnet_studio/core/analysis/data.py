"""The images an analysis runs on, read once through the evaluation data path.

A lesion study and a loss landscape both score one fixed set of labelled images
many times (once per lesion, once per point of the surface). They read it with
`core.evaluation.data.open_eval_data` (zip, folder or CIFAR, the checkpoint's own
preprocessing from `catalog.resolve_preprocessing`, `limit` spread over the classes),
map each dataset class onto the network's output as `eval` does, and keep the
normalised batches on the device, so the image data is decoded exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from resnet_studio.core.catalog import resolve_preprocessing
from resnet_studio.core.device import fast_layout
from resnet_studio.core.errors import DataError, WeightsError
from resnet_studio.core.evaluation import DecodeProgress, match_classes
from resnet_studio.core.evaluation.data import open_eval_data


@dataclass
class LabelledBatches:
    """Normalised images on the device with the network output each one should win."""

    split: str  # as `eval` names it: "test.zip (test split, 1000 images)"
    batches: list[tuple[torch.Tensor, torch.Tensor]]  # (x [B,3,S,S] channels_last, target [B])
    skipped: int  # files that would not decode (left out)

    @property
    def images(self) -> int:
        return sum(len(target) for _, target in self.batches)


def num_outputs(model: torch.nn.Module) -> int:
    """How many classes the network outputs (its `fc` layer)."""
    fc = getattr(model, "fc", None)
    if isinstance(fc, torch.nn.Linear):
        return int(fc.out_features)
    raise WeightsError("cannot tell how many classes this network outputs (no `fc` layer)")


def data_key(loaded: Any) -> tuple:
    """Two models with the same key can share one `LabelledBatches` (a model and its
    twin usually do: same preprocessing, same class names)."""
    prep = resolve_preprocessing(loaded.model_name, loaded.preprocessing)
    entry = getattr(loaded, "pretrained", None)
    interpolation = entry.interpolation if entry is not None else "bilinear"
    names = tuple(loaded.class_names) if loaded.class_names else None
    return (prep, interpolation, names, num_outputs(loaded.model))


def load_batches(
    loaded: Any,
    dataset: str,
    *,
    images: int | None,
    batch_size: int,
    device: torch.device,
    data_root: str | os.PathLike | None = None,
    on_event: Callable[[Any], None] | None = None,
) -> LabelledBatches:
    """`images` of `dataset` (None: all) for the LoadResult `loaded`, as batches of
    `batch_size` on `device`; `on_event` gets `DecodeProgress` and may raise to stop."""
    if batch_size < 1:
        raise DataError(f"the batch size must be at least 1, got {batch_size}")
    if images is not None and images < 1:
        raise DataError(f"--images must be at least 1, got {images}")
    emit = on_event or (lambda event: None)
    prep, interpolation, _, outputs = data_key(loaded)
    data = open_eval_data(
        dataset, prep.input_size, limit=images, root=data_root,
        progress=lambda done, total: emit(DecodeProgress(done, total)),
        check=lambda names: match_classes(names, loaded.class_names, outputs),
    )  # fmt: skip
    match = match_classes(data.class_names, loaded.class_names, outputs)
    target_of = torch.tensor(match.outputs, device=device)
    layout = fast_layout(device)
    batches = []
    skipped = data.skipped
    for x, y in data.batches(prep, batch_size, device, interpolation, workers=None):
        ok = y >= 0
        skipped += int((~ok).sum())
        if bool(ok.any()):
            batches.append((x[ok].contiguous(memory_format=layout), target_of[y[ok]]))
    if not batches:
        raise DataError(f"{dataset} gave no image that could be decoded.")
    return LabelledBatches(data.name, batches, skipped)
