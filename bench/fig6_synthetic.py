"""Figure 6 in minutes on a CPU: plain-20/56 vs ResNet-20/56 on the synthetic dataset.

The paper's degradation problem (section 4.2, Fig. 6): the 56-layer *plain* net ends
with a higher training error than the 20-layer one, while ResNet-56 does not. This
script runs exactly what the app runs: the real trainer (`resnet_studio.core.train.
train`) on the four nets as one comparison (interleaved, same batches) with the
"quick" recipe (resnet_studio/core/recipes.py), then reads each run's metrics.jsonl and
prints what the training panel shows at the end: the running training error (train
mode, augmented batches) averaged over the last 3 log windows, and the test error.

    python bench/fig6_synthetic.py                    # the four nets, quick recipe
    python bench/fig6_synthetic.py --seed 1           # another seed (data and weights)
    python bench/fig6_synthetic.py --lr 0.02 --nets cifar-resnet20 cifar-resnet56
    python bench/fig6_synthetic.py --time            # + s/it of each net alone, now

Wall time: the 2-core dev VM is shared, so the measured wall time is inflated. The
projected idle-machine time is iterations x the seconds per iteration measured on an
idle 2-core machine at batch 128 and 16 px (IDLE_S_PER_IT below: 56 layers 0.24 s,
20 layers 0.10 s), scaled by pixels x batch, plus the evaluations (a forward pass
over val + test images at every eval point, ~1/3 of a training iteration per image).
`--time` also measures s/it of each net here, single net, 2 threads, on random data.

Measured 2026-11-22, seed 0, the real trainer, each net's runs.metrics records (the
same runs as one comparison would give: every net is seeded and batched alike), on the
shared 2-core dev VM; train err = running training error, mean of the last 3 logged
windows (iterations 371-400); test err = 2,000 held-out images at iteration 400:

    quick recipe (16 px, batch 128, 400 it, lr 0.01 /10 at 300, no crop/flip)
    net               train err %   test err %
    plain-20              28.7         26.6
    plain-56              79.8         81.4      <- degradation: deeper plain is worse
    ResNet-20              6.7          6.2
    ResNet-56              6.0          5.5      <- deeper residual is not
    projected idle 2-core time: ~290 s (400 x (2 x 0.24 + 2 x 0.10) s + evaluations)

What else was tried (ResNet-20 vs ResNet-56 final running train error %, seed 0):
    lr 0.02, pad-4 crop + flip (old quick)            8.1 vs 12.3 (eval-mode error)
    lr 0.1, crop + flip                               10.1 vs 73.5 (eval-mode error)
    batch 64, 800 it, lr 0.02 /10 at 600, crop+flip    6.8 vs 10.7
    batch 64, 800 it, lr 0.05, warm-up 0.01 to 80%     6.1 vs (killed: 91% after the
                                                       jump to 0.05, 59% at it 210)
    lr 0.02, no crop/flip                              3.5 vs 8.4 (plain-20 7.4,
                                                       plain-56 ~88 at it 150)
    lr 0.01, no crop/flip (chosen)                     6.7 vs 6.0
At lr >= 0.02 ResNet-56 learns fastest early but then stalls at ~15% until the lr drop,
while ResNet-20 keeps improving; at lr 0.01 ResNet-56 leads from the start. Pad-4 crops
shift a 16 px image by 25% and cut shapes off, which slows every net.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.train import train

NETS = ("cifar-plain20", "cifar-plain56", "cifar-resnet20", "cifar-resnet56")
# Seconds per training iteration, idle 2-core CPU, batch 128, 16 px images, SGD.
IDLE_S_PER_IT = {20: 0.10, 56: 0.24}
REF_PIXELS_X_BATCH = 16 * 16 * 128


def depth_of(name: str) -> int:
    return int("".join(ch for ch in name.rsplit("-", 1)[-1] if ch.isdigit()))


def projected_idle_seconds(nets, recipe, val: int, test: int) -> float:
    """Iterations x the idle per-iteration costs, scaled by pixels x batch, + evals."""
    scale = recipe.image_size**2 * recipe.batch_size / REF_PIXELS_X_BATCH
    evals = recipe.iterations // recipe.eval_every + (recipe.iterations % recipe.eval_every > 0)
    total = 0.0
    for name in nets:
        per_it = IDLE_S_PER_IT[56 if depth_of(name) > 20 else 20] * scale
        per_image_fwd = per_it / recipe.batch_size / 3  # forward ~ 1/3 of fwd+bwd+step
        total += recipe.iterations * per_it + evals * (val + test) * per_image_fwd
    return total


def measure_s_per_it(name: str, recipe, iters: int = 8) -> float:
    """Seconds per training iteration of one net alone, on random data."""
    from resnet_studio.core.models import create_model

    model = create_model(name, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(recipe.batch_size, 3, recipe.image_size, recipe.image_size)
    y = torch.randint(0, 10, (recipe.batch_size,))
    for i in range(iters + 2):
        if i == 2:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / iters


def read_metrics(path: str) -> list[dict]:
    lines = (Path(path) / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", nargs="+", default=list(NETS))
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs-dir", default=None, help="keep the runs here (default: temp)")
    p.add_argument("--time", action="store_true", help="also time each net alone")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    recipe = get_recipe("quick").with_overrides(seed=args.seed, lr=args.lr,
                                                iterations=args.iterations)
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="fig6-")
    print(f"quick recipe: {recipe.iterations} iterations, batch {recipe.batch_size}, "
          f"{recipe.image_size} px, lr {recipe.lr} (/10 at {list(recipe.milestones)}), "
          f"warm-up lr {recipe.warmup_lr} until train error < {recipe.warmup_until_error} "
          f"(depth >= {recipe.warmup_min_depth}), seed {recipe.seed}", flush=True)

    start = time.perf_counter()
    results = train(args.nets, recipe, runs_dir=runs_dir)
    wall = time.perf_counter() - start

    print(f"\n{'net':16s} {'train err %':>11s} {'test err %':>10s} {'iters':>6s} "
          f"{'s/it here':>9s}  status")
    for result in results:
        records = read_metrics(result.path)
        logged = [r["train_error"] for r in records if "train_error" in r][-3:]
        tests = [r["test_error"] for r in records if "test_error" in r]
        train_err = 100 * sum(logged) / len(logged)
        test_err = 100 * tests[-1] if tests else float("nan")
        s_it = records[-1]["wall_time"] / max(1, result.iterations)
        print(f"{result.model:16s} {train_err:11.1f} {test_err:10.1f} {result.iterations:6d} "
              f"{s_it:9.3f}  {result.status}")
    described = json.loads((Path(results[0].path) / "config.json").read_text())["dataset"]
    idle = projected_idle_seconds(args.nets, recipe, described["val"], described["test"])
    print(f"\nwall time here {wall:.0f} s (incl. data generation; this machine may be shared)")
    print(f"projected idle 2-core time {idle:.0f} s = iterations x idle s/it "
          f"{IDLE_S_PER_IT} at batch 128/16 px, scaled by pixels x batch, + evaluations")
    if args.time:
        for name in args.nets:
            print(f"  {name}: {measure_s_per_it(name, recipe):.3f} s/it alone, "
                  f"{args.threads} threads, now")
    print(f"runs in {runs_dir}")


if __name__ == "__main__":
    main()
