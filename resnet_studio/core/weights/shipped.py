"""Weights trained by resnet-studio itself and shipped in the package, so the paper's
CIFAR nets classify real images on a fresh install without internet.

Each lives in `resources/weights/<zoo name>.safetensors` (our format: model, options,
class names and preprocessing in the header) beside `<zoo name>.json`, its
provenance: the command that trained it, the run's config.json, its final metrics,
the measured test accuracy and how it was stored. They are the default weights of
those nets (`resolve_model_and_weights`); random weights are asked for explicitly
(`--weights random`). Imports no torch: listing them is instant.

`scripts/ship_weights.py RUN` writes both files from a finished run. None ship yet:
the first ones (cifar-resnet20 and its plain twin, trained on the real CIFAR-10)
are issue 11's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from resnet_studio.core.catalog import ModelChoice, parse_name

RANDOM = "random"  # --weights random: a fresh He initialisation, on purpose


@dataclass(frozen=True)
class ShippedWeights:
    name: str  # the zoo name they are for, with its default options
    path: Path  # the safetensors file
    provenance: dict[str, Any]  # the JSON beside it

    @property
    def label(self) -> str:
        """How the window and the CLI name them: what they are and how good."""
        p = self.provenance
        return (f"trained by resnet-studio: {p['epochs']:g} epochs, {p['test_top1']:.1f} % "
                f"on the CIFAR-10 test set")  # fmt: skip


def _folder() -> Path:
    return Path(str(resources.files("resnet_studio") / "resources" / "weights"))


def shipped_names() -> list[str]:
    """The zoo names that come with trained weights."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.safetensors") if p.with_suffix(".json").is_file())


def shipped_weights(name: str, choice: ModelChoice | None = None) -> ShippedWeights | None:
    """The shipped weights of zoo net `name`, None when there are none or when `choice`
    asks for options they were not trained with (another shortcut, class count)."""
    spec = parse_name(name)
    if spec.name not in shipped_names():
        return None
    path = _folder() / f"{spec.name}.safetensors"
    provenance = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    if choice is not None and choice.resolved() != ModelChoice(spec.name).resolved():
        return None
    return ShippedWeights(spec.name, path, provenance)
