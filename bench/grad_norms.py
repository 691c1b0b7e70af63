"""The cost of recording per-layer gradient norms (issue 12, item 2; target <= 3 %).

Two `RunTrainer`s in one process, on the same data, differ only in the recipe's
`grad_norms` (on: after each backward one `torch._foreach_norm` over the conv/fc
weight gradients summed into a device tensor, read at the one sync per log window).
Their steps are timed in interleaved rounds, the order flipped every round (ABBA), so
machine noise hits both alike; each round is one whole log window (the sync included).
It prints the median images/s of each, their ratio, and, as a noise-free cross-check,
the time of `GradientNorms.accumulate()` alone against a bare step.

    .venv/bin/python bench/grad_norms.py [--model cifar-resnet20] [--batch 128]
        [--rounds 6] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.data import load_dataset
from resnet_studio.core.device import resolve_device
from resnet_studio.core.distributed import DistContext
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.trainer import RunTrainer


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_window(trainer: RunTrainer, steps: int, device: torch.device) -> float:
    """Seconds for `steps` steps (a log window, ending with its sync)."""
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="cifar-resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--log-every", type=int, default=20, help="steps per window (= round)")
    parser.add_argument("--rounds", type=int, default=6, help="windows per variant")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    recipe = get_recipe("paper-cifar").with_overrides(
        dataset="synthetic", image_size=32, val_size=0, batch_size=args.batch,
        device=str(device), log_every=args.log_every, eval_every=0, checkpoint_every=0,
        iterations=10**9, warmup_lr=None)
    dataset = load_dataset("synthetic", image_size=32, val_size=0, seed=recipe.seed)
    dataset.test = None

    def trainer(grad_norms: bool) -> RunTrainer:
        return RunTrainer(ModelChoice(args.model), recipe.with_overrides(grad_norms=grad_norms),
                          dataset, device, None, DistContext(), lambda event: None)

    trainers = {"off": trainer(False), "on": trainer(True)}
    for t in trainers.values():  # warm-up: allocator, kernels, the first window
        timed_window(t, args.log_every, device)
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    for round_ in range(args.rounds):
        order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
        for key in order:
            seconds[key].append(timed_window(trainers[key], args.log_every, device))
    rate = {k: [args.log_every * args.batch / s for s in v] for k, v in seconds.items()}
    median = {k: statistics.median(v) for k, v in rate.items()}
    # per round, on's throughput over off's: off's seconds over on's
    paired = [off_s / on_s for off_s, on_s in zip(seconds["off"], seconds["on"], strict=True)]

    # cross-check: the recording alone, after a backward, against a whole step
    on = trainers["on"]
    norms = on.grad_norms
    repeats = 50
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        norms.accumulate()
    sync(device)
    accumulate_s = (time.perf_counter() - start) / repeats
    step_s = statistics.median(seconds["off"]) / args.log_every

    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {args.model}, batch {args.batch}, 32 px synthetic, {name}, torch {torch.__version__}; "
          f"{args.rounds} interleaved rounds x {args.log_every} steps, {len(norms)} layers recorded")
    for key in ("off", "on"):
        print(f"{key:<4} {median[key]:8.1f} images/s   per round: "
              + ", ".join(f"{v:.1f}" for v in rate[key]))
    slower = 1 - median["on"] / median["off"]
    print(f"on / off = {median['on'] / median['off']:.4f}  ({100 * slower:+.2f} % slower; target <= 3 %)")
    print(f"per round on/off throughput: median {statistics.median(paired):.4f} "
          f"(min {min(paired):.4f}, max {max(paired):.4f})")
    print(f"accumulate() alone: {1e3 * accumulate_s:.3f} ms = {100 * accumulate_s / step_s:.2f} % "
          f"of a {1e3 * step_s:.1f} ms step")


if __name__ == "__main__":
    main()
