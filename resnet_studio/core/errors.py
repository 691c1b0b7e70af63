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
