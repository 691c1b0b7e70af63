"""Training in a child process: `train()`/`resume()` as the CLI runs them, driven from
a thread of the caller's (the GUI's training worker).

Why not the caller's thread, measured with bench/bench_gui_training.py on 2 cores:
- the GIL: a GUI thread that paints has to win the GIL back from the training loop
  after every release (each waits out Python's 5 ms switch interval), so a repaint
  took up to 120 ms and the window stuttered;
- OpenMP: PyTorch's libgomp keeps a thread team per thread that ran a parallel op;
  once the teams hold more threads than there are cores, libgomp stops spinning at
  its barriers and every op pays for futex wake-ups (25% slower here);
- a crash, an out-of-memory kill or a CUDA error in the engine takes the process
  down; in a child it becomes a message, and the window stays.
In its own process the engine runs as fast as from the CLI, and the window stays smooth.

The protocol is JSON over a pipe (no pickle): the child sends {"kind": "accepted"}
when it has the job, {"kind": "event", "event": event.to_json()} per engine event
(`core.training_events`), then one {"kind": "result"} or {"kind": "error"}; the parent
sends {"control": "stop" | "pause" | "resume"}. If the parent goes away the pipe closes
and the child stops its runs as if told to (each keeps a checkpoint and ends "cancelled").

A child can be started cold (spawned with its job: an interpreter and a torch import,
about 3 s on 2 cores) or taken from an `core.engine_standby.EnginePool`, whose standby
child has booted and imported the engine already and gets the job as its first message.
A standby that died before it accepted the job is replaced by a cold start, unseen by
the caller: nothing of the job had run.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from resnet_studio.core.errors import StudioError
from resnet_studio.core.training_events import TrainingEvent, event_from_json

# how often the parent looks at its TrainControl while no event arrives
POLL_S = 0.05
# The window before the training: on a busy CPU the GUI thread is served first, which
# halved the event loop's p99 delay on 2 cores (bench/bench_gui_training.py) and costs
# the training only the little CPU time the window uses.
NICENESS = 5
# how long a stopped child may take to write its checkpoints before it is killed
STOP_GRACE_S = 60.0


def _studio_errors() -> dict[str, type]:
    from resnet_studio.core import errors

    return {name: cls for name, cls in vars(errors).items()
            if isinstance(cls, type) and issubclass(cls, errors.StudioError)}  # fmt: skip


_STUDIO_ERRORS = _studio_errors()


class TrainingProcessError(RuntimeError):
    """An unexpected error in the child; `child_traceback` is the child's traceback."""

    def __init__(self, message: str, child_traceback: str = "") -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


def run_in_process(
    kind: str,
    targets: Sequence[Any],
    *,
    recipe: Any = None,
    overrides: dict[str, Any] | None = None,
    runs_dir: str | None = None,
    on_event: Callable[[TrainingEvent], None] | None = None,
    control: Any = None,
    pool: Any = None,
) -> list[Any]:
    """`train(targets, recipe)` (kind "train", targets: zoo names or ModelChoices) or
    `resume(targets, overrides=...)` (kind "resume", targets: run names) in a child
    process. Blocks like them, calls `on_event` in this thread, follows `control`
    (a core.train.TrainControl) and returns their RunResults; raises StudioError
    with the engine's message, or TrainingProcessError. With `pool` (a
    core.engine_standby.EnginePool) the job goes to its standby child if one is
    there, else to a cold one; the pool starts no standby while the job runs."""
    process = TrainingProcess(kind, targets, recipe=recipe, overrides=overrides,
                              runs_dir=runs_dir)  # fmt: skip
    with pool.job() if pool is not None else contextlib.nullcontext() as standby:
        process.start(standby)
        try:
            return process.wait(on_event, control)
        finally:
            process.close()


class TrainingProcess:
    """One child process running one training job (see `run_in_process`)."""

    def __init__(
        self,
        kind: str,
        targets: Sequence[Any],
        *,
        recipe: Any = None,
        overrides: dict[str, Any] | None = None,
        runs_dir: str | None = None,
    ) -> None:
        if kind not in ("train", "resume"):
            raise ValueError(f"kind must be 'train' or 'resume', not {kind!r}")
        self.job = {
            "kind": kind,
            "targets": [asdict(t) if is_dataclass(t) else str(t) for t in targets],
            "recipe": recipe.to_dict() if recipe is not None else None,
            "overrides": dict(overrides or {}),
            "runs_dir": str(runs_dir) if runs_dir is not None else None,
        }
        self._process: Any = None
        self._conn: Any = None
        self.warm = False  # the job went to a standby child (until it fell back)
        self._accepted = False  # the child said it has the job

    def start(self, standby: Any = None) -> None:
        """Hand the job to `standby` (a core.engine_standby.Standby, taken from its
        pool) if it still lives, else spawn a cold child for it."""
        if standby is not None and standby.hand_over(self.job):
            self._process, self._conn = standby.process, standby.conn
            self.warm = True
            return
        if standby is not None:
            standby.kill()  # it died before it could take the job: reap it
        self._start_cold()

    def _start_cold(self) -> None:
        self.warm, self._accepted = False, False
        # spawn, not fork: a forked copy of a process with Qt, CUDA or OpenMP threads
        # may deadlock; a fresh interpreter starts clean on every platform
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_child_main, args=(child_conn, json.dumps(self.job)),
            name="resnet-studio-training",
        )  # fmt: skip
        self._process.start()
        child_conn.close()  # so that the child's exit reads as EOF here

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def send(self, command: str) -> None:
        """"stop", "pause" or "resume"; ignored once the child has gone."""
        with contextlib.suppress(OSError, ValueError):  # ValueError: a closed connection
            self._conn.send_bytes(json.dumps({"control": command}).encode())

    def wait(self, on_event: Callable[[TrainingEvent], None] | None = None,
             control: Any = None) -> list[Any]:  # fmt: skip
        """Relay events, rebuilt from their JSON, until the child reports its result
        (see `run_in_process`)."""
        from resnet_studio.core.train import RunResult

        sent_stop, sent_paused = False, False
        while True:
            if control is not None:
                if control.stopped and not sent_stop:
                    self.send("stop")
                    sent_stop = True
                elif not sent_stop and control.paused != sent_paused:
                    sent_paused = control.paused
                    self.send("pause" if sent_paused else "resume")
            try:
                if not self._conn.poll(POLL_S):
                    continue
                message = json.loads(self._conn.recv_bytes())
            except (EOFError, OSError):
                if self.warm and not self._accepted:
                    # the standby died before it took the job: nothing ran, start cold
                    self._reap()
                    self._start_cold()
                    sent_stop, sent_paused = False, False
                    continue
                raise StudioError(self._death_message()) from None
            kind = message.get("kind")
            if kind == "accepted":
                self._accepted = True
            elif kind == "event":
                if on_event is not None:
                    on_event(event_from_json(message["event"]))
            elif kind == "result":
                return [RunResult(**result) for result in message["results"]]
            elif kind == "error":
                if message.get("studio"):  # the same kind of StudioError, with its message
                    kind = _STUDIO_ERRORS.get(message.get("type", ""), StudioError)
                    raise kind(message["message"])
                raise TrainingProcessError(message["message"], message.get("traceback", ""))

    def _death_message(self) -> str:
        self._process.join(5.0)
        code = self._process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was killed by {name}"
            if -code == signal.SIGKILL:
                how += " (the system may have run out of memory)"
        else:
            how = f"exited with code {code}" if code is not None else "stopped answering"
        return (f"The training process {how}. Each run keeps its last checkpoint: "
                "resume it from the runs list.")  # fmt: skip

    def close(self) -> None:
        """Stop the child if it still runs (its runs end "cancelled") and reap it."""
        if self._process is None:
            return
        if self._process.is_alive():
            self.send("stop")
            self._process.join(STOP_GRACE_S)
        self._reap()

    def _reap(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()
        self._process = None


def enter_child() -> None:
    """What every engine child does first, cold or standby, before it imports torch."""
    # Ctrl+C in a terminal reaches the whole process group: the parent stops this child
    # through the pipe (runs end "cancelled" with a checkpoint), so it must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        os.nice(NICENESS)  # before the engine starts its threads, which inherit it


def _child_main(conn: Any, job_text: str) -> None:
    """A cold child: spawned with its job."""
    enter_child()
    serve_job(conn, json.loads(job_text))


def serve_job(conn: Any, job: dict[str, Any]) -> None:
    """The child's side of one job: run it, stream its events, answer control
    messages, then exit the process."""
    from resnet_studio.core.train import ModelChoice, TrainControl, resume, train

    control = TrainControl()
    send_lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with send_lock:
            conn.send_bytes(json.dumps(message).encode())

    def listen() -> None:
        actions = {"stop": control.stop, "pause": control.pause, "resume": control.resume}
        while True:
            try:
                message = json.loads(conn.recv_bytes())
            except (EOFError, OSError):
                control.stop()  # the parent is gone: save and stop
                return
            actions.get(message.get("control"), lambda: None)()
            if message.get("control") == "stop":
                return

    with contextlib.suppress(OSError):  # a parent gone already: `listen` stops the job
        send({"kind": "accepted"})  # from here on the job is this child's: no fallback
    threading.Thread(target=listen, name="training-control", daemon=True).start()

    def on_event(event: TrainingEvent) -> None:
        try:
            send({"kind": "event", "event": event.to_json()})
        except OSError:
            control.stop()  # nobody listens any more

    try:
        if job["kind"] == "resume":
            results = resume(job["targets"], runs_dir=job["runs_dir"],
                             overrides=job["overrides"], on_event=on_event, control=control)  # fmt: skip
        else:
            from resnet_studio.core.recipes import Recipe

            models = [ModelChoice(**t) if isinstance(t, dict) else t for t in job["targets"]]
            results = train(models, Recipe.from_dict(job["recipe"]), runs_dir=job["runs_dir"],
                            on_event=on_event, control=control)  # fmt: skip
        reply = {"kind": "result", "results": [asdict(result) for result in results]}
    except StudioError as exc:
        reply = {"kind": "error", "studio": True, "message": str(exc).strip('"'),
                 "type": type(exc).__name__}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        reply = {"kind": "error", "studio": False, "message": f"{type(exc).__name__}: {exc}",
                 "traceback": traceback.format_exc()}  # fmt: skip
    with contextlib.suppress(OSError):  # the parent may be gone
        send(reply)
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # done: skip interpreter teardown (atexit, CUDA) that could hang
