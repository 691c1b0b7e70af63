"""`predict`'s forward against a bare torchvision forward, same input, same process.

Target (issue 2): our overhead within 10%. Both models hold the same weights; the
repeats alternate between the two so that machine noise hits both alike.

    .venv/bin/python bench/bench_predict.py [--repeats 15] [--models resnet18 resnet50]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torchvision

from resnet_studio.core.images import IMAGENET_PREPROCESSING
from resnet_studio.core.models import create_model
from resnet_studio.core.predict import Predictor


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(name: str, repeats: int, batch: int) -> tuple[float, float]:
    reference = getattr(torchvision.models, name)().eval()
    ours = create_model(name)
    ours.load_state_dict(reference.state_dict())
    predictor = Predictor(ours, IMAGENET_PREPROCESSING, device="cpu")
    x = torch.randn(batch, 3, 224, 224)

    def bare() -> None:
        with torch.inference_mode():
            reference(x)

    def ours_predict() -> None:
        predictor.predict_batch(x, topk=5)

    for _ in range(2):  # warm-up: allocator, oneDNN primitives
        bare()
        ours_predict()
    bare_times, our_times = [], []
    for _ in range(repeats):
        bare_times.append(timed(bare))
        our_times.append(timed(ours_predict))
    return statistics.median(bare_times), statistics.median(our_times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "resnet101", "resnet152"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, batch {args.batch}, 224 px, median of {args.repeats}")
    print(f"{'model':<10} {'torchvision ms':>15} {'predict ms':>11} {'ratio':>6}")
    for name in args.models:
        bare, ours = bench(name, args.repeats, args.batch)
        print(f"{name:<10} {bare * 1e3:>15.1f} {ours * 1e3:>11.1f} {ours / bare:>6.3f}")


if __name__ == "__main__":
    main()
