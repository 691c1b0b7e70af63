"""Training recipes: dataclass configs saved as JSON beside every run.

Every field can be set from the command line (`--batch-size 64`, `--milestones
32000,48000`); the CLI builds its options from these fields, so a new field is a new
flag without further code.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from resnet_studio.core.errors import StudioError


@dataclass
class Recipe:
    name: str = "quick"
    # data
    dataset: str = "synthetic"  # synthetic | cifar10 | cifar100 | folder:PATH | zip:PATH
    data_root: str | None = None  # folder for cifar10/cifar100 (default: the user's data dir)
    download: bool = False  # let torchvision download CIFAR when missing
    image_size: int | None = None  # px; None keeps the dataset's own size
    val_size: int = 5000  # images carved from train for validation (paper: 45k/5k)
    train_size: int | None = None  # a fixed class-balanced subset of train (None: all of it)
    test_size: int | None = None  # a fixed class-balanced subset of test (None: all of it)
    normalization: str = "per-pixel"  # per-pixel (section 4.2) | per-channel
    augment: bool = True  # 4-px pad + 32 crop + flip (section 4.2); scale aug for ImageNet
    workers: int = 4  # DataLoader workers, only for large images that stream
    # optimisation
    batch_size: int = 128  # images per iteration, over all GPUs
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    iterations: int | None = 64_000  # the run's total length (None: use epochs)
    epochs: int | None = None  # alternative to iterations
    schedule: str = "steps"  # steps (divide at milestones) | plateau (divide when val error stalls)
    milestones: tuple[int, ...] = (32_000, 48_000)  # iterations where lr is divided by 10
    lr_decay: float = 0.1
    plateau_patience: int = 5  # evaluations without improvement before dividing (plateau)
    warmup_lr: float | None = 0.01  # section 4.2, for 110 layers and deeper: this lr until ...
    warmup_until_error: float = 0.8  # ... training error falls below 80% (~400 iterations)
    warmup_min_depth: int = 110
    # bookkeeping
    eval_every: int = 1000  # iterations between validation/test evaluations
    log_every: int = 20  # iterations between metric records (the one host sync point)
    checkpoint_every: int = 2000  # iterations between checkpoints (also on stop and finish)
    grad_norms: bool = True  # record each conv/fc layer's gradient norm per log window
    # hardware
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool | None = None  # bf16 autocast; None: where bf16 is native (core.device.native_bf16)
    channels_last: bool | None = None  # None: on for CUDA and the CPU (core.device.fast_layout)
    compile: bool = False  # torch.compile the model
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """A recipe from its JSON (a run's config.json). Unknown keys (from another
        version) are ignored and missing ones take their defaults; a value of the wrong
        type or range raises StudioError naming the field."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key, value in values.items():
            problem = _field_problem(key, value)
            if problem:
                raise StudioError(f"recipe field {key} is {value!r}, not {problem}")
        if "milestones" in values:
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with `overrides` applied; None values leave a field as it is."""
        changes = {key: value for key, value in overrides.items() if value is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise StudioError(f"unknown recipe field(s): {', '.join(sorted(unknown))}")
        if "epochs" in changes and "iterations" not in changes:
            changes["iterations"] = None  # --epochs replaces the recipe's iteration count
        if "iterations" in changes and "epochs" not in changes:
            changes["epochs"] = None
        return dataclasses.replace(self, **changes)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Fields whose value must also be in range, or the engine fails deep inside numpy/torch.
_MINIMUM = {"batch_size": 1, "iterations": 1, "epochs": 1, "val_size": 0, "workers": 0,
            "train_size": 1, "test_size": 1,
            "seed": 0, "eval_every": 0, "log_every": 0, "checkpoint_every": 0,
            "plateau_patience": 0, "warmup_min_depth": 0, "image_size": 1}  # fmt: skip


def _field_problem(name: str, value: Any) -> str:
    """What a JSON value of field `name` should have been ("" when it is fine)."""
    kind = str(_FIELD_TYPES[name])
    if value is None:
        return "" if "None" in kind else "a value (null is not allowed)"
    if "tuple" in kind:
        ok = isinstance(value, (list, tuple)) and all(_is_int(v) and v >= 0 for v in value)
        return "" if ok else "a list of iteration counts"
    if "bool" in kind:
        return "" if isinstance(value, bool) else "true or false"
    if "int" in kind and "float" not in kind:
        if not _is_int(value):
            return "an integer"
        low = _MINIMUM.get(name)
        return f"an integer >= {low}" if low is not None and value < low else ""
    if "float" in kind:
        ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value) and value >= 0
        return "" if ok else "a number >= 0"
    return "" if isinstance(value, str) else "text"


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Recipe)}

RECIPES: dict[str, Recipe] = {
    # Section 4.2: batch 128, lr 0.1 divided by 10 at 32k and 48k, stop at 64k, wd 1e-4,
    # momentum 0.9, 45k/5k split, per-pixel mean subtraction, pad-4 crop + flip.
    "paper-cifar": Recipe(name="paper-cifar", dataset="cifar10"),
    # Section 3.4: batch 256, lr 0.1 divided by 10 when the error plateaus, wd 1e-4,
    # momentum 0.9, up to 60e4 iterations; scale augmentation and 224 crops.
    "paper-imagenet": Recipe(
        name="paper-imagenet", dataset="folder:imagenet", batch_size=256, iterations=600_000,
        schedule="plateau", milestones=(), normalization="per-channel", val_size=10_000,
        warmup_lr=None, eval_every=5000, checkpoint_every=5000, log_every=50,
    ),
    # Figure 6 on the real CIFAR-10 in about 8 minutes on 2 cores (bench/fig6_real.py,
    # bench/RESULTS.md): the four nets as one comparison at 16 px, lr 0.02, no crop/flip
    # (a 4-px shift is a quarter of a 16 px image), tested on a fixed 1,000 test images.
    # Measured over seeds 0-2: plain-56 above plain-20 through the second half, both
    # ResNets below their plain twins; at lr 0.1 ResNet-56 sits at 88 % for 300
    # iterations without the warm-up the paper gives only its 110-layer net.
    "figure6": Recipe(
        name="figure6", dataset="cifar10", download=True, image_size=16, augment=False,
        val_size=0, test_size=1000, batch_size=128, lr=0.02, iterations=1000, milestones=(800,),
        warmup_lr=None, eval_every=100, log_every=20, checkpoint_every=1000,
        channels_last=True,
    ),
    # The CPU demo: the four nets of Figure 6 (plain-20/56, ResNet-20/56) on the
    # synthetic data in at most 5 minutes on 2 cores, with the degradation visible.
    # lr 0.01 and no crop/flip: measured (bench/fig6_synthetic.py) so that ResNet-56 ends
    # at or below ResNet-20 within 400 iterations; at lr 0.02+ or with pad-4 crops of the
    # 16 px images, ResNet-56 is still behind ResNet-20 when the budget runs out.
    "quick": Recipe(
        name="quick", dataset="synthetic", image_size=16, batch_size=128, iterations=400,
        milestones=(300,), lr=0.01, augment=False, val_size=1000, warmup_lr=None,
        eval_every=100, log_every=10, checkpoint_every=200,
    ),
}


def get_recipe(name: str) -> Recipe:
    try:
        return dataclasses.replace(RECIPES[name])
    except KeyError:
        raise StudioError(
            f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}"
        ) from None


def parse_field(name: str, text: str) -> Any:
    """Convert a command-line string to the type of the recipe field `name`."""
    kind = {f.name: f.type for f in dataclasses.fields(Recipe)}[name]
    if text.lower() in ("none", "null", "") and "None" in str(kind):
        return None
    try:
        if "tuple" in str(kind):
            return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
        if "bool" in str(kind):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if "int" in str(kind) and "float" not in str(kind):
            return int(float(text)) if "e" in text.lower() else int(text)
        if "float" in str(kind):
            return float(text)
        return text
    except ValueError:
        raise StudioError(f"--{name.replace('_', '-')}: cannot read {text!r} as {kind}") from None


__all__ = ["RECIPES", "Recipe", "get_recipe", "parse_field"]
