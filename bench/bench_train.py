"""Training throughput: our trainer, the bare compute, and the loop people usually write.

Same model, batch and images in one process (issue 3):
- bare:    forward, backward and step on one batch already in memory (the ceiling);
- ours:    `RunTrainer.step()`: on-device uint8 data, crop/flip/normalise on the device,
           one host sync per log window;
- usual:   torchvision ImageFolder of JPEGs + RandomCrop/Flip/ToTensor/Normalize through
           a DataLoader, fp32, `.item()` every step.
The phases alternate over rounds so machine noise hits all three alike. Targets: on
CPU ours >= 0.95 x bare; on an H100 ours >= 3 x usual for cifar-resnet20 at batch 128.

    .venv/bin/python bench/bench_train.py [--images 5000] [--steps 20] [--rounds 3] [--device auto]

`measure()` is the whole comparison as a function; bench/gpu_bench.py's part (b) calls it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import transforms

from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.data import load_dataset
from resnet_studio.core.device import resolve_device
from resnet_studio.core.distributed import DistContext
from resnet_studio.core.models import create_model
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.trainer import RunTrainer

CIFAR_TRAIN_ZIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10-jpeg" / "train.zip"


def extract_subset(zip_path: Path, per_class: int, into: Path) -> Path:
    """An ImageFolder of the first `per_class` JPEGs of each class."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            if len(parts) != 3 or not parts[2].endswith(".jpg"):
                continue
            if counts.get(parts[1], 0) < per_class:
                counts[parts[1]] = counts.get(parts[1], 0) + 1
                archive.extract(member, into)
    return into / "train"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(step, steps: int, batch: int, device: torch.device) -> float:
    step()  # warm-up step outside the timing
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


@dataclass
class Throughput:
    """What `measure` found: median images/s per phase, each round's figures, and how
    "ours" ran (amp, channels_last; compile_s when "ours_compiled" was measured)."""

    median: dict[str, float]
    rounds: dict[str, list[float]]
    amp: bool
    channels_last: bool
    compile_s: float | None = None


def _trainer(model: str, folder: Path, root: Path, batch: int, device: torch.device,
             compile_inductor: bool = False) -> RunTrainer:
    """Our trainer on the images of `folder`, no run store (nothing written)."""
    recipe = get_recipe("paper-cifar").with_overrides(
        dataset=f"folder:{folder}", val_size=0, batch_size=batch, device=str(device),
        log_every=20, eval_every=0, checkpoint_every=0, iterations=10**9, data_root=str(root),
        compile=compile_inductor)
    dataset = load_dataset(recipe.dataset, root=root, val_size=0)
    dataset.test = None
    return RunTrainer(ModelChoice(model), recipe, dataset, device, None, DistContext(),
                      lambda event: None)


def measure(model: str, folder: Path, root: Path, device: torch.device, *, batch: int = 128,
            steps: int = 20, rounds: int = 3, workers: int = 2,
            compile_backend: str | None = None) -> Throughput:
    """Images/s of bare, ours and usual (and, with `compile_backend`, ours compiled) on the
    ImageFolder `folder`, phases alternating over `rounds`; `root` holds the decoded cache.

    With compile_backend "inductor" the compiled trainer is the real one (`--compile
    true`); any other backend (bench/gpu_bench.py's CPU smoke uses "eager", a trace
    without code generation) wraps the trainer's forward the same way the trainer does.
    compile_s: the first compiled step's time less a steady step's."""
    trainer = _trainer(model, folder, root, batch, device)

    # bare: one batch already on the device, normalised
    x, y = next(trainer.batches.epoch(0))
    bare_model = create_model(model).to(device)
    if trainer.channels_last:
        bare_model = bare_model.to(memory_format=torch.channels_last)
    bare_opt = torch.optim.SGD(bare_model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def bare_step() -> None:
        with trainer._autocast():
            loss = nn.functional.cross_entropy(bare_model(x), y)
        bare_opt.zero_grad(set_to_none=True)
        loss.backward()
        bare_opt.step()

    # usual: DataLoader over PIL images with torchvision transforms, fp32, .item() per step
    usual_set = torchvision.datasets.ImageFolder(folder, transforms.Compose([
        transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))]))
    loader = torch.utils.data.DataLoader(usual_set, batch_size=batch, shuffle=True,
                                         num_workers=workers, drop_last=True,
                                         persistent_workers=workers > 0,
                                         pin_memory=device.type == "cuda")
    usual_model = create_model(model).to(device)
    usual_opt = torch.optim.SGD(usual_model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    usual_batches = iter(())

    def usual_step() -> None:
        nonlocal usual_batches
        try:
            images, labels = next(usual_batches)
        except StopIteration:
            usual_batches = iter(loader)
            images, labels = next(usual_batches)
        images, labels = images.to(device), labels.to(device)
        loss = nn.functional.cross_entropy(usual_model(images), labels)
        usual_opt.zero_grad()
        loss.backward()
        usual_opt.step()
        loss.item()

    phases = {"bare": bare_step, "ours": trainer.step, "usual": usual_step}
    compile_s = None
    if compile_backend is not None:
        compiled = _trainer(model, folder, root, batch, device,
                            compile_inductor=compile_backend == "inductor")
        if compile_backend != "inductor":
            compiled.forward = torch.compile(compiled.forward, backend=compile_backend)
        sync(device)
        started = time.perf_counter()
        compiled.step()  # traces and compiles forward and backward
        sync(device)
        first = time.perf_counter() - started
        steady = batch / images_per_second(compiled.step, max(steps // 4, 2), batch, device)
        compile_s = max(first - steady, 0.0)
        phases["ours_compiled"] = compiled.step
    results: dict[str, list[float]] = {key: [] for key in phases}
    for _ in range(rounds):
        for key, step in phases.items():
            results[key].append(images_per_second(step, steps, batch, device))
    return Throughput({k: statistics.median(v) for k, v in results.items()}, results,
                      trainer.amp, trainer.channels_last, compile_s)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="cifar-resnet20")
    parser.add_argument("--images", type=int, default=5000, help="training images (from train.zip)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    tmp = Path(tempfile.mkdtemp())
    folder = extract_subset(CIFAR_TRAIN_ZIP.resolve(), args.images // 10, tmp)
    found = measure(args.model, folder, tmp, device, batch=args.batch, steps=args.steps,
                    rounds=args.rounds, workers=args.workers)
    median, results = found.median, found.rounds
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {args.model}, batch {args.batch}, 32 px, {args.images} CIFAR-10 JPEGs, {name}, "
          f"torch {torch.__version__}; median of {args.rounds} rounds x {args.steps} steps")
    print(f"# ours: amp={found.amp} channels_last={found.channels_last}; usual: fp32, "
          f"{args.workers} DataLoader workers")
    for key in ("bare", "ours", "usual"):
        print(f"{key:<6} {median[key]:9.0f} images/s   per round: "
              + ", ".join(f"{v:.0f}" for v in results[key]))
    print(f"ours / bare  = {median['ours'] / median['bare']:.3f}   (target >= 0.95 on CPU)")
    print(f"ours / usual = {median['ours'] / median['usual']:.2f}   (target >= 3 on an H100)")


if __name__ == "__main__":
    main()
