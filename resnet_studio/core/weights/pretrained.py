"""The catalog of pretrained checkpoints: `resources/pretrained.json`, read without torch.

One entry per published file: mmpretrain's ResNet table under its own names
(`resnet18_8xb16_cifar10`), torchvision's `ResNet*_Weights` in timm's `model.tag`
form (`resnet50.tv2_in1k`), and akamaster's CIFAR reproduction
(`cifar-resnet20.akamaster`). Each says which zoo network and options it fits, its
class names (a key of `classes.CLASS_LISTS`), input size and preprocessing, URL and
sha256 prefix, training data, published top-1/top-5 and where, and a licence note.

Nothing here imports torch, so `resnet-studio pretrained` and the window's chooser
list the catalog (and which files are cached) at once; `fetch_pretrained` downloads.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from resnet_studio.core.catalog import ModelChoice, Preprocessing
from resnet_studio.core.errors import WeightsError
from resnet_studio.core.weights import download
from resnet_studio.core.weights.classes import class_list

RESOURCE = "pretrained.json"
FORMAT_VERSION = 1  # of the JSON file's layout
# How the window groups the chooser and the listing sorts: by training data.
DATASET_ORDER = ("CIFAR-10", "CIFAR-100", "ImageNet-1k", "CUB-200-2011")


@dataclass(frozen=True)
class PretrainedEntry:
    """One published checkpoint and everything needed to use and judge it."""

    name: str  # as its publisher names it (mmpretrain) or timm's model.tag form
    source: str  # "mmpretrain" | "torchvision" | "akamaster"
    model: str  # the zoo name of the network, e.g. "resnet18-cifar"
    num_classes: int
    shortcut: str | None  # Table 3 option of the weights' projections
    classes: str | None  # key of classes.CLASS_LISTS; None: shown by index
    preprocessing: Preprocessing  # what the publisher evaluated with
    interpolation: str  # of the resize: "bilinear" | "bicubic"
    url: str
    sha256_prefix: str | None  # from the file name, torch.hub's convention
    dataset: str  # training data, e.g. "CIFAR-10", "ImageNet-1k"
    top1: float | None  # published, percent
    top5: float | None  # published, percent; None when not published
    published_in: str  # where the numbers are published
    params: int | None
    licence: str
    preprocessing_from: str = ""  # where the preprocessing was read
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def file_name(self) -> str:
        """The name torch.hub caches the file under (the URL's last segment)."""
        return download.url_file_name(self.url)

    @property
    def choice(self) -> ModelChoice:
        """The network these weights are for, with its options."""
        return ModelChoice(self.model, self.num_classes, self.shortcut)

    def class_names(self) -> list[str] | None:
        """The class names in label order (ImageNet's come from torchvision, so this may
        import it), or None when the catalog has none for it."""
        names = class_list(self.classes)
        return list(names) if names is not None else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, with the cache state (for `--json` and the GUI)."""
        return {
            "name": self.name, "source": self.source, "model": self.model,
            "num_classes": self.num_classes, "shortcut": self.shortcut, "classes": self.classes,
            "input_size": self.preprocessing.input_size,
            "resize_size": self.preprocessing.resize_size,
            "mean": list(self.preprocessing.mean), "std": list(self.preprocessing.std),
            "interpolation": self.interpolation, "url": self.url,
            "sha256_prefix": self.sha256_prefix, "dataset": self.dataset, "top1": self.top1,
            "top5": self.top5, "published_in": self.published_in, "params": self.params,
            "licence": self.licence, "notes": list(self.notes), "cached": is_cached(self),
            "path": str(cache_path(self)),
        }  # fmt: skip


# ---------------------------------------------------------------------------- reading


@functools.cache
def pretrained_entries() -> tuple[PretrainedEntry, ...]:
    """Every entry of the catalog, in the file's order (read once)."""
    text = resources.files("resnet_studio.resources").joinpath(RESOURCE).read_text("utf-8")
    return parse_catalog(json.loads(text))


def parse_catalog(doc: dict[str, Any]) -> tuple[PretrainedEntry, ...]:
    """Entries from the JSON document; a malformed one is a bug of the package."""
    if int(doc.get("format_version", 0)) != FORMAT_VERSION:
        raise ValueError(f"{RESOURCE}: format_version {doc.get('format_version')!r} is not "
                         f"{FORMAT_VERSION}")
    known = set(PretrainedEntry.__dataclass_fields__) - {"extra"}
    entries = []
    for raw in doc["entries"]:
        values = {k: v for k, v in raw.items() if k in known}
        values["preprocessing"] = Preprocessing(**raw["preprocessing"])
        values["notes"] = tuple(raw.get("notes", ()))
        extra = {k: v for k, v in raw.items() if k not in known}
        entries.append(PretrainedEntry(**values, extra=extra))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"{RESOURCE}: duplicate names")
    return tuple(entries)


def pretrained_names() -> list[str]:
    """Every catalog name, in the file's order."""
    return [e.name for e in pretrained_entries()]


def is_pretrained_name(name: Any) -> bool:
    """Whether `name` is a catalog name (exactly, as users copy them)."""
    return isinstance(name, str) and name.strip() in _by_name()


def get_pretrained(name: str) -> PretrainedEntry:
    """The entry called `name`; a WeightsError with the closest names otherwise."""
    entry = _by_name().get(name.strip())
    if entry is not None:
        return entry
    close = difflib.get_close_matches(name.strip(), pretrained_names(), n=4, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise WeightsError(
        f"{name!r} is not a pretrained checkpoint resnet-studio knows.{hint} "
        "`resnet-studio pretrained` lists them all."
    )


def find_pretrained(text: str = "") -> list[PretrainedEntry]:
    """Entries whose name, network, dataset or source contains `text` (any case),
    grouped by training data (DATASET_ORDER), then in the file's order."""
    key = text.strip().lower()
    found = [e for e in pretrained_entries()
             if not key or any(key in s.lower() for s in (e.name, e.model, e.dataset, e.source))]
    rank = {d: i for i, d in enumerate(DATASET_ORDER)}
    return sorted(found, key=lambda e: rank.get(e.dataset, len(rank)))


@functools.cache
def _by_name() -> dict[str, PretrainedEntry]:
    return {e.name: e for e in pretrained_entries()}


# ---------------------------------------------------------------------------- files


def cache_path(entry: PretrainedEntry) -> Path:
    """Where the entry's file is (or will be): torch.hub's cache, by the URL's name."""
    return download.cache_path_for(entry.url)


def is_cached(entry: PretrainedEntry) -> bool:
    """Whether the file is already on this machine (no network needed to use it)."""
    return cache_path(entry).is_file()


def fetch_pretrained(entry: PretrainedEntry, progress: download.Progress | None = None) -> Path:
    """The entry's file, downloaded first (through the mirror, if set) unless cached.
    `progress(done, total)` may raise to cancel; no partial file is ever left."""
    return download.fetch(entry.url, progress=progress)
