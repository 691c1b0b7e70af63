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
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zipfile
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

    # ours: the trainer on the same images, no run store (nothing written)
    recipe = get_recipe("paper-cifar").with_overrides(
        dataset=f"folder:{folder}", val_size=0, batch_size=args.batch, device=str(device),
        log_every=20, eval_every=0, checkpoint_every=0, iterations=10**9, data_root=str(tmp))
    dataset = load_dataset(recipe.dataset, root=tmp, val_size=0)
    dataset.test = None
    trainer = RunTrainer(ModelChoice(args.model), recipe, dataset, device, None, DistContext(),
                         lambda event: None)

    # bare: one batch already on the device, normalised
    x, y = next(trainer.batches.epoch(0))
    bare_model = create_model(args.model).to(device)
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
    loader = torch.utils.data.DataLoader(usual_set, batch_size=args.batch, shuffle=True,
                                         num_workers=args.workers, drop_last=True,
                                         persistent_workers=args.workers > 0,
                                         pin_memory=device.type == "cuda")
    usual_model = create_model(args.model).to(device)
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

    results: dict[str, list[float]] = {"bare": [], "ours": [], "usual": []}
    for _ in range(args.rounds):
        results["bare"].append(images_per_second(bare_step, args.steps, args.batch, device))
        results["ours"].append(images_per_second(trainer.step, args.steps, args.batch, device))
        results["usual"].append(images_per_second(usual_step, args.steps, args.batch, device))
    median = {k: statistics.median(v) for k, v in results.items()}
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {args.model}, batch {args.batch}, 32 px, {args.images} CIFAR-10 JPEGs, {name}, "
          f"torch {torch.__version__}; median of {args.rounds} rounds x {args.steps} steps")
    print(f"# ours: amp={trainer.amp} channels_last={trainer.channels_last}; usual: fp32, "
          f"{args.workers} DataLoader workers")
    for key in ("bare", "ours", "usual"):
        print(f"{key:<6} {median[key]:9.0f} images/s   per round: "
              + ", ".join(f"{v:.0f}" for v in results[key]))
    print(f"ours / bare  = {median['ours'] / median['bare']:.3f}   (target >= 0.95 on CPU)")
    print(f"ours / usual = {median['ours'] / median['usual']:.2f}   (target >= 3 on an H100)")


if __name__ == "__main__":
    main()
