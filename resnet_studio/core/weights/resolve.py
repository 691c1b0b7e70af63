"""What `--model M [--weights W]` means: the one answer the CLI and the window share.

M is a zoo name (`resnet50`) or a pretrained catalog name (`resnet18_8xb16_cifar10`,
which means "that network with those weights", class names and preprocessing
included). W is a weight file, `torchvision[:ENUM]`, a pretrained name, or a run of
the run store (its folder or name: its latest checkpoint). predict, inspect, eval,
export and the window all call `resolve_model_and_weights`, so a name means the same
everywhere.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from resnet_studio.core.catalog import parse_name
from resnet_studio.core.errors import ModelNameError, StudioError, WeightsError
from resnet_studio.core.weights import torchvision_hub as hub
from resnet_studio.core.weights.download import Progress
from resnet_studio.core.weights.loading import LoadResult, load_weights
from resnet_studio.core.weights.pretrained import (
    get_pretrained,
    is_pretrained_name,
    pretrained_names,
)
from resnet_studio.core.weights.shipped import RANDOM, ShippedWeights, shipped_weights


def network_name(model: str) -> str:
    """The zoo name behind a model argument (a pretrained name gives its network's),
    so a misspelt name fails before any image is read. The error suggests close zoo
    and catalog names alike."""
    if is_pretrained_name(model):
        return get_pretrained(model).model
    try:
        return parse_name(model).name
    except ModelNameError as exc:
        close = difflib.get_close_matches(model.strip(), pretrained_names(), n=3, cutoff=0.6)
        if not close:
            raise
        raise ModelNameError(
            f"{exc} Pretrained checkpoints with a close name: {', '.join(close)} "
            "(`resnet-studio pretrained` lists them)."
        ) from None


def resolve_model_and_weights(
    model: str | None,
    weights: str | os.PathLike | None = None,
    *,
    progress: Progress | None = None,
    runs_dir: str | os.PathLike | None = None,
    require_weights: bool = False,
) -> LoadResult | None:
    """The model `model` names with the weights `weights` names, loaded.

    - a pretrained name as `model` (and no `weights`, or the same name): that
      checkpoint, downloaded once into torch.hub's cache;
    - a zoo name and `weights` (file, torchvision, pretrained name, run): those;
    - `model` None: the network is read off the weights;
    - a zoo name and no weights: the weights shipped in the package for it, if any
      (`core.weights.shipped`, resources/weights/);
    - a zoo name and no shipped weights, or weights "random": None (random weights;
      the caller builds the net), or a WeightsError with `require_weights` (eval and
      export need weights).
    `progress(done, total)` follows a download and may raise to cancel it.
    """
    if model is not None and is_pretrained_name(model):
        if weights is not None and str(weights).strip() != model.strip():
            entry = get_pretrained(model)
            raise WeightsError(
                f"{model} is a pretrained checkpoint and comes with its own weights. Drop "
                f"--weights, or name its network (--model {entry.model}) to load other ones."
            )
        return load_weights(None, model.strip(), progress=progress)
    name = network_name(model) if model is not None else None
    if weights is None and name is not None and (shipped := shipped_weights(name)) is not None:
        return load_shipped(shipped)
    if weights is None or str(weights).strip() == RANDOM:
        if require_weights or name is None:
            raise WeightsError(
                f"{model or 'this'} has no weights to use: pass --weights (a weight file, "
                "'torchvision', a run, or a pretrained name), or give a pretrained name as "
                "the model (`resnet-studio pretrained` lists them)."
            )
        return None
    return load_weights(name, weights_source(weights, runs_dir), progress=progress)


def load_shipped(shipped: ShippedWeights) -> LoadResult:
    """The weights shipped in the package for a net, loaded, with their provenance
    (`result.shipped`: what the window and `predict` call them)."""
    result = load_weights(shipped.name, shipped.path)
    result.shipped = shipped
    return result


def weights_source(weights: str | os.PathLike, runs_dir: str | os.PathLike | None = None) -> Any:
    """What `load_weights` reads for a --weights argument: a file or a download name
    as given, a run (folder or name in the run store) as its latest checkpoint."""
    text = os.fspath(weights)
    if hub.is_torchvision_source(text) or Path(text).is_file():
        return weights
    if is_pretrained_name(text) and not Path(text).exists():
        return text.strip()
    run_file = _run_weights(text, runs_dir)
    if run_file is not None:
        return run_file
    if Path(text).exists():  # a folder that is not a run: let the reader explain
        return weights
    raise WeightsError(
        f"{text!r} is not a weight file, a run, 'torchvision[:ENUM]' or a pretrained name. "
        "Check the path; `resnet-studio runs` lists runs, `resnet-studio pretrained` names."
    )


def _run_weights(text: str, runs_dir: str | os.PathLike | None) -> Path | None:
    """The latest checkpoint's weights of the run `text` names, or None if none does."""
    from resnet_studio.core.runs import open_run
    from resnet_studio.core.runs.layout import WEIGHTS_FILE

    try:
        run = open_run(text, runs_dir)
    except (StudioError, OSError):
        return None
    folder = run.latest_checkpoint()
    if folder is None:
        raise WeightsError(f"Run {run.name} has no complete checkpoint yet; train it first.")
    return folder / WEIGHTS_FILE
