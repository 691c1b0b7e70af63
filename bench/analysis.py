"""The analyses' cost against plain evaluation passes over the same images, one process.

Baseline: one forward pass (channels_last, inference mode, argmax) over the images,
the unit both analyses are made of. A lesion study of cifar-resnet56 costs
1 + 27 + 27 x draws lesion passes if each were a full forward; the cached walk
shares the blocks in front of each set's first change. A 1D landscape costs one
pass per point plus building the shifted weights. Printed: seconds, seconds of a
baseline pass, their ratio ("passes"), and the time at the issue's sizes (lesions on
1,000 test images, 51 points on 2,000 training images) that this machine's baseline
gives. Targets (issue 12): <= 1 min and <= 3 min on 2 cores.

    .venv/bin/python bench/analysis.py [--lesion-images 1000] [--draws 3]
                                       [--landscape-images 2000] [--points 51]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from resnet_studio.core.analysis import (
    lesion_batch_size,
    lesion_study,
    load_batches,
    loss_landscape,
)
from resnet_studio.core.catalog import CIFAR_PREPROCESSING
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, LoadResult

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"
MODEL = "cifar-resnet56"


def _loaded() -> LoadResult:
    torch.manual_seed(0)
    model = create_model(MODEL).eval().to(memory_format=torch.channels_last)
    return LoadResult(model=model, format="ours", source="random", matched_keys=0,
                      class_names=list(CIFAR10_CLASSES), meta={}, model_name=MODEL,
                      preprocessing=CIFAR_PREPROCESSING)  # fmt: skip


def baseline(model: torch.nn.Module, data) -> float:  # noqa: ANN001
    start = time.perf_counter()
    with torch.inference_mode():
        hits = [(model(x).argmax(1) == t).sum() for x, t in data.batches]
    int(sum(hits))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lesion-images", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--landscape-images", type=int, default=2000)
    parser.add_argument("--points", type=int, default=51)
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    )
    loaded = _loaded()
    model, cpu = loaded.model, torch.device("cpu")

    test = load_batches(loaded, f"zip:{SHARED / 'test.zip'}", images=args.lesion_images,
                        batch_size=lesion_batch_size(loaded, 250), device=cpu)  # fmt: skip
    before = baseline(model, test)
    lesion = lesion_study(model, test, input_size=32, draws=args.draws, name=MODEL)
    after = baseline(model, test)
    unit = (before + after) / 2
    naive = 1 + 27 + 27 * args.draws
    per_1000 = unit * 1000 / test.images
    print(
        f"lesion study, {test.images} test images, {args.draws} draws: {lesion.seconds:.1f} s; "
        f"baseline pass {before:.2f} / {after:.2f} s: {lesion.seconds / unit:.1f} passes "
        f"(full forwards would be {naive}: walk {naive * unit / lesion.seconds:.2f}x faster); "
        f"at 1,000 images: {lesion.seconds / unit * per_1000:.0f} s (target 60 s)"
    )

    train = load_batches(loaded, f"zip:{SHARED / 'train.zip'}", images=args.landscape_images,
                         batch_size=500, device=cpu)  # fmt: skip
    before = baseline(model, train)
    land = loss_landscape(model, train, dims=1, points=args.points, name=MODEL)
    after = baseline(model, train)
    unit = (before + after) / 2
    per_2000 = unit * 2000 / train.images
    print(
        f"1D landscape, {train.images} training images, {args.points} points: {land.seconds:.1f} s; "
        f"baseline pass {before:.2f} / {after:.2f} s: {land.seconds / unit:.2f} passes "
        f"({land.seconds / unit / args.points:.3f} per point); at 51 points on 2,000 images: "
        f"{land.seconds / unit / args.points * 51 * per_2000:.0f} s (target 180 s)"
    )


if __name__ == "__main__":
    main()
