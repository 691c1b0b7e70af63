"""Load PyTorch's shared libraries without holding the GIL, ahead of `import torch`.

Why: the window imports torch in a worker thread while the Model panel already
answers clicks. Most of that import is Python and yields the GIL every few
milliseconds, but the dynamic loader's work on libtorch_cpu/libtorch (relocations and
static initialisers, ~200 ms here) runs inside the extension import, GIL held, and a
click waits for all of it: measured, the GUI thread's longest stall during the import
was ~155 ms. A ctypes call into libc's `dlopen` releases the GIL for its duration, so
the same work runs beside the GUI thread (longest stall ~50 ms); the later
`import torch` finds the libraries loaded and only binds to them.

Only where the loader is glibc's and the wheel's layout is the usual one
(`torch/lib/libtorch_python.so`); anywhere else this does nothing and `import torch`
does it all, as before. It imports no torch.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from pathlib import Path

# libtorch_python.so names libtorch, libtorch_cpu, libc10 (and the CUDA libraries of
# a CUDA wheel) as its dependencies, so opening it opens them all.
ENTRY_LIBRARY = "libtorch_python.so"

# Two workers may start at once (the window's core import, the shipped weights' load).
# The second must wait here, on a lock that releases the GIL, not inside torch's own
# dlopen behind the loader's lock with the GIL held.
_LOCK = threading.Lock()
_DONE: list[bool] = []  # the outcome, once known


def torch_library_dir() -> Path | None:
    """torch/lib of the installed torch, found without importing it."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def preload_torch_libraries() -> bool:
    """Open torch's native libraries with the GIL released. True if they were opened
    (now or by an earlier call); False (and nothing changed) where that is not
    possible: torch then loads them. Cheap once torch is imported."""
    if "torch" in sys.modules:
        return bool(_DONE and _DONE[0])
    with _LOCK:
        if not _DONE:
            _DONE.append(_open_entry_library())
        return _DONE[0]


def _open_entry_library() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    lib_dir = torch_library_dir()
    if lib_dir is None or not (lib_dir / ENTRY_LIBRARY).is_file():
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: glibc's dlopen
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return False
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    # RTLD_LOCAL, as Python opens extensions: nothing is exported to later libraries
    # that torch itself would not export. A failure (a missing CUDA library) leaves
    # nothing loaded, and torch's own import then reports it.
    handle = dlopen(os.fsencode(lib_dir / ENTRY_LIBRARY), os.RTLD_NOW | os.RTLD_LOCAL)
    return bool(handle)
