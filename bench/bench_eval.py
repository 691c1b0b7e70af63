"""`eval`'s images/s against the usual loop, same files, same model, one process.

The usual loop: torchvision `ImageFolder` + `ToTensor` + `Normalize` + `DataLoader`
(workers), argmax, count. Ours: `core.evaluation.evaluate` on `folder:` (threaded
batched decode into one uint8 tensor, normalised per batch). Both run end to end
(scan + decode + forward + counting; our weight-file load is not timed, as the usual
loop gets its model for free) on the same extracted images; repeats alternate.
Target (issue 10): ratio >= 1.0 on the CPU.

    .venv/bin/python bench/bench_eval.py [--images 2000] [--repeats 3] [--model cifar-resnet20]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import torch

from resnet_studio.core.catalog import CIFAR_PREPROCESSING
from resnet_studio.core.evaluation import evaluate
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, save_weights

TEST_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "test.zip"


def extract(images: int, folder: Path) -> Path:
    """`images` of test.zip spread over its classes, as an ImageFolder tree."""
    with zipfile.ZipFile(TEST_ZIP) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".jpg"))
        for name in names[:: max(1, len(names) // images)][:images]:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
    return folder / "test"


def usual_loop(model: torch.nn.Module, root: Path, batch: int, workers: int) -> tuple[int, float]:
    from torchvision import datasets, transforms

    prep = CIFAR_PREPROCESSING
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize(prep.mean, prep.std)])  # fmt: skip
    loader = torch.utils.data.DataLoader(datasets.ImageFolder(str(root), transform),
                                         batch_size=batch, num_workers=workers)  # fmt: skip
    correct = total = 0
    with torch.inference_mode():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return total, 100.0 * correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="cifar-resnet20")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = create_model(args.model).eval()
    with tempfile.TemporaryDirectory() as tmp:
        root = extract(args.images, Path(tmp))
        weights = Path(tmp) / "w.safetensors"
        save_weights(model, weights, {"model": args.model, "class_names": list(CIFAR10_CLASSES),
                                      "preprocessing": CIFAR_PREPROCESSING})  # fmt: skip
        ours, usual = [], []
        for _ in range(args.repeats):
            result = evaluate(None, str(weights), f"folder:{root}", batch_size=args.batch,
                              device="cpu")  # fmt: skip
            ours.append(result.images_per_s)  # from opening the folder to the last count
            start = time.perf_counter()
            n, top1 = usual_loop(model, root, args.batch, args.workers)
            usual.append(n / (time.perf_counter() - start))
            assert n == result.images and abs(top1 - result.top1) < 1e-9, (top1, result.top1)
    o, u = statistics.median(ours), statistics.median(usual)
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"{args.model}, {args.images} CIFAR-10 JPEGs, batch {args.batch}, median of {args.repeats}")
    print(f"usual loop (ImageFolder + DataLoader, {args.workers} workers): {u:8.0f} images/s")
    print(f"resnet-studio eval:                                  {o:8.0f} images/s")
    print(f"ratio: {o / u:.2f} (target >= 1.0); same top-1 on both: {result.top1:.2f} %")


if __name__ == "__main__":
    main()
