"""Figure 7 on trained nets: std of the 3x3 layers' responses, ResNet against plain.

The paper (section 4.2, Fig. 7): on CIFAR-10, "ResNets have generally smaller
responses than their plain counterparts", layer by layer and ranked. This measures it
with the window's Figure 7 job (`app.inspection.jobs.figure7`, core's `figure7`) on
real CIFAR-10 test images, for the weights that ship in the package (default) or any
other pair (a catalog name, a file, a run), and prints the ratio ResNet/plain per
layer position, of the mean std, and of the ranked curves.

    python bench/fig7_trained.py                                   # the shipped pair
    python bench/fig7_trained.py --images 1000 --data zip:../shared/data/cifar10-jpeg/test.zip
    python bench/fig7_trained.py --resnet cifar-resnet56 --resnet-weights RUN \\
        --plain cifar-plain56 --plain-weights RUN
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from resnet_studio.app.inspection import jobs
from resnet_studio.core.evaluation.data import open_eval_data
from resnet_studio.core.inspect import figure7
from resnet_studio.core.samples import cifar10_test_slice


def batch_for(bundle, data: str, images: int) -> torch.Tensor:
    eval_data = open_eval_data(data, bundle.preprocessing.input_size, limit=images)
    return torch.cat([x for x, _ in eval_data.batches(bundle.preprocessing, 250, torch.device("cpu"))])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resnet", default="cifar-resnet20")
    p.add_argument("--resnet-weights", default=None, help="default: the shipped weights")
    p.add_argument("--plain", default="cifar-plain20")
    p.add_argument("--plain-weights", default=None, help="default: the shipped weights")
    p.add_argument("--data", default=f"zip:{cifar10_test_slice()}", help="default: the shipped 100 test images")
    p.add_argument("--images", type=int, default=None, help="spread over the split (default: all)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    bundles = {label: jobs.build_compare_bundle(0, name, weights or "")
               for label, name, weights in (("resnet", args.resnet, args.resnet_weights),
                                            ("plain", args.plain, args.plain_weights))}  # fmt: skip
    stats = {}
    for label, bundle in bundles.items():
        stats |= figure7({label: bundle.model}, batch_for(bundle, args.data, args.images), chunk_size=100)
    r, pl = stats["resnet"], stats["plain"]
    per_layer = r.std / pl.std
    ranked = r.sorted_std / pl.sorted_std
    report = {
        "resnet": f"{args.resnet} ({bundles['resnet'].weights_text})",
        "plain": f"{args.plain} ({bundles['plain'].weights_text})",
        "data": args.data, "images": r.images,
        "mean_std": {"resnet": float(r.std.mean()), "plain": float(pl.std.mean())},
        "ratio_of_mean_std": float(r.std.mean() / pl.std.mean()),
        "layers_resnet_smaller": int((per_layer < 1).sum()), "layers": len(per_layer),
        "ranked_resnet_smaller": int((ranked < 1).sum()),
        "per_layer_ratio": [round(float(v), 3) for v in per_layer],
        "median_per_layer_ratio": float(np.median(per_layer)),
    }
    print(f"{report['resnet']}\n  vs {report['plain']}\n  on {report['images']} images of {args.data}")
    print(f"mean std: ResNet {report['mean_std']['resnet']:.3f}, plain {report['mean_std']['plain']:.3f}, "
          f"ratio {report['ratio_of_mean_std']:.3f}")
    print(f"ResNet smaller at {report['layers_resnet_smaller']}/{report['layers']} layer positions, "
          f"{report['ranked_resnet_smaller']}/{report['layers']} ranks; median ratio "
          f"{report['median_per_layer_ratio']:.3f}")
    print("per layer:", " ".join(f"{v:.2f}" for v in per_layer))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
