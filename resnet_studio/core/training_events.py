"""What a training job reports, one frozen dataclass per kind of event.

The engine (`core.train`, `core.trainer`) emits these; the CLI prints them, the
training process sends them through its pipe, and the GUI's session turns them into
curve points. They hold plain values only (str, int, float, None: never tensors),
so each serialises to one JSON object and back:

    event.to_json()        -> {"event": "progressed", "run": ..., "iteration": ..., ...}
    event_from_json(dict)  -> Progressed(run=..., iteration=..., ...)

`train --json` prints `to_json()` one object a line, and the pipe to a training
process carries the same objects. Consumers dispatch on the class, once each
(`functools.singledispatchmethod` or `match`), never on the "event" string.

The metrics a run writes to `metrics.jsonl` are records, not events: a record holds
the training window and, at evaluations, the errors too; live they arrive as a
`Progressed` followed, at evaluations, by an `Evaluated` of the same iteration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "Checkpointed",
    "Evaluated",
    "Loading",
    "Paused",
    "Progressed",
    "Resumed",
    "RunCancelled",
    "RunDiverged",
    "RunEnded",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "TrainingEvent",
    "ended_event",
    "event_from_json",
]

_KINDS: dict[str, type[TrainingEvent]] = {}


@dataclass(frozen=True)
class TrainingEvent:
    """The base of every event; `KIND` is the "event" value of its JSON."""

    KIND: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("KIND"):  # abstract bases (RunEnded) declare none
            if cls.KIND in _KINDS:
                raise TypeError(f"two training events are called {cls.KIND!r}")
            _KINDS[cls.KIND] = cls

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: {"event": KIND, **fields}."""
        return {"event": self.KIND, **dataclasses.asdict(self)}


def event_from_json(data: dict[str, Any]) -> TrainingEvent:
    """The event `TrainingEvent.to_json()` wrote; ValueError for an unknown kind or
    missing fields (a training process of another version, say)."""
    kind = data.get("event")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown training event {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{key: value for key, value in data.items() if key in names})
    except TypeError as exc:
        raise ValueError(f"malformed {kind!r} event: {exc}") from None


def _tuples(event: TrainingEvent, *names: str) -> None:
    """Store sequence fields as tuples: JSON brings lists, and a frozen event stays
    hashable and equal to the one that was sent."""
    for name in names:
        object.__setattr__(event, name, tuple(getattr(event, name)))


# ----------------------------------------------------------------------------- job


@dataclass(frozen=True)
class Loading(TrainingEvent):
    """The dataset is being read (`done` of `total` images) or, with stage "download",
    downloaded (`done` of `total` bytes); total 0: unknown."""

    KIND: ClassVar[str] = "loading"
    what: str  # the dataset spec, e.g. "synthetic" or "folder:/data/pets"
    done: int
    total: int
    stage: str = "read"  # "read" | "download"

    def describe(self) -> str:
        """One line for a status bar or a terminal, e.g. "downloading cifar10: 45% of
        163 MB" or "loading zip:train.zip: 3,072/60,000 images"."""
        if self.stage == "download":
            size = f" of {self.total / 1e6:.0f} MB" if self.total else ""
            done = f"{100 * self.done / self.total:.0f}%" if self.total else f"{self.done / 1e6:.0f} MB"
            return f"downloading {self.what}: {done}{size}"
        count = f"{self.done:,}/{self.total:,} images" if self.total else f"{self.done:,} images"
        return f"loading {self.what}: {count}"


@dataclass(frozen=True)
class Paused(TrainingEvent):
    """Every run of the job waits (TrainControl.pause)."""

    KIND: ClassVar[str] = "paused"


@dataclass(frozen=True)
class Resumed(TrainingEvent):
    """The job goes on after a pause."""

    KIND: ClassVar[str] = "resumed"


# ----------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunStarted(TrainingEvent):
    """A run joined the job: new (iteration 0) or resumed from its checkpoint."""

    KIND: ClassVar[str] = "started"
    run: str  # the run's name in the store (its folder), or the model label without one
    model: str  # ModelChoice.label
    path: str | None  # the run's folder; None on ranks that write nothing
    total_iterations: int
    iteration: int  # where it starts: the checkpoint's iteration when resumed
    batches_per_epoch: int
    dataset: str = ""  # what it trains on, one line (core.data.dataset_label)
    # the layers whose gradient norms each Progressed carries, in that order, and
    # their depths on the main path (None: a projection shortcut); () when not recorded
    grad_layers: tuple[str, ...] = ()
    grad_depths: tuple[int | None, ...] = ()

    def __post_init__(self) -> None:
        _tuples(self, "grad_layers", "grad_depths")


@dataclass(frozen=True)
class Progressed(TrainingEvent):
    """One training window ended: the means over its iterations (the record's numbers)."""

    KIND: ClassVar[str] = "progressed"
    run: str
    iteration: int  # iterations done, this window included
    epoch: float  # iteration / batches per epoch
    loss: float  # mean cross-entropy over the window
    train_error: float  # fraction wrong over the window (train mode, augmented)
    lr: float
    images_per_s: float  # measured inside the steps
    wall_time: float  # seconds in this run's steps, over all sessions
    eta_s: float | None  # seconds left (core.eta: smoothed); None while estimating
    total_iterations: int
    # the mean L2 norm of each recorded layer's weight gradient over the window, in
    # RunStarted.grad_layers' order (core.gradient_norms); () when not recorded
    grad_norms: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _tuples(self, "grad_norms")

    def record(self) -> dict[str, Any]:
        """The training part of the metrics.jsonl record it was written with."""
        record = {"iteration": self.iteration, "epoch": self.epoch, "loss": self.loss,
                  "train_error": self.train_error, "lr": self.lr,
                  "images_per_s": self.images_per_s, "wall_time": self.wall_time}  # fmt: skip
        if self.grad_norms:
            record["grad_norms"] = list(self.grad_norms)
        return record


@dataclass(frozen=True)
class Evaluated(TrainingEvent):
    """Validation and test error (fractions; None: no such split) at `iteration`."""

    KIND: ClassVar[str] = "evaluated"
    run: str
    iteration: int
    epoch: float
    val_error: float | None
    test_error: float | None

    @property
    def error(self) -> float | None:
        """What Figure 6 draws: the test error, else the validation error."""
        return self.test_error if self.test_error is not None else self.val_error


@dataclass(frozen=True)
class Checkpointed(TrainingEvent):
    """A checkpoint of the run at `iteration` was written to `path`."""

    KIND: ClassVar[str] = "checkpointed"
    run: str
    iteration: int
    path: str


@dataclass(frozen=True)
class RunEnded(TrainingEvent):
    """The base of the four endings; `status` is the run's final status."""

    run: str
    iteration: int  # iterations done when it ended
    reason: str = ""  # what happened and what to do, for the user ("" when finished)

    @property
    def status(self) -> str:
        return self.KIND


@dataclass(frozen=True)
class RunFinished(RunEnded):
    KIND: ClassVar[str] = "finished"


@dataclass(frozen=True)
class RunCancelled(RunEnded):
    """Stopped by the user (or the app closing); resumable from its checkpoint."""

    KIND: ClassVar[str] = "cancelled"


@dataclass(frozen=True)
class RunDiverged(RunEnded):
    """The loss became NaN or infinite; no checkpoint is written for that state."""

    KIND: ClassVar[str] = "diverged"


@dataclass(frozen=True)
class RunFailed(RunEnded):
    """An error ended the run (out of memory, a full disk, ...)."""

    KIND: ClassVar[str] = "failed"


def ended_event(status: str, run: str, iteration: int, reason: str = "") -> RunEnded:
    """The ending event for a final run status ("finished", "cancelled", ...)."""
    cls = _KINDS.get(status)
    if cls is None or not issubclass(cls, RunEnded):
        raise ValueError(f"{status!r} is not a final run status")
    return cls(run=run, iteration=iteration, reason=reason)
