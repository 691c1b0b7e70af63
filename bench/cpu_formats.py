"""bf16 autocast and channels_last on this CPU: training images/s of each, interleaved.

One process, one model at a time, the four settings in turn over several rounds so the
noise of a shared machine hits all alike; the median of each is printed with its ratio
to plain fp32 (NCHW). A training step here is forward, cross-entropy, backward and an
SGD step on a batch already in memory: what `RunTrainer.step()` does after its
on-device crop and flip. The CPU of this project (AMD EPYC, AVX-512 with BF16) is what
issue 13 asks about; the trainer's CPU default follows the winner
(`core/trainer.py`, `Recipe.channels_last` / `Recipe.amp`).

    python bench/cpu_formats.py                       # cifar-resnet20 at 32 px and cifar-resnet56 at 16 px
    python bench/cpu_formats.py --steps 20 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn

from resnet_studio.core.models import create_model

SETTINGS = {"fp32": (False, False), "bf16": (True, False), "channels_last": (False, True),
            "bf16+channels_last": (True, True)}  # fmt: skip
CASES = (("cifar-resnet20", 32), ("cifar-resnet56", 16))


def rate(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
         amp: bool, steps: int) -> float:  # fmt: skip
    def step() -> None:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with ctx:
            loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up: allocations, oneDNN primitive caches
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * x.shape[0] / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
          f"{args.steps} steps x {args.rounds} rounds")
    for name, size in CASES:
        torch.manual_seed(0)
        x0 = torch.randn(args.batch, 3, size, size)
        y = torch.randint(0, 10, (args.batch,))
        runs: dict[str, list[float]] = {k: [] for k in SETTINGS}
        models = {}
        for key, (_, channels_last) in SETTINGS.items():
            model = create_model(name).train()
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            x = x0.contiguous(memory_format=torch.channels_last) if channels_last else x0
            models[key] = (model, opt, x)
        for _ in range(args.rounds):
            for key, (amp, _) in SETTINGS.items():
                model, opt, x = models[key]
                runs[key].append(rate(model, opt, x, y, amp, args.steps))
        base = statistics.median(runs["fp32"])
        print(f"\n{name} at {size} px:")
        for key, values in runs.items():
            med = statistics.median(values)
            print(f"  {key:20s} {med:7.0f} img/s   x{med / base:.2f}")


if __name__ == "__main__":
    main()
