"""A callback signal for Qt-free state objects (napari's `EventEmitter`, in small).

State lives in the application layer, which imports no Qt, yet widgets must follow
it. A state object owns an `Emitter` per thing that can happen; a widget connects a
slot, the state emits, the slot redraws. Emitting is a plain call in the emitting
thread: state is only changed from the GUI thread (workers hand results back to it
through Qt signals first), so no locking or queuing is needed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Emitter:
    """Connect callbacks; `emit(*args)` calls each in the order connected."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Add `callback` (once); returns it, so this also works as a decorator."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Remove `callback`; a callback never connected is ignored (a panel that
        disconnects on close may never have been shown)."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):  # a callback may disconnect itself
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)
