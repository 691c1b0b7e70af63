"""The cost of recording per-layer gradient norms (issue 12, item 2; target <= 3 %).

One `RunTrainer` (recipe `grad_norms` true) is stepped in rounds of one whole log
window each (its sync included), with the recording off and on in turn: off is the
trainer's own `grad_norms = None`, the very path of `--grad-norms false` (every use is
an `is not None` check); on is after each backward one `torch._foreach_norm` over the
conv/fc weight gradients summed into a device tensor, read at the window's sync. One
trainer, so both variants run on the same model, memory and batches stream; the order
flips every round (ABBA) so drifts of a shared machine hit both alike. (A first
version with two trainers, one per variant, measured them 25 % apart under load while
the recording itself timed at 0.01 % of a step: noise or the two models, not the
recording, so the variants now share one trainer.) It prints the median images/s of
each, the median of the per-round ratios, and, as a cross-check that noise cannot
swamp, the time of `GradientNorms.accumulate()` alone against a step.

    .venv/bin/python bench/grad_norms.py [--model cifar-resnet20] [--batch 128]
        [--log-every 5] [--rounds 16] [--device cpu]
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
    parser.add_argument("--log-every", type=int, default=5, help="steps per window (= round)")
    parser.add_argument("--rounds", type=int, default=16, help="windows per variant")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    recipe = get_recipe("paper-cifar").with_overrides(
        dataset="synthetic", image_size=32, val_size=0, batch_size=args.batch,
        device=str(device), log_every=args.log_every, eval_every=0, checkpoint_every=0,
        iterations=10**9, warmup_lr=None)
    dataset = load_dataset("synthetic", image_size=32, val_size=0, seed=recipe.seed)
    dataset.test = None

    trainer = RunTrainer(ModelChoice(args.model), recipe, dataset, device, None, DistContext(),
                         lambda event: None)
    norms = trainer.grad_norms
    recording = {"off": None, "on": norms}
    for key in ("off", "on"):  # warm-up: allocator, kernels, a first window of each
        trainer.grad_norms = recording[key]
        timed_window(trainer, args.log_every, device)
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    for round_ in range(args.rounds):
        order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
        for key in order:
            trainer.grad_norms = recording[key]  # between windows: the sums were just reset
            seconds[key].append(timed_window(trainer, args.log_every, device))
    rate = {k: [args.log_every * args.batch / s for s in v] for k, v in seconds.items()}
    median = {k: statistics.median(v) for k, v in rate.items()}
    # per round, on's throughput over off's: off's seconds over on's
    paired = [off_s / on_s for off_s, on_s in zip(seconds["off"], seconds["on"], strict=True)]

    # cross-check: the recording alone, after a backward, against a whole step
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
