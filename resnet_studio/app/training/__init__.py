"""Training without Qt: the live-run bookkeeping (`session`) and the points of runs,
their smoothing and CSV export (`series`). The Training panel binds to these."""

from resnet_studio.app.training.series import (
    CSV_COLUMNS,
    GRAD_NORM_COLUMNS,
    Column,
    RunSeries,
    SmoothedSeries,
    Smoother,
    smooth,
    write_csv,
    write_grad_norms_csv,
)
from resnet_studio.app.training.session import LiveRun, TrainingSession

__all__ = [
    "CSV_COLUMNS",
    "GRAD_NORM_COLUMNS",
    "Column",
    "LiveRun",
    "RunSeries",
    "SmoothedSeries",
    "Smoother",
    "TrainingSession",
    "smooth",
    "write_csv",
    "write_grad_norms_csv",
]
