"""What the window's Evaluate… dialog asks and shows, without Qt: the dataset it
names, the request it runs, and the result as rows and fractions to draw.

The dialog evaluates the Model panel's network as it is (`ModelState`): its loaded
weights (a LoadResult passed to `EvaluationJob(request, loaded=...)`, so nothing is
read or downloaded again) or, with a warning, its random initialisation.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_studio.app.evaluation import EvaluationRequest
from resnet_studio.app.model import ModelState
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.errors import DataError

# The dataset kinds the dialog offers, as (kind, label); the kinds are
# `core.evaluation.data.open_eval_data`'s spec prefixes.
DATASET_KINDS = (
    ("zip", "Zip file"),
    ("folder", "Folder"),
    ("cifar10", "CIFAR-10 (torchvision)"),
    ("cifar100", "CIFAR-100 (torchvision)"),
)
CIFAR_KINDS = ("cifar10", "cifar100")
RANDOM_WEIGHTS_WARNING = (
    "No weights are loaded: this evaluates a random initialisation, which scores about "
    "chance. Load pretrained weights or a weight file in the Model panel first."
)


@dataclass(frozen=True)
class DatasetChoice:
    """A dataset as the dialog names it: a kind of `DATASET_KINDS` and a path (the
    zip file, the folder, or for CIFAR the data root; empty: the default root)."""

    kind: str
    path: str = ""

    def spec(self) -> str:
        """The spec `open_eval_data` reads ("zip:PATH", "folder:PATH", "cifar10")."""
        path = self.path.strip()
        if self.kind in CIFAR_KINDS:
            return self.kind
        if self.kind not in ("zip", "folder"):
            raise DataError(f"Unknown dataset kind {self.kind!r}.")
        if not path:
            what = "zip file" if self.kind == "zip" else "folder"
            raise DataError(f"Choose the {what} of test images first (Browse…).")
        if not Path(path).expanduser().exists():
            raise DataError(f"{path} does not exist; choose another {self.kind}.")
        return f"{self.kind}:{path}"

    def data_root(self) -> str | None:
        """Where CIFAR's files are (downloaded if missing); None for the default."""
        return (self.path.strip() or None) if self.kind in CIFAR_KINDS else None


def evaluation_request(state: ModelState, dataset: DatasetChoice, *, batch_size: int = 256,
                       limit: int | None = None, device: str = "auto") -> EvaluationRequest:  # fmt: skip
    """The request for the current network on `dataset` (limit None or 0: all images)."""
    return EvaluationRequest(
        model=state.choice.name, weights=None, dataset=dataset.spec(), batch_size=batch_size,
        limit=limit or None, device=device, data_root=dataset.data_root(),
    )  # fmt: skip


def loaded_for_evaluation(choice: ModelChoice, weights: Any) -> Any:
    """The LoadResult to evaluate (call it in the worker): the loaded `weights` with a
    copy of their model, because evaluating moves the model to the device and into
    eval mode while the other panels may read the shared one; or, with `weights` None,
    a fresh initialisation of `choice` dressed as one (no class names: the dataset's
    classes are matched by index)."""
    if weights is not None:
        return dataclasses.replace(weights, model=copy.deepcopy(weights.model))
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import LoadResult

    choice = choice.resolved()
    model = create_model(choice.name, **choice.options())
    return LoadResult(model=model, format="random", source="random initialisation",
                      matched_keys=0, class_names=None, meta={}, model_name=choice.name)  # fmt: skip


def weights_warning(state: ModelState) -> str | None:
    """A warning to show before evaluating, or None when real weights are loaded."""
    return RANDOM_WEIGHTS_WARNING if state.weights is None else None


# ---------------------------------------------------------------------------- showing


def per_class_rows(result: Any) -> list[tuple[str, float, int]]:
    """(class, top-1 percent, images) in the dataset's class order (NaN: no image)."""
    return [(c, result.per_class[c], result.class_images[c]) for c in result.class_names]


def confusion_fractions(result: Any) -> list[list[float]]:
    """Each row of the confusion matrix as fractions of that class's images, so a heat
    map compares classes of any size (rows of a class with no image are zeros)."""
    rows = []
    for row in result.confusion:
        total = sum(row)
        rows.append([count / total if total else 0.0 for count in row])
    return rows


def headline(result: Any) -> tuple[str, str]:
    """(measured, published) top-1 for the dialog's big figures: "81.00 %",
    "91.73 % (−10.73)" or "not published"."""
    measured = f"{result.top1:.2f} %"
    if result.published_top1 is None or result.top1_diff is None:
        return measured, "not published"
    return measured, f"{result.published_top1:.2f} % ({result.top1_diff:+.2f} points)"


def percent_text(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f} %"
