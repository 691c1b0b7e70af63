"""How the main window talks to its panels: one typed protocol, no `getattr`.

The window builds each panel with a `PanelContext` (the shared application state and
the window's modes) and then only calls what `Panel` declares. A panel never reaches
into the window or another panel; what it needs from outside comes through the
context, and what it offers to the window is a method here or a Qt signal the
window connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from resnet_studio.app.model import ModelState


@dataclass
class PanelContext:
    """What every panel may use: the state shared with the other panels, and how the
    window runs."""

    model: ModelState  # the network of the Model panel, followed by the others
    demo: bool = False  # --demo: a panel may start a short demonstration
    persist: bool = True  # False (screenshots, tests): never touch the user's settings
    standby: bool = False  # keep a training engine booted for the next Start (the app)


@runtime_checkable
class Panel(Protocol):
    """A tab of the main window."""

    TITLE: str

    def is_ready(self) -> bool:
        """Finished drawing what it should show (screenshots wait for it)."""
        ...

    def confirm_close(self) -> bool:
        """May the window close now? (e.g. asks while training runs)"""
        ...

    def shutdown(self) -> None:
        """The window closes: stop every job, join every thread."""
        ...

    def apply_palette(self) -> None:
        """The desktop switched light/dark: re-colour plots and status text."""
        ...
