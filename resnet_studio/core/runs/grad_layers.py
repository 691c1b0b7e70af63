"""grad_layers.json: which layer each number of a record's "grad_norms" belongs to.

A metrics record holds the window's mean gradient norm per recorded layer as one list
(`core.gradient_norms`); the layers' names and depths are the same for every record
of a run, so they are written once, beside metrics.jsonl, at the run's first record::

    {"layers": ["conv1", "layer1.0.conv1", ..., "fc"], "depths": [1, 2, ..., 20]}

A depth is null for a projection shortcut, which is not on the main path. A run
trained before gradient norms were recorded has no such file and no such lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from resnet_studio.core.atomic import atomic_write_json
from resnet_studio.core.errors import TrainingError
from resnet_studio.core.runs import validation
from resnet_studio.core.runs.layout import GRAD_LAYERS
from resnet_studio.core.runs.records import disk_errors

__all__ = ["read_grad_layers", "write_grad_layers"]


def write_grad_layers(folder: Path, names: Sequence[str], depths: Sequence[int | None]) -> None:
    """Write the run's layer list atomically (by its one writer), unless it holds it."""
    doc = {"layers": list(names), "depths": list(depths)}
    try:
        if read_grad_layers(folder) == (doc["layers"], doc["depths"]):
            return
    except TrainingError:
        pass  # damaged: replaced by what the trainer knows
    with disk_errors(f"the layer list of run '{folder.name}'", folder):
        atomic_write_json(folder / GRAD_LAYERS, doc)


def read_grad_layers(folder: Path) -> tuple[list[str], list[int | None]] | None:
    """The (names, depths) of a run folder's recorded layers; None when it has no
    grad_layers.json; RunDamagedError naming the file when it is not one."""
    path = folder / GRAD_LAYERS
    if not path.exists():
        return None
    doc = validation.read_checked(path, validation.GRAD_LAYERS_ADVICE)
    return validation.check_grad_layers(doc, path)
