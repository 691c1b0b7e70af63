"""The sample images shipped in the package: the first CIFAR-10 test image of each
class (`test/<class>/0000.jpg` of the CIFAR-10 JPEG copy), so a new user can classify
something real without a file at hand, offline.

Taken by position, not picked for being easy: what the shipped nets make of them is
what they make of the test set.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from resnet_studio.core.weights.classes import CIFAR10_CLASSES

SAMPLES = "cifar10"  # resources/samples/<SAMPLES>/<class>.jpg


def sample_paths() -> list[Path]:
    """One image per CIFAR-10 class, in label order; the file name is the true class."""
    folder = Path(str(resources.files("resnet_studio") / "resources" / "samples" / SAMPLES))
    return [folder / f"{name}.jpg" for name in CIFAR10_CLASSES]


def true_class(path: str | Path) -> str | None:
    """The class a shipped sample shows (its file name), None for any other file."""
    path = Path(path)
    stem = path.stem
    return stem if path.parent.name == SAMPLES and stem in CIFAR10_CLASSES else None
