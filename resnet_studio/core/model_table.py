"""What a network is (`ModelInfo`, `StageInfo`) and the precomputed table of every
listed network's parameters and FLOPs, read without torch.

Measuring a network (`core.models.model_info`) needs torch, and importing torch takes
seconds; `resnet-studio models` and the Model panel's first paint must not wait for it.
So `scripts/model_table.py` measures every name `catalog.model_names()` lists, at its
default options, into `resources/model_table.json`, and `listed_info` rebuilds the
same `ModelInfo` from that file and the catalog in milliseconds. The file holds only
measured numbers (parameters, multiply-adds, the stage rows); every fact a name fixes
(family, depth, input size...) still comes from the catalog. `tests/core/test_model_table.py`
re-measures every entry with torch, so the table cannot drift from the code.

Imports no torch and no numpy (an import-linter contract and tests/test_layers.py).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from resnet_studio.core.catalog import FAMILIES, ModelSpec, parse_name, resolve_shortcut

TABLE_FILE = "model_table.json"  # in resnet_studio/resources
REGENERATE_COMMAND = "python scripts/model_table.py"  # what rewrites the table


@dataclass(frozen=True)
class StageInfo:
    name: str  # "stem", "layer1", ...
    output_size: int  # side of the output feature map at the canonical input, pixels
    blocks: int
    channels: int  # output channels
    params: int
    macs: int  # multiply-accumulates at the canonical input


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str  # "imagenet" | "imagenet-cifar" | "cifar" | "cifar-bottleneck"
    family_label: str
    depth: int
    block: str  # "basic" | "bottleneck"
    variant: str  # "v1", "v1.5", "v1c", "v1d", "cifar", "paper", "preact"
    plain: bool
    shortcut: str | None  # "A" | "B" | "C", None for plain nets
    num_classes: int
    input_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    params: int
    macs: int  # multiply-accumulates of one forward at input_size
    stages: tuple[StageInfo, ...]

    @property
    def gflops(self) -> float:
        """GMACs, the unit of the paper's Table 1 and torchvision's tables."""
        return self.macs / 1e9

    def to_dict(self) -> dict:
        return asdict(self) | {"gflops": self.gflops}


def build_info(
    spec: ModelSpec, num_classes: int, shortcut: str | None, params: int, stages: tuple[StageInfo, ...]
) -> ModelInfo:
    """A ModelInfo from the catalog's facts about a name and the measured numbers: the
    one constructor of both the torch measurement and the table, so they cannot differ
    in anything but the numbers (which the table test compares)."""
    return ModelInfo(
        name=spec.name,
        family=spec.family,
        family_label=FAMILIES[spec.family],
        depth=spec.depth,
        block=spec.block,
        variant=spec.variant,
        plain=spec.plain,
        shortcut=shortcut,
        num_classes=num_classes,
        input_size=spec.input_size,
        resize_size=spec.resize_size,
        mean=spec.mean,
        std=spec.std,
        params=params,
        macs=sum(stage.macs for stage in stages),
        stages=stages,
    )


def listed_info(name: str, num_classes: int | None = None, *, shortcut: str | None = None) -> ModelInfo | None:
    """The table's ModelInfo of a zoo network, equal to `core.models.model_info(...)`
    with the same arguments; None when the table lacks it (a depth or an option it was
    not measured for, or a net added since the table was written): measure it then.
    A bad name or option raises ModelNameError, as model_info does."""
    spec = parse_name(name)
    classes = num_classes or spec.num_classes
    option = resolve_shortcut(spec, shortcut)
    entry = _entries().get(spec.name)
    if entry is None or entry["num_classes"] != classes or entry["shortcut"] != option:
        return None
    stages = tuple(StageInfo(**stage) for stage in entry["stages"])
    return build_info(spec, classes, option, entry["params"], stages)


def table_names() -> list[str]:
    """The names the table holds, in its order (that of `catalog.model_names()` when written)."""
    return list(_entries())


def table_entry(info: ModelInfo) -> dict[str, Any]:
    """What the table stores of one measured network: its options and numbers only."""
    return {
        "num_classes": info.num_classes,
        "shortcut": info.shortcut,
        "params": info.params,
        "stages": [asdict(stage) for stage in info.stages],
    }


def table_text(infos: list[ModelInfo], torch_version: str) -> str:
    """The table file's text: one line per network, so a regenerated table diffs by name."""
    lines = [f"  {json.dumps(info.name)}: {json.dumps(table_entry(info))}" for info in infos]
    about = (f"Parameters and multiply-adds of every listed network at its default options, "
             f"measured with torch {torch_version}. Written by `{REGENERATE_COMMAND}`: do not edit.")  # fmt: skip
    return "{\n" + f' "about": {json.dumps(about)},\n "models": {{\n' + ",\n".join(lines) + "\n }\n}\n"


@functools.cache
def _entries() -> dict[str, dict[str, Any]]:
    """The table's entries by name; empty when the file is missing or unreadable (a
    broken install): every network is then measured with torch, slower but right."""
    try:
        text = resources.files("resnet_studio.resources").joinpath(TABLE_FILE).read_text(encoding="utf-8")
        return dict(json.loads(text)["models"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
