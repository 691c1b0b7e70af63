"""How long listing the runs table takes, next to the least work any listing must do.

Builds 100 finished CIFAR runs in a temp dir, each with a realistic metrics.jsonl
(200 epochs x 391 iterations, a record every 20 iterations plus one per epoch: about
4,200 lines, ~0.65 MB), then times

  list_runs          config.json + status.json per run, via resnet_studio
  baseline           os.listdir + json.load(config.json) per run, nothing else
  read_metrics x1    one run's metrics file, for the curves of the selected run

Usage: python bench/bench_runs_list.py [--runs 100] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from resnet_studio.core.runs import create_run, list_runs, open_run

ITERS_PER_EPOCH = 391  # 50k CIFAR images / batch 128
EPOCHS = 200


def metrics_blob() -> bytes:
    """One run's metrics.jsonl, shared by every run (content does not affect timing)."""
    lines = []
    for epoch in range(EPOCHS):
        for i in range(0, ITERS_PER_EPOCH, 20):
            it = epoch * ITERS_PER_EPOCH + i
            rec = {
                "iteration": it,
                "epoch": epoch,
                "loss": 2.3 / (1 + it / 5e3),
                "train_error": 0.9 / (1 + it / 4e3),
                "lr": 0.1,
                "images_per_s": 21345.6,
                "wall_time": it * 0.006,
            }
            lines.append(json.dumps(rec))
        it = (epoch + 1) * ITERS_PER_EPOCH
        lines.append(
            json.dumps(
                {
                    "iteration": it,
                    "epoch": epoch,
                    "val_error": 0.0712,
                    "test_error": 0.0735,
                    "wall_time": it * 0.006,
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def build(root: Path, n_runs: int) -> None:
    blob = metrics_blob()
    for k in range(n_runs):
        config = {
            "model": f"resnet{20 + 6 * (k % 4)}",
            "dataset": "cifar10",
            "recipe": {
                "name": "paper-cifar",
                "lr": 0.1,
                "momentum": 0.9,
                "weight_decay": 1e-4,
                "batch_size": 128,
                "milestones": [32000, 48000],
                "iterations": 64000,
            },
        }
        with create_run(config, runs_dir=root, name=f"run-{k:03d}") as run:
            run.metrics_path.write_bytes(blob)
            run.set_status(
                "finished",
                summary={
                    "iterations": EPOCHS * ITERS_PER_EPOCH,
                    "total_iterations": 64000,
                    "best_val_error": 0.0701,
                    "best_test_error": 0.0735,
                    "final_train_error": 0.001,
                },
            )


def baseline(root: Path) -> int:
    n = 0
    for name in os.listdir(root):
        with open(root / name / "config.json", "rb") as f:
            json.load(f)
        n += 1
    return n


def timeit(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        build(root, args.runs)
        size = sum(f.stat().st_size for f in root.rglob("metrics.jsonl")) / 1e6
        print(
            f"built {args.runs} runs ({size:.0f} MB of metrics) in {time.perf_counter() - t:.1f} s"
        )
        assert len(list_runs(root)) == baseline(root) == args.runs
        t_list = timeit(lambda: list_runs(root), args.repeat)
        t_base = timeit(lambda: baseline(root), args.repeat)
        run = open_run("run-000", runs_dir=root)
        n_rec = len(run.read_metrics())
        t_read = timeit(run.read_metrics, max(3, args.repeat // 4))
        print(f"list_runs         {t_list * 1e3:8.2f} ms  (median of {args.repeat})")
        print(f"baseline          {t_base * 1e3:8.2f} ms  (listdir + config.json)")
        print(f"ratio             {t_list / t_base:8.2f} x")
        print(f"read_metrics x1   {t_read * 1e3:8.2f} ms  ({n_rec} records)")


if __name__ == "__main__":
    main()
