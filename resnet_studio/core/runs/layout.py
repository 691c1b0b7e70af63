"""What a run folder holds (file names) and who may write it (the lock)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
POINTER = "checkpoint.json"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
WEIGHTS_FILE = "model.safetensors"
EXTRA_FILE = "state.pt"
TRAINER_FILE = "trainer.json"
GRAD_LAYERS = "grad_layers.json"  # the layers whose gradient norms the records hold

ENV_RUNS_DIR = "RESNET_STUDIO_RUNS_DIR"


# --------------------------------------------------------------------------- locks


def try_lock(fd: int) -> bool:
    """Take an exclusive non-blocking lock on ``fd``. False if another holds it.

    The OS drops the lock when the process dies, even by kill -9, so a held lock
    means a live writer. Filesystems without locks (some NFS) count as unlocked.
    """
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
    return True


def is_locked(run_dir: Path) -> bool:
    """Whether some process (this one included) is writing the run right now."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not try_lock(fd)
    finally:
        os.close(fd)  # closing releases a lock we just took
