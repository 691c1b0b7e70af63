"""The run store: one folder per training run, safe to kill at any moment.

Layout of a run folder (``<runs dir>/<name>/``)::

    config.json          what the trainer passed to create_run (model, dataset, recipe...)
    status.json          status, reason, created/updated times and a small summary, so a
                         listing never parses metrics files
    metrics.jsonl        append-only, one JSON object per line, each with "iteration"
    checkpoint.json      pointer naming the latest complete checkpoint folder
    checkpoints/iter-00000400/
        model.safetensors  weights (+ str->str metadata)
        state.pt           optimizer/scheduler/RNG state; read with weights_only=True
        trainer.json       iteration, epoch, data-loader position...
    .lock                advisory lock held by the one process writing this run
    tb/                  TensorBoard events (only if tensorboard is installed and used)

Checkpoints are written into ``iter-N.tmp/``, fsynced, renamed, and only then is the
pointer replaced atomically; older folders are deleted last. Whatever instant the
process dies (or the disk fills), the pointer names a complete checkpoint.

Modules: `layout` (file names, the writer lock), `records` (strict JSON out, tolerant
JSON in), `checkpoints` (checkpoint folders), `run` (one `Run`), `store` (creating,
finding, listing, deleting). Statuses are the catalog's (`catalog.RUN_STATUSES`).
"""


from resnet_studio.core.catalog import UNKNOWN
from resnet_studio.core.runs.checkpoints import Checkpoint
from resnet_studio.core.runs.layout import ENV_RUNS_DIR
from resnet_studio.core.runs.run import Run
from resnet_studio.core.runs.store import (
    RunSummary,
    create_run,
    default_runs_dir,
    delete_run,
    list_runs,
    open_run,
)

__all__ = [
    "ENV_RUNS_DIR",
    "UNKNOWN",
    "Checkpoint",
    "Run",
    "RunSummary",
    "create_run",
    "default_runs_dir",
    "delete_run",
    "list_runs",
    "open_run",
]
