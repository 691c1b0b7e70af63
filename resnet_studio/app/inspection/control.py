"""How a long job reports back: check for cancellation, report progress.

The window hands its jobs a `gui.workers.JobControl` (whose `check()` raises once the
request was superseded); the CLI hands them `UNATTENDED`, which never stops a job
and reports nothing. Jobs only need the two methods below, so neither side leaks
into the other.
"""

from __future__ import annotations

from typing import Any, Protocol


class JobControl(Protocol):
    """What a job calls between its steps."""

    def check(self) -> None:
        """Raise (the caller's cancellation exception) if the job should stop now."""
        ...

    def progress(self, *values: Any) -> None:
        """Report progress, e.g. `progress(done, total)`; may raise like `check`."""
        ...


class _Unattended:
    """A job control for callers nobody cancels: both methods do nothing."""

    def check(self) -> None:
        return None

    def progress(self, *values: Any) -> None:
        return None


UNATTENDED: JobControl = _Unattended()
