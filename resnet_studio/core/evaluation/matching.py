"""Which output of the network each dataset class is: by name, by ImageNet folder id,
or by position when the weights carry no names.

Folder names rarely spell a class exactly as a checkpoint does ("aquarium fish",
"Aquarium_Fish", "aquarium_fish"), and their sorted order need not be the label
order, so names are compared case-, space-, dash- and underscore-insensitively and
the dataset's labels are remapped onto the network's outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from resnet_studio.core.errors import DataError

_WNID = re.compile(r"^n\d{8}$")  # ImageNet's WordNet folder ids, e.g. n01440764
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class ClassMatch:
    """Dataset label i is network output `outputs[i]`."""

    outputs: tuple[int, ...]
    by: str  # "name" | "wnid" (ImageNet folders, sorted order) | "index" (no names)
    notes: tuple[str, ...] = field(default=())


def normalise(name: str) -> str:
    """The spelling-free key two class names are compared by."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


def match_classes(
    dataset: Sequence[str], network: Sequence[str] | None, outputs: int
) -> ClassMatch:
    """Map the dataset's classes onto the network's outputs, or refuse with a DataError
    that says why (more classes than outputs, names that do not match).

    A dataset may hold fewer classes than the network (CIFAR-10's ten out of a
    100-class net would be refused only for lack of names); every one must match.
    """
    if len(dataset) > outputs:
        raise DataError(
            f"The dataset has {len(dataset)} classes but the network only {outputs} outputs: "
            f"a {outputs}-class network cannot be evaluated on it. Choose a checkpoint "
            f"trained on these classes, or a dataset of the network's {outputs}."
        )
    if len(dataset) == IMAGENET_CLASSES == outputs and all(_WNID.match(d) for d in dataset):
        # ImageNet's label i is the i-th wnid in sorted order (torchvision, timm, mmpretrain)
        order = sorted(range(len(dataset)), key=lambda i: dataset[i])
        outputs_of = [0] * len(dataset)
        for label, i in enumerate(order):
            outputs_of[i] = label
        return ClassMatch(tuple(outputs_of), "wnid", ("ImageNet folder ids in sorted order",))
    if network is None:
        if len(dataset) != outputs:
            raise DataError(
                f"The weights carry no class names and the network has {outputs} outputs "
                f"for the dataset's {len(dataset)} classes, so the classes cannot be matched."
            )
        return ClassMatch(tuple(range(outputs)), "index",
                          ("the weights carry no class names: dataset classes matched by "
                           "sorted folder order",))  # fmt: skip
    keys = {}
    for i, name in enumerate(network):
        keys.setdefault(normalise(name), i)
        head = name.split(",")[0]  # mmpretrain's ImageNet names: "tench, Tinca tinca"
        keys.setdefault(normalise(head), i)
    found = [keys.get(normalise(d)) for d in dataset]
    missing = [d for d, i in zip(dataset, found, strict=True) if i is None]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        sample = ", ".join(list(network)[:5])
        raise DataError(
            f"{len(missing)} of the dataset's {len(dataset)} classes are not classes of the "
            f"network ({shown}); its classes are {sample}, ... Use a dataset whose folders "
            "are named after the network's classes."
        )
    if len(set(found)) != len(found):
        raise DataError("Two dataset classes match the same class of the network; rename one.")
    notes = () if found == list(range(len(found))) else ("dataset labels remapped to the "
                                                        "network's class order",)  # fmt: skip
    return ClassMatch(tuple(int(i) for i in found), "name", notes)
