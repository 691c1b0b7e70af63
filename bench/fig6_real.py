"""Figure 6 on the real CIFAR-10 in minutes on a CPU: the "figure6" recipe, over seeds.

Runs exactly what the Training panel's Figure 6 button runs: the real trainer
(`resnet_studio.core.train.train`) on plain-20/56 and ResNet-20/56 as one comparison
(interleaved, the same batches), with the "figure6" recipe (resnet_studio/core/recipes.py),
on the CIFAR-10 copy given by --dataset (default: the shared JPEG zip beside the
checkout; the recipe itself downloads CIFAR-10 with torchvision's URL). For each seed it
checks the paper's two facts (section 4.2, Fig. 6) on the curves the panel draws:

  1. degradation: plain-56's running training error is above plain-20's at every logged
     window of the second half of the run;
  2. residual learning: ResNet-56 ends clearly (>= 10 points) below plain-56, and
     ResNet-20 below plain-20;
  and reports a third, which the paper shows on the full schedule:
  3. ResNet-56 <= ResNet-20 at the end (mean of the last 3 windows).

    python bench/fig6_real.py                      # seeds 0 1 2, the shared zip
    python bench/fig6_real.py --seeds 0 --json out.json
    python bench/fig6_real.py --dataset cifar10    # torchvision's CIFAR-10 (downloads)

Wall time is measured per seed from the call to `train` to its return (data loading,
training, evaluations, checkpoints): run it on a quiet machine for the time budget.
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
SHARED_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train.zip"
CLEARLY = 0.10  # "clearly below": ten points of training error


def read_metrics(path: str) -> list[dict]:
    lines = (Path(path) / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def curves(results) -> dict[str, list[tuple[int, float]]]:
    """Each net's (iteration, running training error) per logged window."""
    out = {}
    for result in results:
        records = read_metrics(result.path)
        out[result.model] = [(r["iteration"], r["train_error"]) for r in records if "train_error" in r]
    return out


def final(points: list[tuple[int, float]], last: int = 3) -> float:
    tail = [e for _, e in points[-last:]]
    return sum(tail) / len(tail)


def facts(c: dict[str, list[tuple[int, float]]], total: int) -> dict[str, bool]:
    p20, p56 = dict(c["cifar-plain20"]), dict(c["cifar-plain56"])
    second_half = [i for i in p20 if i > total / 2 and i in p56]
    return {
        "plain56_above_plain20_second_half": bool(second_half) and all(p56[i] > p20[i] for i in second_half),
        "resnet56_clearly_below_plain56": final(c["cifar-resnet56"]) <= final(c["cifar-plain56"]) - CLEARLY,
        "resnet20_below_plain20": final(c["cifar-resnet20"]) < final(c["cifar-plain20"]),
        "resnet56_at_or_below_resnet20": final(c["cifar-resnet56"]) <= final(c["cifar-resnet20"]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--dataset", default=f"zip:{SHARED_ZIP}")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs-dir", default=None, help="keep the runs here (default: temp)")
    p.add_argument("--json", default=None, help="write the figures to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    base = get_recipe("figure6")
    print(f"figure6 recipe: {base.iterations} iterations, batch {base.batch_size}, {base.image_size} px, "
          f"lr {base.lr} (/10 at {list(base.milestones)}), train subset {base.train_size}, "
          f"test subset {base.test_size}, data {args.dataset}", flush=True)
    report = {"recipe": base.to_dict(), "dataset": args.dataset, "torch": torch.__version__, "seeds": {}}
    for seed in args.seeds:
        recipe = base.with_overrides(seed=seed, dataset=args.dataset)
        runs_dir = args.runs_dir or tempfile.mkdtemp(prefix=f"fig6-real-{seed}-")
        start = time.perf_counter()
        results = train(list(NETS), recipe, runs_dir=runs_dir)
        wall = time.perf_counter() - start
        c = curves(results)
        tests = {r.model: r.last.get("test_error") for r in results}
        got = facts(c, recipe.iterations)
        report["seeds"][seed] = {"wall_s": round(wall, 1), "facts": got,
                                 "final_train_error": {m: round(final(v), 4) for m, v in c.items()},
                                 "last_test_error": tests}  # fmt: skip
        print(f"\nseed {seed}: {wall:.0f} s wall ({wall / 60:.1f} min), runs in {runs_dir}")
        print(f"  {'net':16s} {'train err %':>11s} {'test err %':>10s}")
        for model, points in c.items():
            test = tests.get(model)
            print(f"  {model:16s} {100 * final(points):11.1f} {100 * test if test is not None else float('nan'):10.1f}")
        for name, ok in got.items():
            print(f"  {'yes' if ok else 'NO ':3s}  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
