"""Top-1/top-5, per-class accuracy and the confusion matrix, and the result object.

Counts accumulate on the device (one bincount per batch) and come to the CPU once at
the end: no `.item()` per batch (CONVENTIONS section 4).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

TOPK = 5


class Tally:
    """Running counts of one evaluation: rows are the dataset's classes, columns the
    same classes plus a last one for outputs that are none of them."""

    def __init__(self, outputs_of: list[int] | tuple[int, ...], num_outputs: int,
                 device: torch.device) -> None:
        self.classes = len(outputs_of)
        self.k = min(TOPK, num_outputs)
        self.target = torch.tensor(outputs_of, device=device)  # dataset label -> output
        back = torch.full((num_outputs,), self.classes, dtype=torch.long)  # output -> column
        back[torch.tensor(outputs_of)] = torch.arange(self.classes)
        self.column = back.to(device)
        size = self.classes * (self.classes + 1)
        self.confusion = torch.zeros(size, dtype=torch.long, device=device)
        self.topk_hits = torch.zeros(self.classes, dtype=torch.long, device=device)
        self.skipped = torch.zeros((), dtype=torch.long, device=device)

    def add(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Count one batch; labels < 0 (files that did not decode) are skipped."""
        ok = labels >= 0
        self.skipped += (~ok).sum()
        logits, labels = logits[ok], labels[ok]
        top = logits.topk(self.k, dim=1).indices
        target = self.target[labels]
        predicted = self.column[top[:, 0]]
        cells = labels * (self.classes + 1) + predicted
        self.confusion += torch.bincount(cells, minlength=self.confusion.numel())
        hit = (top == target[:, None]).any(dim=1)
        self.topk_hits += torch.bincount(labels[hit], minlength=self.classes)

    def matrix(self) -> list[list[int]]:
        """The confusion matrix, [true class][predicted class or 'other'] (one sync)."""
        return self.confusion.view(self.classes, self.classes + 1).cpu().tolist()


@dataclass
class EvaluationResult:
    """What an evaluation measured, beside what was published; plain values only."""

    model: str  # the network's zoo name
    weights: str  # the source: a catalog name, a file, a run's checkpoint
    dataset: str  # the spec evaluated
    split: str  # how it reads: "test.zip (test split)"
    class_names: list[str]  # the dataset's, confusion-matrix row order
    images: int  # images scored
    skipped: int  # files that would not decode
    top1: float  # percent
    top5: float  # percent (top-k with k = min(5, outputs))
    k: int
    per_class: dict[str, float]  # class -> top-1 percent (NaN: no image of it)
    class_images: dict[str, int]
    confusion: list[list[int]]  # [true][predicted], last column: none of the classes
    seconds: float  # decode + forward, after the model was loaded
    images_per_s: float
    device: str
    class_match: str  # "name" | "wnid" | "index"
    published_top1: float | None = None
    published_top5: float | None = None
    published_in: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def top1_diff(self) -> float | None:
        """Measured minus published top-1, in points."""
        return None if self.published_top1 is None else self.top1 - self.published_top1

    @property
    def top5_diff(self) -> float | None:
        return None if self.published_top5 is None else self.top5 - self.published_top5

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN per-class accuracies become null)."""
        out = asdict(self)
        out["per_class"] = {k: (None if math.isnan(v) else v) for k, v in self.per_class.items()}
        out["top1_diff"], out["top5_diff"] = self.top1_diff, self.top5_diff
        return out


def summarise(tally: Tally, class_names: list[str]) -> dict[str, Any]:
    """The fields of EvaluationResult that come from the counts."""
    matrix = tally.matrix()
    hits5 = tally.topk_hits.cpu().tolist()
    rows = [sum(r) for r in matrix]
    images = sum(rows)
    correct = sum(matrix[i][i] for i in range(len(matrix)))
    per_class = {name: (100.0 * matrix[i][i] / rows[i] if rows[i] else math.nan)
                 for i, name in enumerate(class_names)}  # fmt: skip
    return {
        "images": images, "skipped": int(tally.skipped.item()), "k": tally.k,
        "top1": 100.0 * correct / images if images else math.nan,
        "top5": 100.0 * sum(hits5) / images if images else math.nan,
        "per_class": per_class, "class_images": dict(zip(class_names, rows, strict=True)),
        "confusion": matrix,
    }  # fmt: skip
