"""How long the Inspection panel waits: image file -> top-k + one layer's grid, Grad-CAM.

Times each path against a bare forward of the same model in the same process, after
warm-up, as medians of several repeats taken round-robin (one of each per round), so
a noisy shared CPU slows all of them alike and the ratios stay meaningful.

    python bench/bench_inspect.py                       # resnet50, 224 px, layer2
    python bench/bench_inspect.py --model resnet18 --layer layer3.1 --repeats 15

Targets on a 2-core CPU, resnet50 at 224 px: file -> top-5 + activations <= 150 ms,
Grad-CAM <= 400 ms. Weights are random: the time does not depend on them. On a CPU
shared with other jobs, `--threads 1` avoids OpenMP threads spinning against them
(2 threads under load ~8 ran 5-10x slower than 1 thread).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from resnet_studio.core.catalog import resolve_preprocessing
from resnet_studio.core.images import load_image, preprocess, to_display
from resnet_studio.core.inspect import activations, figure7, grad_cam, overlay, render_grid
from resnet_studio.core.models import create_model
from resnet_studio.core.predict import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--layer", default="layer2")
    parser.add_argument("--image", help="an image file (default: a 640 x 480 JPEG of noise)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--fig7-images", type=int, default=8, help="batch for the Figure 7 timing (0: skip)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    predictor = Predictor(create_model(args.model), resolve_preprocessing(args.model))
    model, prep = predictor.model, predictor.preprocessing
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.image) if args.image else _noise_jpeg(Path(tmp) / "noise.jpg")
        x = preprocess(load_image(path), prep)
        batch = x[None]

        def bare_forward() -> None:
            with torch.inference_mode():
                model(batch)

        def file_to_topk_and_grid() -> None:
            xi = preprocess(load_image(path), prep)
            maps = activations(model, xi, args.layer, max_maps=64)
            predictor.scores(maps.logits, 5)
            render_grid(maps)

        def activations_only() -> None:
            activations(model, x, args.layer, max_maps=64)

        def gradcam_only() -> None:
            grad_cam(model, x)

        def gradcam_with_overlay() -> None:
            overlay(to_display(x, prep), grad_cam(model, x).heatmap)

        cases: dict[str, Callable[[], None]] = {
            "bare forward (inference_mode)": bare_forward,
            f"forward + {args.layer} maps": activations_only,
            "file -> top-5 + grid (full path)": file_to_topk_and_grid,
            "Grad-CAM (layer4)": gradcam_only,
            "Grad-CAM + overlay": gradcam_with_overlay,
        }
        if args.fig7_images:
            many = batch.expand(args.fig7_images, -1, -1, -1).contiguous()
            cases[f"Figure 7 stats, {args.fig7_images} images"] = lambda: figure7({"m": model}, many)
        times = _measure(cases, args.repeats, args.warmup)

    base = statistics.median(times["bare forward (inference_mode)"])
    print(f"{args.model} at {prep.input_size} px, layer {args.layer}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.repeats} repeats after {args.warmup} warm-up")
    print(f"{'path':<36} {'median ms':>10} {'min ms':>8} {'x forward':>10}")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"{name:<36} {med * 1e3:>10.1f} {min(samples) * 1e3:>8.1f} {med / base:>10.2f}")


def _noise_jpeg(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def _measure(cases: dict[str, Callable[[], None]], repeats: int, warmup: int) -> dict[str, list[float]]:
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):  # round-robin: background load hits every case alike
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
