"""Training runs and comparisons, reported as plain events.

`train()` starts runs, `resume()` continues them; both load the data once and step
every run of a comparison in turn on one device, so the curves of plain and residual
nets advance together over the very same batches (same seed, same order). They report
through `on_event` with the typed events of `core.training_events` (plain values, never
tensors): `Loading` while the data loads, then per run `RunStarted`, a `Progressed` per
log window, an `Evaluated` at evaluations, `Checkpointed`, and one ending
(`RunFinished`, `RunCancelled`, `RunDiverged`, `RunFailed`); `Paused` and `Resumed` for
the whole job. The CLI prints them, the GUI turns them into curve points.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from resnet_studio.core import data as datasets
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.dataset_label import dataset_label
from resnet_studio.core.device import resolve_device
from resnet_studio.core.distributed import all_agree, init_from_env, shutdown
from resnet_studio.core.errors import DataError, StudioError, TrainingError
from resnet_studio.core.recipes import Recipe
from resnet_studio.core.runs import create_run, open_run
from resnet_studio.core.trainer import LossNotFinite, RunTrainer
from resnet_studio.core.training_events import (
    Loading,
    Paused,
    Resumed,
    RunFailed,
    RunStarted,
    TrainingEvent,
)

__all__ = ["ModelChoice", "RunResult", "TrainControl", "resume", "train"]


class TrainControl:
    """Cooperative stop and pause, checked between steps (thread-safe)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        self._running.wait()


@dataclass(frozen=True)
class RunResult:
    name: str
    path: str | None
    model: str
    status: str
    reason: str
    iterations: int
    total_iterations: int
    last: dict[str, Any]  # the last metrics record ({} before the first log window)


def train(
    models: Sequence[str | ModelChoice],
    recipe: Recipe,
    *,
    runs_dir: str | None = None,
    on_event: Callable[[TrainingEvent], None] | None = None,
    control: TrainControl | None = None,
) -> list[RunResult]:
    """Train each model (a comparison when there are several) with `recipe`."""
    choices = [m if isinstance(m, ModelChoice) else ModelChoice(m) for m in models]
    if not choices:
        raise TrainingError("no model to train: name at least one, e.g. --model cifar-resnet20")
    session = _Session(recipe, on_event, control)
    dataset = session.load_data()
    for choice in choices:
        run = None
        if session.ctx.is_main:
            config = {
                "model": {"name": choice.name, "shortcut": choice.shortcut,
                          "zero_init_residual": choice.zero_init_residual},
                "dataset": datasets.describe(dataset),
                "recipe": recipe.to_dict(),
                "comparison": [c.label for c in choices],
                "world_size": session.ctx.world_size,
                "torch": torch.__version__,
            }
            run = create_run(config, runs_dir)
        session.add(RunTrainer(choice, recipe, dataset, session.device, run, session.ctx, session.emit))
    return session.run_all()


def resume(
    names: Sequence[str],
    *,
    runs_dir: str | None = None,
    overrides: dict[str, Any] | None = None,
    on_event: Callable[[TrainingEvent], None] | None = None,
    control: TrainControl | None = None,
    from_checkpoint: int | None = None,
) -> list[RunResult]:
    """Continue runs from their last checkpoints (or, with `from_checkpoint`, from the
    kept checkpoint of that iteration). `overrides` change recipe fields (e.g.
    iterations=... to extend a run); they must agree across the runs' data.

    Every file of every run is checked before anything is written: a damaged one
    raises RunDamagedError naming it, and leaves all the runs as they were."""
    runs = [open_run(name, runs_dir) for name in names]
    folders = [run.check_resumable(from_checkpoint) for run in runs]  # no torch, no writes
    configs = [run.training_config() for run in runs]
    recipes = [recipe.with_overrides(**(overrides or {})) for _, recipe in configs]
    data_keys = {(r.dataset, r.image_size, r.val_size, r.train_size, r.test_size, r.seed)
                 for r in recipes}
    if len(data_keys) > 1:
        raise TrainingError("runs resumed together must share dataset, image size and seed")
    checkpoints = [run.load_checkpoint(from_checkpoint) for run in runs]  # tensors, checked
    session = _Session(recipes[0], on_event, control)
    dataset = session.load_data()
    trainers = []
    for run, (choice, _), recipe, checkpoint, folder in zip(
        runs, configs, recipes, checkpoints, folders, strict=True
    ):
        trainer = RunTrainer(choice, recipe, dataset, session.device,
                             run if session.ctx.is_main else None, session.ctx, session.emit)
        trainer.restore(checkpoint, folder, run.checkpoint_advice(folder))
        trainers.append(trainer)
    for trainer in trainers:  # every run checked: now the user's resume may write
        if trainer.run is not None:
            trainer.run.truncate_metrics_after(trainer.iteration)
            trainer.run.set_status("running", summary=trainer.summary())
        session.add(trainer)
    return session.run_all()


class _Session:
    """The shared part of a comparison: device, data, event sink and the step loop."""

    def __init__(self, recipe: Recipe, on_event: Callable[[TrainingEvent], None] | None,
                 control: TrainControl | None) -> None:
        self.recipe = recipe
        self.ctx, device_name = init_from_env(recipe.device)
        self.device = resolve_device(device_name)
        self._on_event = on_event
        self.control = control or TrainControl()
        self.trainers: list[RunTrainer] = []
        self.results: dict[str, RunResult] = {}

    def emit(self, event: TrainingEvent) -> None:
        if self._on_event is not None and self.ctx.is_main:
            self._on_event(event)

    def load_data(self) -> datasets.Dataset:
        recipe = self.recipe
        return datasets.load_dataset(
            recipe.dataset, root=recipe.data_root, download=recipe.download,
            val_size=recipe.val_size, seed=recipe.seed, image_size=recipe.image_size,
            train_size=recipe.train_size, test_size=recipe.test_size,
            progress=lambda done, total: self.emit(Loading(recipe.dataset, done, total)),
            download_progress=self._downloading,
        )

    def _downloading(self, done: int, total: int) -> None:
        """Stop in the middle of a dataset download (the download leaves no partial file)."""
        if self.control.stopped:
            raise DataError(f"Stopped while downloading {self.recipe.dataset}; nothing was kept.")
        self.emit(Loading(self.recipe.dataset, done, total, stage="download"))

    def add(self, trainer: RunTrainer) -> None:
        self.trainers.append(trainer)
        grads = trainer.grad_norms
        self.emit(RunStarted(run=trainer.name, model=trainer.choice.label,
                             path=str(trainer.run.path) if trainer.run else None,
                             total_iterations=trainer.total, iteration=trainer.iteration,
                             batches_per_epoch=trainer.batches_per_epoch,
                             dataset=dataset_label(datasets.describe(trainer.dataset)),
                             grad_layers=tuple(grads.names) if grads is not None else (),
                             grad_depths=tuple(grads.depths) if grads is not None else ()))  # fmt: skip

    def run_all(self) -> list[RunResult]:
        """Step every unfinished run in turn until all end or a stop is asked for."""
        try:
            while active := [t for t in self.trainers if not t.done]:
                if self.control.paused:
                    self.emit(Paused())
                    self.control.wait_while_paused()
                    self.emit(Resumed())
                if all_agree(self.control.stopped, self.ctx, self.device):
                    for trainer in active:
                        self._end(trainer, "cancelled", "stopped by the user")
                    break
                for trainer in active:
                    self._step(trainer)
            for trainer in self.trainers:
                if trainer.status == "running":
                    self._end(trainer, "finished")
        finally:
            for trainer in self.trainers:
                if trainer.status == "running":  # an exception escaped: record it
                    self._end(trainer, "failed", "training stopped by an unexpected error")
                if trainer.run is not None:
                    trainer.run.close()
        results = [self._result(t) for t in self.trainers]
        shutdown(self.ctx)
        return results

    def _step(self, trainer: RunTrainer) -> None:
        try:
            trainer.step()
        except LossNotFinite as exc:
            self._end(trainer, "diverged", f"{exc}; try a lower --lr")
        except torch.OutOfMemoryError:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self._end(trainer, "failed", f"out of memory on {self.device} at batch size "
                      f"{trainer.recipe.batch_size}; try a smaller --batch-size")
        except StudioError as exc:
            self._end(trainer, "failed", str(exc))
            raise

    def _end(self, trainer: RunTrainer, status: str, reason: str = "") -> None:
        try:
            trainer.finish(status, reason)
        except StudioError as exc:  # e.g. the disk filled up while saving
            # a failure's own reason (the checkpoint that did not fit) says more than
            # the status file that then did not fit either
            reason = reason if status == "failed" and reason else str(exc)
            trainer.status = "failed"
            if trainer.run is not None:
                # On a full disk even status.json may not fit: the message still goes out.
                with contextlib.suppress(StudioError):
                    trainer.run.set_status("failed", reason, summary=trainer.summary())
            self.emit(RunFailed(run=trainer.name, iteration=trainer.iteration, reason=reason))

    def _result(self, trainer: RunTrainer) -> RunResult:
        status: dict[str, Any] = {}
        if trainer.run is not None:
            with contextlib.suppress(StudioError):  # unwritten on a full disk
                status = trainer.run.read_status()
        return RunResult(
            name=trainer.name, path=str(trainer.run.path) if trainer.run else None,
            model=trainer.choice.label, status=trainer.status,
            reason=status.get("reason", ""), iterations=trainer.iteration,
            total_iterations=trainer.total, last=dict(trainer.last_record),
        )

