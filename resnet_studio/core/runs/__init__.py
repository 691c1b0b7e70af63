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

Every file is checked when it is read (`validation`): a damaged one raises
`RunDamagedError` naming it, what is wrong and what to do, and nothing is repaired
without the user's word; the listing shows such a run as "damaged" with that reason.
A full disk, however a layer reports it, is a `DiskFullError` ("The disk is full: the
checkpoint at iteration N could not be written ... Free some space, then resume.").

Modules: `layout` (file names, the writer lock), `records` (strict JSON out, checked
JSON in, disk errors), `validation` (what each file must hold), `checkpoints`
(checkpoint folders), `run` (one `Run`), `store` (creating, finding, listing,
deleting). Statuses are the catalog's (`catalog.RUN_STATUSES`, `DAMAGED`, `UNKNOWN`).
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
