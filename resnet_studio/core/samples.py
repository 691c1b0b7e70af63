"""The sample images shipped in the package: the first CIFAR-10 test image of each
class (`test/<class>/0000.jpg` of the CIFAR-10 JPEG copy), so a new user can classify
something real without a file at hand, offline; and a slice of the test set, its first
ten images of each class (`cifar10-test100.zip`, the same tree as the full test.zip),
for Figure 7 on real images and for the tests that re-measure the shipped weights.

Taken by position, not picked for being easy: what the shipped nets make of them is
what they make of the test set.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from resnet_studio.core.weights.classes import CIFAR10_CLASSES

SAMPLES = "cifar10"  # resources/samples/<SAMPLES>/<class>.jpg
TEST_SLICE = "cifar10-test100.zip"  # resources/samples/<TEST_SLICE>: test/<class>/000N.jpg


def _folder() -> Path:
    return Path(str(resources.files("resnet_studio") / "resources" / "samples"))


def cifar10_test_slice() -> Path:
    """The shipped slice of the CIFAR-10 test set: 100 images, 10 per class, as a zip
    that every `zip:` reader takes (`eval`, Figure 7)."""
    return _folder() / TEST_SLICE


def sample_paths() -> list[Path]:
    """One image per CIFAR-10 class, in label order; the file name is the true class."""
    folder = _folder() / SAMPLES
    return [folder / f"{name}.jpg" for name in CIFAR10_CLASSES]


def true_class(path: str | Path) -> str | None:
    """The class a shipped sample shows (its file name), None for any other file."""
    path = Path(path)
    stem = path.stem
    return stem if path.parent.name == SAMPLES and stem in CIFAR10_CLASSES else None
