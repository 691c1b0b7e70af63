"""How a run's data is named where curves are shown: one line from a dataset
description (`core.data.describe`, or a run's config.json "dataset"). Imports no torch,
so the app layer's run store readers stay light."""

from __future__ import annotations

from resnet_studio.core.weights.classes import CIFAR10_CLASSES


def dataset_label(described: dict) -> str:
    """One line naming the data a run trains on (from `describe`, or a run's
    config.json "dataset"), e.g. "CIFAR-10 · 16 px · 10,000 training / 1,000 test
    images". Synthetic data says so plainly: its curves are not CIFAR-10's."""
    name = str(described.get("name") or "?")
    if name == "synthetic":
        name = "synthetic data (built in, offline; not CIFAR-10)"
    elif name != "CIFAR-10" and tuple(described.get("classes") or ()) == CIFAR10_CLASSES:
        name = f"CIFAR-10 ({name})"  # a copy of it: a zip or a folder
    parts = [name]
    if described.get("image_size"):
        parts.append(f"{described['image_size']} px")
    counts = [f"{described[k]:,} {what}" for k, what in (("train", "training"), ("val", "validation"),
                                                          ("test", "test")) if described.get(k)]  # fmt: skip
    if counts:
        parts.append(" / ".join(counts) + " images")
    return " · ".join(parts)
