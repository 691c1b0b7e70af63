"""One training run: model, optimiser, batches, metrics and checkpoints.

`RunTrainer.step()` does one iteration and returns without waiting for the device:
loss, errors and a not-finite flag accumulate on the device and reach the host once
per `log_every` iterations (the sync point, marked below). A comparison steps several
trainers in turn (see `train.py`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from resnet_studio.core import data as datasets
from resnet_studio.core import training_events as events
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.device import training_formats
from resnet_studio.core.distributed import DistContext, all_agree, all_reduce_sum
from resnet_studio.core.errors import TrainingError
from resnet_studio.core.eta import EtaEstimator
from resnet_studio.core.gradient_norms import GradientNorms
from resnet_studio.core.models import create_model, parse_name
from resnet_studio.core.recipes import Recipe
from resnet_studio.core.runs import Run
from resnet_studio.core.runs.grad_layers import write_grad_layers
from resnet_studio.core.runs.layout import EXTRA_FILE, WEIGHTS_FILE
from resnet_studio.core.runs.validation import damaged, weights_mismatch
from resnet_studio.core.trainer_batches import TrainerBatches
from resnet_studio.core.weights import weights_metadata


class LossNotFinite(Exception):
    """Raised at a sync point when the loss of some step was NaN or infinite (the run
    then ends with a `RunDiverged` event)."""

    def __init__(self, iteration: int) -> None:
        super().__init__(f"the loss became NaN or infinite at iteration {iteration}")
        self.iteration = iteration


class RunTrainer:
    """Trains one network on an already loaded dataset, writing to `run` (rank 0)."""

    def __init__(
        self,
        choice: ModelChoice,
        recipe: Recipe,
        dataset: datasets.Dataset,
        device: torch.device,
        run: Run | None,
        ctx: DistContext,
        emit: Callable[[events.TrainingEvent], None],
    ) -> None:
        self.choice, self.recipe, self.dataset, self.device = choice, recipe, dataset, device
        self.run, self.ctx, self._emit = run, ctx, emit
        self.name = run.name if run is not None else choice.label
        cuda = device.type == "cuda"
        self.amp, self.channels_last = training_formats(device, recipe.amp, recipe.channels_last)
        self.depth = parse_name(choice.name).depth

        torch.manual_seed(recipe.seed)  # same seed, same initial weights for every run
        model = create_model(
            choice.name, len(dataset.class_names),
            shortcut=choice.shortcut, zero_init_residual=choice.zero_init_residual,
        ).to(device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
        )
        forward: nn.Module = model
        if ctx.enabled:
            forward = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
        self.forward = torch.compile(forward) if recipe.compile else forward

        self.data = TrainerBatches(dataset, recipe, device, ctx, self.channels_last)
        self.batches, self.batches_per_epoch = self.data.train, self.data.per_epoch
        if self.batches_per_epoch == 0:
            raise TrainingError(
                f"the training split has {len(dataset.train)} images, fewer than one batch of "
                f"{recipe.batch_size}; lower --batch-size"
            )
        self.total = recipe.iterations or (recipe.epochs or 1) * self.batches_per_epoch
        # trainer state that checkpoints carry
        self.iteration = 0
        self.warmed_up = recipe.warmup_lr is None or self.depth < recipe.warmup_min_depth
        self.lr_scale = 1.0  # plateau schedule: product of the decays so far
        self.best_val: float | None = None
        self.best_test: float | None = None
        self.evals_without_gain = 0
        self.wall_time = 0.0  # seconds spent in this run's steps, over all sessions
        self.status = "running"
        self._checkpointed_at = -1
        self.last_record: dict[str, Any] = {}
        # TensorBoard scalars too, when tensorboard is installed (optional); the
        # writer is made at the first record, so a refused resume writes nothing.
        self._tensorboard: Any = None
        self._tensorboard_tried = run is None
        self.last_eval: dict[str, Any] = {}
        # per-layer gradient norms, summed on the device over each window (issue 12)
        self.grad_norms = GradientNorms(model, device) if recipe.grad_norms else None
        self._grad_layers_written = False  # grad_layers.json, at the first record
        self._eta = EtaEstimator()  # per session: a resumed run warms up again
        self._reset_window()

    # ------------------------------------------------------------------ schedule

    def lr_at(self, iteration: int) -> float:
        """Section 4.2: divide by 10 at each milestone; for 110+ layers a small lr
        until the training error falls below 80%; plateau: the decays so far."""
        recipe = self.recipe
        if not self.warmed_up:
            return recipe.warmup_lr
        if recipe.schedule == "plateau":
            return recipe.lr * self.lr_scale
        passed = sum(1 for milestone in recipe.milestones if iteration >= milestone)
        return recipe.lr * recipe.lr_decay**passed

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    # ------------------------------------------------------------------ stepping

    def _reset_window(self) -> None:
        zero = lambda dtype: torch.zeros((), device=self.device, dtype=dtype)  # noqa: E731
        self._loss_sum = zero(torch.float32)
        self._errors = zero(torch.float32)
        self._seen = zero(torch.float32)
        self._bad_iteration = torch.full((), -1, device=self.device, dtype=torch.int64)
        self._window_steps = 0
        self._window_started = time.perf_counter()
        self._window_step_time = 0.0
        if self.grad_norms is not None:
            self.grad_norms.reset()

    @property
    def done(self) -> bool:
        return self.status != "running" or self.iteration >= self.total

    def step(self) -> None:
        """One iteration; logs, evaluates and checkpoints when their turn comes."""
        started = time.perf_counter()
        lr = self.lr_at(self.iteration)
        self._set_lr(lr)
        self.forward.train()
        x, y = self.data.next(self.iteration)
        with self._autocast():
            logits = self.forward(x)
            loss = nn.functional.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_norms is not None:  # the raw gradients, before the step's weight decay
            self.grad_norms.accumulate()
        self.optimizer.step()
        detached = loss.detach().float()
        finite = torch.isfinite(detached)
        # A Python scalar, not a new device tensor: no host-to-device copy per step.
        self._bad_iteration = torch.where(
            (self._bad_iteration < 0) & ~finite, self.iteration + 1, self._bad_iteration
        )
        self._loss_sum += torch.where(finite, detached, 0.0) * len(y)
        self._errors += (logits.detach().argmax(1) != y).sum()
        self._seen += len(y)
        self.iteration += 1
        self._window_steps += 1
        self._window_step_time += time.perf_counter() - started
        if self._due(self.recipe.log_every) or self._due(self.recipe.eval_every) or self.done:
            self.log(lr)

    def _due(self, every: int) -> bool:
        return every > 0 and self.iteration % every == 0

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp and self.device.type in ("cuda", "cpu"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def log(self, lr: float) -> None:
        """The sync point: one host transfer of the window's sums, then the record."""
        if self._window_steps == 0:
            return
        sums = torch.stack([self._loss_sum, self._errors, self._seen,
                            self._bad_iteration.float()])
        all_reduce_sum(sums[:3], self.ctx)
        if self.grad_norms is not None:  # DDP: gradients are all-reduced, norms equal
            sums = torch.cat([sums, self.grad_norms.sums])
        loss_sum, errors, seen, bad, *norm_sums = sums.tolist()  # <- the one sync per window
        steps, elapsed = self._window_steps, time.perf_counter() - self._window_started
        self.wall_time += self._window_step_time
        images_per_s = seen / max(self._window_step_time, 1e-9)
        self._eta.add(steps, elapsed)
        self._reset_window()
        if all_agree(bad >= 0, self.ctx, self.device):
            raise LossNotFinite(int(bad) if bad >= 0 else self.iteration)
        train_error = errors / seen
        if not self.warmed_up and train_error < self.recipe.warmup_until_error:
            self.warmed_up = True  # section 4.2: back to 0.1 once the net starts to learn
        record: dict[str, Any] = {
            "iteration": self.iteration,
            "epoch": round(self.iteration / self.batches_per_epoch, 4),
            "loss": loss_sum / seen,
            "train_error": train_error,
            "lr": lr,
            "images_per_s": images_per_s,
            "wall_time": round(self.wall_time, 3),
        }
        if self.grad_norms is not None:  # the window's mean per layer, 6 digits (the file's size)
            record["grad_norms"] = [float(f"{total / steps:.6g}") for total in norm_sums]
        if self._due(self.recipe.eval_every) or self.done:
            record.update(self.evaluate())
        self._write_record(record, eta_s=self._eta.eta(self.total - self.iteration))
        if self._due(self.recipe.checkpoint_every) or self.done:
            self.checkpoint()

    def _write_record(self, record: dict[str, Any], eta_s: float | None) -> None:
        self.last_record = record
        if "val_error" in record or "test_error" in record:
            self.last_eval = record
        if self.run is not None:
            self.run.append_metrics(record)  # takes the writer lock first
            if self.grad_norms is not None and not self._grad_layers_written:
                write_grad_layers(self.run.path, self.grad_norms.names, self.grad_norms.depths)
                self._grad_layers_written = True
        if not self._tensorboard_tried:
            self._tensorboard_tried = True
            self._tensorboard = self.run.tensorboard_writer()
        if self._tensorboard is not None:
            for key, value in record.items():
                if key not in ("iteration", "epoch") and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(key, value, record["iteration"])
        evals = {k: record[k] for k in ("val_error", "test_error") if k in record}
        window = {k: v for k, v in record.items() if k not in evals}  # Progressed's fields
        self._emit(events.Progressed(run=self.name, eta_s=eta_s, total_iterations=self.total, **window))
        if evals:
            self._emit(events.Evaluated(run=self.name, iteration=record["iteration"],
                                 epoch=record["epoch"], val_error=evals.get("val_error"),
                                 test_error=evals.get("test_error")))  # fmt: skip

    # ------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Validation and test error (fractions), each with one sync."""
        self.forward.eval()
        results = {}
        for key, split in (("val_error", self.dataset.val), ("test_error", self.dataset.test)):
            if split is None or len(split) == 0:
                continue
            wrong = torch.zeros((), device=self.device)
            total = torch.zeros((), device=self.device)
            batches = self.data.evaluation(split)
            for x, y in batches:
                with self._autocast():
                    wrong += (self.model(x).argmax(1) != y).sum()
                total += len(y)
            counts = all_reduce_sum(torch.stack([wrong, total]), self.ctx)
            wrong_count, total_count = counts.tolist()
            results[key] = wrong_count / max(total_count, 1)
        self._update_best(results)
        return results

    def _update_best(self, results: dict[str, float]) -> None:
        val, test = results.get("val_error"), results.get("test_error")
        if test is not None:
            self.best_test = test if self.best_test is None else min(self.best_test, test)
        if val is None:
            return
        if self.best_val is None or val < self.best_val - 1e-4:
            self.best_val, self.evals_without_gain = val, 0
        else:
            self.evals_without_gain += 1
            if self.recipe.schedule == "plateau" and self.evals_without_gain >= self.recipe.plateau_patience:
                self.lr_scale *= self.recipe.lr_decay  # section 3.4: divide by 10 on a plateau
                self.evals_without_gain = 0

    # ------------------------------------------------------------------ checkpoints

    def trainer_state(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "warmed_up": self.warmed_up,
            "lr_scale": self.lr_scale,
            "best_val": self.best_val,
            "best_test": self.best_test,
            "evals_without_gain": self.evals_without_gain,
            "wall_time": self.wall_time,
        }

    def checkpoint(self) -> None:
        if self.run is None:
            return
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        self._checkpointed_at = self.iteration
        path = self.run.save_checkpoint(
            self.iteration, state,
            metadata=weights_metadata(state, self._weights_meta()),
            extra_state={"optimizer": self.optimizer.state_dict()},
            trainer_state=self.trainer_state(),
        )
        self.run.set_status(self.status, summary=self.summary())
        self._emit(events.Checkpointed(run=self.name, iteration=self.iteration, path=str(path)))

    def _weights_meta(self) -> dict[str, Any]:
        """What a checkpoint needs to be used as weights elsewhere (predict, inspect)."""
        size = self.dataset.image_size
        per_pixel = self.recipe.normalization == "per-pixel"
        return {
            "model": self.choice.name, "shortcut": self.choice.shortcut,
            "zero_init_residual": self.choice.zero_init_residual,
            "class_names": self.dataset.class_names, "run": self.name,
            "iteration": self.iteration,
            # The per-pixel mean image of section 4.2 is close to constant over the
            # image, so outside training its channel means stand in for it (std 1).
            "preprocessing": {"input_size": size, "resize_size": size,
                              "mean": tuple(self.dataset.mean),
                              "std": (1.0, 1.0, 1.0) if per_pixel else tuple(self.dataset.std)},
        }

    def summary(self) -> dict[str, Any]:
        last = self.last_record
        return {"iterations": self.iteration, "total_iterations": self.total,
                "best_val_error": self.best_val, "best_test_error": self.best_test,
                "final_train_error": last.get("train_error"),
                "final_val_error": last.get("val_error", self.last_eval.get("val_error")),
                "final_test_error": last.get("test_error", self.last_eval.get("test_error"))}

    def restore(self, checkpoint: Any, folder: Path | None = None, advice: str = "") -> None:
        """Continue from a checkpoint (read from `folder`): weights, optimiser, schedule
        and position, in memory only (resume() truncates the metrics once every run
        is checked). Weights of another network, or an optimizer state that does not
        fit them, raise RunDamagedError naming the file, with `advice`."""
        where = folder if folder is not None else Path(f"the checkpoint of {self.name}")
        advice = advice or "Start a new run."
        self._load_weights(checkpoint.weights, where / WEIGHTS_FILE, advice)
        extra = checkpoint.extra_state
        try:
            if not isinstance(extra, dict) or not isinstance(extra.get("optimizer"), dict):
                raise ValueError("it holds no optimizer state")
            self.optimizer.load_state_dict(extra["optimizer"])
        except (KeyError, TypeError, RuntimeError, ValueError, IndexError) as exc:
            raise damaged(where / EXTRA_FILE, f"its optimizer state does not fit the network "
                          f"{self.choice.label} ({exc})", advice) from exc  # fmt: skip
        state = checkpoint.trainer_state  # checked against validation.TRAINER_FIELDS
        self.iteration = state["iteration"]
        self.warmed_up = state.get("warmed_up", self.warmed_up)
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.best_val, self.best_test = state.get("best_val"), state.get("best_test")
        self.evals_without_gain = state.get("evals_without_gain", 0)
        self.wall_time = float(state.get("wall_time", 0.0))
        self.data.rewind()
        self._checkpointed_at = self.iteration

    def _load_weights(self, weights: dict[str, torch.Tensor], path: Path, advice: str) -> None:
        """Load `weights`, or say in one line how they differ from this network's."""
        mismatch = weights_mismatch(self.model.state_dict(), weights)
        try:
            if mismatch:
                raise ValueError(mismatch)
            self.model.load_state_dict(weights)
        except (RuntimeError, ValueError) as exc:
            raise damaged(path, f"it holds the weights of another network than "
                          f"{self.choice.label} ({exc})", advice) from exc  # fmt: skip

    def finish(self, status: str, reason: str = "") -> None:
        """End the run: flush the window, checkpoint (unless diverged), record status."""
        if status in ("finished", "cancelled") and self._window_steps:
            try:
                self.log(self.lr_at(max(self.iteration - 1, 0)))
            except LossNotFinite as exc:
                status, reason = "diverged", str(exc)
        self.status = status
        if status in ("finished", "cancelled") and self._checkpointed_at != self.iteration:
            self.checkpoint()
        if self.run is not None:
            self.run.set_status(status, reason, summary=self.summary())
        if self._tensorboard is not None:
            self._tensorboard.close()
        self._emit(events.ended_event(status, self.name, self.iteration, reason))

