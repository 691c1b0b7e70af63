"""A training engine on standby: a child process that has booted and imported the
engine before the user clicks Start, so that training begins at once.

A cold engine child (`core.training_process`) costs an interpreter start and a torch
import, about 3 s on 2 cores, before its first iteration. `EnginePool.warm()` spawns
one child ahead of time, when the caller is idle (the window calls it a moment after
the Training panel is built, and again after each job). The child does what a cold
child does first (`training_process.enter_child`: SIGINT ignored, the same nice
level, so the threads torch starts later inherit it; OMP/torch thread settings come
from the environment it was spawned with, as a cold child's do), imports the engine
and what the first step would import lazily (`_warm_up`), says {"kind": "ready"} and blocks reading its pipe, taking no CPU. Its first message
is the job, {"job": ...}, after which it is a cold child in every respect: the same
JSON protocol, control messages, errors and "parent gone -> stop with a checkpoint"
(`training_process.serve_job`), and it exits after that one job.

The pool holds at most one standby and starts none while one of its jobs runs (the
two cores are the training's). A standby that died while waiting is replaced at the
next `warm()`, and a job that finds none (or a dead one) starts cold: the caller
never sees the difference but in time. `close()` kills a waiting standby at once
(it holds no job, so there is nothing to save) and reaps it; the pools still open
when the interpreter exits are closed before multiprocessing joins its children.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import multiprocessing.util  # its exit handler is registered on import: before ours
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from resnet_studio.core.training_process import enter_child, serve_job


class Standby:
    """One standby child and the parent's end of its pipe."""

    def __init__(self) -> None:
        # spawn, as for a cold child: a fork of a process with Qt or OpenMP threads may deadlock
        context = multiprocessing.get_context("spawn")
        self.conn, child_conn = context.Pipe(duplex=True)
        self.process = context.Process(target=_standby_main, args=(child_conn,),
                                       name="resnet-studio-standby")  # fmt: skip
        self.process.start()
        child_conn.close()  # so that the child's exit reads as EOF here
        self._ready = False

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def ready(self) -> bool:
        """Whether it has imported the engine and waits for a job (never blocks)."""
        if not self._ready:
            with contextlib.suppress(EOFError, OSError, ValueError):
                while self.conn.poll(0):
                    if json.loads(self.conn.recv_bytes()).get("kind") == "ready":
                        self._ready = True
        return self._ready and self.alive()

    def hand_over(self, job: dict[str, Any]) -> bool:
        """Send the job (a TrainingProcess's `job`); False if the child is gone. From
        here on the TrainingProcess reads the pipe and reaps the child."""
        if not self.alive():
            return False
        try:
            self.conn.send_bytes(json.dumps({"job": job}).encode())
        except (OSError, ValueError):  # ValueError: a closed connection
            return False
        return True

    def kill(self) -> None:
        """End a child that holds no job (nothing to save) and reap it."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


class EnginePool:
    """At most one `Standby`, started by `warm()`; `job()` hands it to one job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # warm() from the GUI thread, job() from a worker
        self._standby: Standby | None = None
        self._jobs = 0
        self._closed = False
        _OPEN_POOLS.add(self)

    def warm(self) -> bool:
        """Start a standby unless one exists, a job of this pool runs, or the pool is
        closed; True if one was started. A standby that died is replaced."""
        with self._lock:
            if self._closed or self._jobs:
                return False
            if self._standby is not None:
                if self._standby.alive():
                    return False
                self._standby.kill()  # died while waiting (killed, out of memory)
            self._standby = Standby()
            return True

    def state(self) -> str:
        """"ready" (a standby waits with the engine imported), "starting" (one is
        booting) or "none"."""
        with self._lock:
            standby = self._standby
            if standby is None or not standby.alive():
                return "none"
            return "ready" if standby.ready() else "starting"

    @property
    def pid(self) -> int | None:
        """The standby's process id (None without one)."""
        with self._lock:
            return self._standby.pid if self._standby is not None else None

    @contextlib.contextmanager
    def job(self) -> Iterator[Standby | None]:
        """Take the standby (None if there is none) for one job; no standby is
        started until the job is over."""
        with self._lock:
            standby, self._standby = self._standby, None
            self._jobs += 1
        try:
            yield standby
        finally:
            with self._lock:
                self._jobs -= 1

    def close(self) -> None:
        """Kill and reap the waiting standby, start no other (the window closes)."""
        with self._lock:
            self._closed = True
            standby, self._standby = self._standby, None
        if standby is not None:
            standby.kill()


_OPEN_POOLS: weakref.WeakSet[EnginePool] = weakref.WeakSet()


@atexit.register  # after multiprocessing.util's handler (imported above), so it runs first
def _close_open_pools() -> None:
    # multiprocessing joins the non-daemon children at exit, and a standby waits for
    # its job forever: kill it first. (Engine children are not daemons: a daemon may
    # not start processes of its own, such as DataLoader workers.)
    for pool in list(_OPEN_POOLS):
        pool.close()


def _warm_up() -> None:
    """What a job would import lazily on its way to the first step, done now: building
    an optimizer imports torch._dynamo (1.5 s of the 2.8 s a cold start took here).
    Zeros only, so no random numbers are drawn (the job seeds its own anyway)."""
    import torch

    import resnet_studio.core.recipes  # noqa: F401 - the imports are the point
    import resnet_studio.core.train  # noqa: F401

    weight = torch.zeros(4, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9, weight_decay=1e-4)
    (weight * 2.0).sum().backward()
    optimizer.step()


def _standby_main(conn: Any) -> None:
    """The standby child: boot, import the engine, then wait for one job."""
    enter_child()
    _warm_up()
    try:
        conn.send_bytes(json.dumps({"kind": "ready"}).encode())
        message = json.loads(conn.recv_bytes())  # blocks: no CPU while it waits
    except (EOFError, OSError):
        os._exit(0)  # the pool was closed or the parent is gone: nothing to do
    serve_job(conn, message["job"])
