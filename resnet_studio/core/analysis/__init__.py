"""Why residual nets train, measured: block lesions and the loss landscape.

Modules: `data` (the labelled images, read once through the evaluation data path),
`events` (`AnalysisProgress`), `lesion` (Veit et al. 2016: blocks removed at test
time, `lesioned` context manager, path lengths), `landscape` (Li et al. 2018:
filter-normalised directions, 1D line and 2D grid), `run` (a LoadResult and a
dataset spec to a result), `plot` and `report` (PNG with Pillow, CSV, JSON).

    result = lesion_loaded(loaded, "zip:test.zip", images=1000)
    write_lesion_report([result], "out")
"""

from resnet_studio.core.analysis.data import LabelledBatches, data_key, load_batches
from resnet_studio.core.analysis.events import AnalysisProgress
from resnet_studio.core.analysis.landscape import (
    LandscapeResult,
    directions,
    filter_normalized_direction,
    loss_landscape,
    loss_surface,
    steps,
)
from resnet_studio.core.analysis.lesion import (
    LesionResult,
    lesion_errors,
    lesion_outputs,
    lesion_study,
    lesioned,
    named_blocks,
    path_length_counts,
    random_lesions,
    shortcut_output,
    skippable,
)
from resnet_studio.core.analysis.report import write_landscape_report, write_lesion_report
from resnet_studio.core.analysis.run import landscape_loaded, lesion_batch_size, lesion_loaded

__all__ = [
    "AnalysisProgress",
    "LabelledBatches",
    "LandscapeResult",
    "LesionResult",
    "data_key",
    "directions",
    "filter_normalized_direction",
    "landscape_loaded",
    "lesion_batch_size",
    "lesion_errors",
    "lesion_outputs",
    "lesion_loaded",
    "lesion_study",
    "lesioned",
    "load_batches",
    "loss_landscape",
    "loss_surface",
    "named_blocks",
    "path_length_counts",
    "random_lesions",
    "shortcut_output",
    "skippable",
    "steps",
    "write_landscape_report",
    "write_lesion_report",
]
