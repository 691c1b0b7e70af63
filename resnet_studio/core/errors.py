"""Errors a user can cause. Each message says what happened and what to do.

The CLI prints the message and exits 2; the GUI shows it in a dialog. A traceback
appears only with `--debug`.
"""


class StudioError(Exception):
    """Base of every error whose message is meant for the user."""


class ModelNameError(StudioError, KeyError):
    """An unknown or malformed model name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class WeightsError(StudioError):
    """A weight file that cannot be read, is unsafe, or fits another network."""


class ImageError(StudioError):
    """A file that is not an image we can decode, or one that is too large."""


class DataError(StudioError):
    """A dataset that is missing, empty or malformed."""


class TrainingError(StudioError):
    """A training run that cannot start or continue."""


class RunDamagedError(TrainingError):
    """A file of a run folder that is unreadable or malformed. `path` names the file;
    the message says what is wrong with it and what to do (nothing was changed)."""

    def __init__(self, message: str, path: object = None) -> None:
        super().__init__(message)
        self.path = path


class DiskFullError(TrainingError):
    """No space (or quota) was left to write a run's file; what was there before is
    intact, and the run resumes once space is freed."""
