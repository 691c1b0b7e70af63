"""From a loaded model (a `core.weights.LoadResult`) and a dataset spec to a result.

What the CLI and the window call: read the images once (`data.load_batches`), put
the network on the device in channels_last (oneDNN's convolutions are ~1.4x faster
in it on the CPU here, as in `eval`), run the analysis, and give the model back in
its usual layout. `data` lets a model and its twin share the decoded batches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from resnet_studio.core.analysis.data import LabelledBatches, load_batches
from resnet_studio.core.analysis.landscape import LandscapeResult, loss_landscape, steps
from resnet_studio.core.analysis.lesion import LesionResult, cache_batch_size, lesion_study
from resnet_studio.core.catalog import resolve_preprocessing
from resnet_studio.core.errors import StudioError

OnEvent = Callable[[Any], None]


@contextmanager
def on_device(loaded: Any, device: str | torch.device) -> Iterator[torch.nn.Module]:
    """The loaded network on `device`, channels_last inside the block."""
    from resnet_studio.core.device import fast_layout, resolve_device

    dev = resolve_device(device) if isinstance(device, str) else device
    model = loaded.model.to(dev)
    model.to(memory_format=fast_layout(dev))
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)


def lesion_batch_size(loaded: Any, batch_size: int) -> int:
    """The batch size a lesion study of `loaded` runs with (its cache bounds it)."""
    prep = resolve_preprocessing(loaded.model_name, loaded.preprocessing)
    return cache_batch_size(loaded.model, prep.input_size, batch_size)


def lesion_loaded(
    loaded: Any, dataset: str, *, images: int | None = 1000, draws: int = 3, seed: int = 0,
    batch_size: int = 250, device: str = "auto", data_root: str | os.PathLike | None = None,
    data: LabelledBatches | None = None, on_event: OnEvent | None = None,
) -> LesionResult:  # fmt: skip
    """`core.analysis.lesion.lesion_study` of `loaded` on `images` of `dataset`."""
    if draws < 0:
        raise StudioError(f"--draws must be 0 or more, got {draws}")
    prep = resolve_preprocessing(loaded.model_name, loaded.preprocessing)
    with on_device(loaded, device) as model:
        dev = next(model.parameters()).device
        if data is None:
            data = load_batches(loaded, dataset, images=images, device=dev, data_root=data_root,
                                batch_size=lesion_batch_size(loaded, batch_size), on_event=on_event)  # fmt: skip
        result = lesion_study(model, data, input_size=prep.input_size, draws=draws, seed=seed,
                              name=loaded.model_name or "?", weights=str(loaded.source),
                              on_event=on_event)  # fmt: skip
    result.split = data.split
    return result


def landscape_loaded(
    loaded: Any, dataset: str, *, dims: int = 1, points: int = 51, span: float = 1.0,
    images: int | None = 2000, seed: int = 0, batch_size: int = 500, device: str = "auto",
    data_root: str | os.PathLike | None = None, data: LabelledBatches | None = None,
    on_event: OnEvent | None = None,
) -> LandscapeResult:  # fmt: skip
    """`core.analysis.landscape.loss_landscape` of `loaded` on `images` of `dataset`."""
    steps(points, span)  # bad arguments fail before any image is decoded
    if dims not in (1, 2):
        raise StudioError(f"--dims must be 1 or 2, got {dims}")
    with on_device(loaded, device) as model:
        dev = next(model.parameters()).device
        if data is None:
            data = load_batches(loaded, dataset, images=images, batch_size=batch_size,
                                device=dev, data_root=data_root, on_event=on_event)  # fmt: skip
        result = loss_landscape(model, data, dims=dims, points=points, span=span, seed=seed,
                                name=loaded.model_name or "?", weights=str(loaded.source),
                                on_event=on_event)  # fmt: skip
    result.split = data.split
    return result
