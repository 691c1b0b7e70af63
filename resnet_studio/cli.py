"""The `resnet-studio` command: subcommands run headless; none opens the app.

Heavy imports (torch, Qt) happen inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from resnet_studio import __version__
from resnet_studio.cli_analysis import add_analyze_parser
from resnet_studio.cli_common import EXIT_USER_ERROR, RANDOM_WEIGHTS_HINT, load_images_reporting
from resnet_studio.cli_inspect import add_inspect_parser
from resnet_studio.cli_training import add_runs_parser, add_train_parser
from resnet_studio.cli_weights import add_weights_parsers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resnet-studio",
        description="An experiment explorer for deep residual learning (He et al., CVPR 2016).",
    )
    parser.add_argument("--version", action="version", version=f"resnet-studio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    app = parser.add_argument_group("desktop app (used when no COMMAND is given)")
    app.add_argument(
        "--screenshot", metavar="FILE",
        help="open the window, save a PNG of it once drawn, and exit (works headless)",
    )
    app.add_argument(
        "--panel", choices=("model", "training", "inspection"), default="model",
        help="the panel to show in the screenshot (default: model)",
    )
    app.add_argument(
        "--demo", action="store_true",
        help="training panel: run a quick comparison for a few seconds first (for screenshots)",
    )
    app.add_argument(
        "--view", choices=("activations", "residual", "gradcam", "figure7", "compare"),
        help="inspection panel: the view in the screenshot; figure7 and compare load the twin",
    )
    app.add_argument(
        "--runs-dir", metavar="DIR", dest="app_runs_dir",
        help="the run store the window lists, trains into and watches (default: "
             "$RESNET_STUDIO_RUNS_DIR or the user data folder), e.g. a cluster's shared folder",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = commands.add_parser("models", help="list the model zoo")
    models.add_argument("filter", nargs="?", default="", help="only names containing this text")
    models.add_argument("--json", action="store_true", help="one JSON object per model")
    models.set_defaults(run=_run_models)

    predict = commands.add_parser("predict", help="classify images")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    predict.add_argument("--model", required=True,
                         help="zoo name (resnet50) or pretrained checkpoint (resnet18_8xb16_cifar10, "
                         "resnet50.tv2_in1k, cifar-resnet20.akamaster: `resnet-studio pretrained`)")
    predict.add_argument(
        "--weights",
        help="weight file (.safetensors, .pth, .ckpt, .th), 'torchvision[:ENUM]', a pretrained "
        "name, a run, or 'random'; when omitted: the pretrained or shipped weights of --model, else random",
    )
    predict.add_argument("--topk", type=int, default=5)
    predict.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.set_defaults(run=_run_predict)

    add_train_parser(commands)
    add_runs_parser(commands)
    add_inspect_parser(commands)
    add_weights_parsers(commands)
    add_analyze_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from resnet_studio.gui.launcher import run_app  # lazy: `--help` imports no Qt or torch

        return run_app(args)
    return _run_guarded(args.run, args)


def _run_guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Errors users can cause print one line and exit 2; `--debug` shows the traceback."""
    from resnet_studio.core.errors import StudioError

    try:
        return command(args)
    except StudioError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


MODELS_HEADER = (f"{'name':<18} {'family':<15} {'depth':>5} {'block':<10} {'variant':<7} "
                 f"{'shortcut':<8} {'params':>12} {'GFLOPs':>7} {'input':>5}")


def model_row(info) -> str:
    """One line of `resnet-studio models` for a core ModelInfo."""
    return (
        f"{info.name:<18} {info.family:<15} {info.depth:>5} {info.block:<10} "
        f"{info.variant:<7} {info.shortcut or 'none':<8} {info.params:>12,} "
        f"{info.gflops:>7.2f} {info.input_size:>5}"
    )


def _run_models(args: argparse.Namespace) -> int:
    """The listing comes from the torch-free model table (milliseconds); a name the
    table lacks (a network added since it was written) is measured with torch."""
    from resnet_studio.core.catalog import model_names
    from resnet_studio.core.model_table import listed_info

    names = [name for name in model_names() if args.filter.lower() in name]
    if not args.json:
        print(MODELS_HEADER)
    for name in names:
        info = listed_info(name)
        if info is None:
            from resnet_studio.core.models import model_info  # imports torch: ~0.1 s a net after it

            info = model_info(name)
        print(json.dumps(info.to_dict()) if args.json else model_row(info), flush=True)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from resnet_studio.core.predict import Predictor
    from resnet_studio.core.weights import network_name

    network_name(args.model)  # a misspelt name fails before any image is read
    images, failures = load_images_reporting(args.images)
    if not images:
        return EXIT_USER_ERROR
    predictor = Predictor.from_name(args.model, args.weights, device=args.device)
    if predictor.random_weights:
        print(
            f"warning: {args.model} has random weights, so these predictions mean nothing; "
            f"{RANDOM_WEIGHTS_HINT}",
            file=sys.stderr,
        )
    results = predictor.predict([image for _, image in images], topk=args.topk)
    for (path, _), scores in zip(images, results, strict=True):
        if args.json:
            top = [{"class": s.name, "index": s.index, "probability": s.probability} for s in scores]
            best = scores[0]  # mmpretrain's inference_model keys, for scripts that read them
            print(json.dumps({"image": str(path), "pred_class": best.name, "pred_label": best.index,
                              "pred_score": best.probability, "top": top}))
        else:
            print(f"{path}: {scores[0].name} ({scores[0].probability:.2%})")
            for score in scores:
                print(f"  {score.probability:7.2%}  {score.name}")
    return EXIT_USER_ERROR if failures else 0
