"""What the subcommands share: the exit status for user errors and image loading."""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_USER_ERROR = 2
RANDOM_WEIGHTS_HINT = ("pass --weights FILE (or torchvision, a run, a pretrained name), or name a "
                       "pretrained checkpoint as --model (`resnet-studio pretrained` lists them)")


def load_images_reporting(paths: Sequence[str]) -> tuple[list, int]:
    """Load images and folders of images; print each bad one as an error line and go
    on with the rest. Returns the (path, image) pairs and how many failed."""
    from resnet_studio.core.errors import ImageError
    from resnet_studio.core.images import load_images

    failures: list[ImageError] = []
    images = load_images(paths, on_error=lambda path, exc: failures.append(exc))
    for exc in failures:
        print(f"error: {exc}", file=sys.stderr)
    return images, len(failures)
