"""`resnet-studio analyze lesion|landscape`: why residual nets train, measured.

Thin: parse, run `app.analysis.AnalysisJob` with a progress bar, write the report
(`core.analysis.report`: PNG, CSV, JSON), print a short table.
"""

from __future__ import annotations

import argparse
import json
import sys

from resnet_studio.cli_weights import MODEL_HELP, WEIGHTS_HELP, ProgressBar

COMPARE_HELP = "a second network to analyse beside it: 'twin' (its plain/residual twin) or a name"


def add_analyze_parser(commands: argparse._SubParsersAction) -> None:
    """Register `analyze lesion` and `analyze landscape`."""
    analyze = commands.add_parser(
        "analyze", help="lesion study and loss landscape of a model (and its twin)",
        description="Why residual nets train: remove blocks at test time (Veit et al. 2016) "
        "or walk the loss along filter-normalised random directions (Li et al. 2018).",
    )  # fmt: skip
    kinds = analyze.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)
    lesion = kinds.add_parser("lesion", help="test error with blocks removed",
                              description="The test error with each block removed, with k random "
                              "blocks removed (k = 1..n, several draws), and the path-length "
                              "distribution. Writes lesion.json/.csv and PNGs.")  # fmt: skip
    _common(lesion, images=1000, batch=250)
    lesion.add_argument(
        "--data", required=True, help="zip:PATH or folder:PATH (its test split), cifar10"
    )
    lesion.add_argument("--draws", type=int, default=3, help="random orders of removal (default 3)")
    lesion.set_defaults(run=run_lesion)

    land = kinds.add_parser("landscape", help="loss along filter-normalised random directions",
                            description="Loss and accuracy at theta + alpha d (1D) or over a grid "
                            "(2D) on a fixed subset of the training set, BN in eval mode. Writes "
                            "landscape.json/.csv and PNGs.")  # fmt: skip
    _common(land, images=2000, batch=500)
    land.add_argument(
        "--data",
        required=True,
        help="the training images: zip:PATH or folder:PATH (e.g. zip:train.zip)",
    )
    land.add_argument("--dims", type=int, choices=(1, 2), default=1)
    land.add_argument("--points", type=int, default=51, help="steps per axis, odd (default 51)")
    land.add_argument("--span", type=float, default=1.0, help="steps in [-SPAN, SPAN] (default 1)")
    land.set_defaults(run=run_landscape)


def _common(parser: argparse.ArgumentParser, images: int, batch: int) -> None:
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--weights", help=WEIGHTS_HELP + "; 'random' for a fresh initialisation")
    parser.add_argument("--compare", help=COMPARE_HELP)
    parser.add_argument("--compare-weights", help="weights of --compare (as --weights)")
    parser.add_argument(
        "--images", type=int, default=images, help=f"images used (default {images:,})"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=batch)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--runs-dir", help="run store for weights named by run")
    parser.add_argument("--out", help="folder for the JSON, CSV and PNG files")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _run(request, write, lines, args: argparse.Namespace) -> int:  # noqa: ANN001
    from resnet_studio.app import analysis

    bar = ProgressBar(sys.stderr, texts=analysis)
    try:
        results = analysis.AnalysisJob(request).run(on_event=bar)
    finally:
        bar.close()
    paths = write(results, args.out) if args.out else {}
    if args.json:
        print(json.dumps({"results": [r.to_dict() for r in results],
                          "files": {k: str(p) for k, p in paths.items()}}))  # fmt: skip
        return 0
    for r in results:
        if r.weights == "random initialisation":
            print(
                f"warning: {r.model} has random weights; its figures are a baseline only",
                file=sys.stderr,
            )
    for line in lines(results):
        print(line)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def run_lesion(args: argparse.Namespace) -> int:
    from resnet_studio.app.analysis import LesionRequest, lesion_lines
    from resnet_studio.core.analysis import write_lesion_report

    request = LesionRequest(args.model, args.weights, args.data, args.compare, args.compare_weights,
                            images=args.images, draws=args.draws, seed=args.seed,
                            batch_size=args.batch_size, device=args.device, runs_dir=args.runs_dir)  # fmt: skip
    return _run(request, write_lesion_report, lesion_lines, args)


def run_landscape(args: argparse.Namespace) -> int:
    from resnet_studio.app.analysis import LandscapeRequest, landscape_lines
    from resnet_studio.core.analysis import write_landscape_report

    request = LandscapeRequest(args.model, args.weights, args.data, args.compare, args.compare_weights,
                               dims=args.dims, points=args.points, span=args.span, images=args.images,
                               seed=args.seed, batch_size=args.batch_size, device=args.device,
                               runs_dir=args.runs_dir)  # fmt: skip
    return _run(request, write_landscape_report, landscape_lines, args)
