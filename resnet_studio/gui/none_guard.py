"""A guard against a PySide6 release that drains None's reference count.

PySide6 6.12.0 (shiboken6 6.12.0) drops a reference to None on every call of a Qt
method that returns void (QPainter.setPen, QLabel.setText, QObject.setObjectName...)
without having taken one. From Python 3.12 on None is immortal (PEP 683) and this is
harmless. On 3.10 and 3.11 None's count falls by over a thousand a second while the
training curves redraw; when it reaches zero the interpreter aborts ("Fatal Python
error: none_dealloc") and the window is gone, a minute or two into a training run.

pyproject.toml excludes 6.12.0. For an environment that has it anyway,
`protect_none()` measures the leak and, where there is one, does what Python 3.12
does: it gives None a reference count that no leak can exhaust.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

# 2**60 references: at a million dropped a second, 36,000 years; and far from the
# 2**63 at which Py_ssize_t would overflow
PROTECTED_REFCOUNT = 1 << 60


def _void_qt_call() -> Callable[[], None]:
    from PySide6.QtCore import QObject

    probe = QObject()
    return lambda: probe.setObjectName("probe")


def none_refcount_leak(call: Callable[[], object] | None = None, calls: int = 1000) -> int:
    """How many references to None `calls` calls of `call` (by default a void Qt
    method) drop without taking them; 0 with a sound binding."""
    call = call or _void_qt_call()
    call()  # first-call caches are not a leak
    before = sys.getrefcount(None)
    for _ in range(calls):
        call()
    return before - sys.getrefcount(None)


def none_is_protected() -> bool:
    return sys.version_info >= (3, 12) or sys.getrefcount(None) >= PROTECTED_REFCOUNT


def protect_none(call: Callable[[], object] | None = None) -> bool:
    """Make None immortal in practice if void Qt calls leak its references (see the
    module docstring). Returns True if it had to; prints a warning that says how to
    fix the environment."""
    if none_is_protected():
        return False
    calls = 1000
    if none_refcount_leak(call, calls) < calls // 2:
        return False
    if hasattr(sys, "gettotalrefcount"):  # a debug build: ob_refcnt is not the first field
        print("warning: this PySide6 drops references to None and will crash the app; "
              "pip install 'PySide6-Essentials!=6.12.0'", file=sys.stderr)  # fmt: skip
        return False
    # ob_refcnt is the first field of every object in a release build of CPython
    ctypes.c_ssize_t.from_address(id(None)).value += PROTECTED_REFCOUNT
    print("warning: the installed PySide6 drops a reference to None on every void Qt call, "
          "which would crash the app on this Python (fixed in Python 3.12); resnet-studio "
          "protects None for this session. To fix the environment: "
          "pip install 'PySide6-Essentials!=6.12.0'", file=sys.stderr)  # fmt: skip
    return True
