"""`resnet-studio pretrained`, `eval` and `export`: checkpoints by name, measured, exported.

Thin: parse, call core and the application layer, print. `pretrained` imports no
torch, so the listing is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

MODEL_HELP = "zoo name (resnet50) or pretrained name (resnet18_8xb16_cifar10, see `pretrained`)"
WEIGHTS_HELP = ("weight file, 'torchvision[:ENUM]', a pretrained name, or a run (folder or name); "
                "not needed with a pretrained --model")


def add_weights_parsers(commands: argparse._SubParsersAction) -> None:
    """Register `pretrained`, `eval` and `export`."""
    listing = commands.add_parser(
        "pretrained", help="list the pretrained checkpoints (published numbers, cached or not)",
        description="The catalog of pretrained checkpoints. Files are downloaded on first use "
        "into $TORCH_HOME/hub/checkpoints (shared with torch.hub, timm and mmpretrain); set "
        "RESNET_STUDIO_WEIGHTS_MIRROR=URL to fetch from a mirror instead.",
    )
    listing.add_argument("filter", nargs="?", default="", help="only names, networks or "
                         "datasets containing this text")
    listing.add_argument("--json", action="store_true", help="one JSON object per checkpoint")
    listing.set_defaults(run=run_pretrained)

    ev = commands.add_parser(
        "eval", help="measure top-1/top-5 of a model with weights on a dataset",
        description="Evaluate on a dataset's test split at the checkpoint's input size and "
        "preprocessing; prints the published number beside the measured one.",
    )
    ev.add_argument("--model", required=True, help=MODEL_HELP)
    ev.add_argument("--weights", help=WEIGHTS_HELP)
    ev.add_argument("--dataset", required=True,
                    help="zip:PATH or folder:PATH (an ImageFolder tree), cifar10 or cifar100")
    ev.add_argument("--batch-size", type=int, default=256)
    ev.add_argument("--limit", type=int, help="evaluate N images spread over the split")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    ev.add_argument("--workers", type=int, help="decoding workers for large images")
    ev.add_argument("--runs-dir", help="run store for --weights RUN")
    ev.add_argument("--out", help="folder for eval.json, confusion.png/.csv, per_class.csv")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(run=run_eval)

    ex = commands.add_parser("export", help="export a model with weights to ONNX")
    ex.add_argument("--model", required=True, help=MODEL_HELP)
    ex.add_argument("--weights", help=WEIGHTS_HELP)
    ex.add_argument("--format", choices=("onnx",), default="onnx")
    ex.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    ex.add_argument("--runs-dir", help="run store for --weights RUN")
    ex.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    ex.add_argument("--no-check", action="store_true",
                    help="skip comparing onnxruntime's logits with torch's")
    ex.set_defaults(run=run_export)


# ---------------------------------------------------------------------------- pretrained


def run_pretrained(args: argparse.Namespace) -> int:
    from resnet_studio.core.weights.pretrained import find_pretrained, is_cached

    entries = find_pretrained(args.filter)
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_dict()))
        return 0
    if not entries:
        print(f"no pretrained checkpoint matches {args.filter!r}", file=sys.stderr)
        return 0
    print(f"{'name':<34} {'network':<16} {'dataset':<13} {'top-1':>6} {'top-5':>6} "
          f"{'input':>5}  cached")
    group = None
    for e in entries:
        if e.dataset != group and group is not None:
            print()
        group = e.dataset
        top5 = f"{e.top5:6.2f}" if e.top5 is not None else f"{'-':>6}"
        print(f"{e.name:<34} {e.model:<16} {e.dataset:<13} {e.top1:6.2f} {top5} "
              f"{e.preprocessing.input_size:>5}  {'yes' if is_cached(e) else 'no'}")
    return 0


# ---------------------------------------------------------------------------- eval


def run_eval(args: argparse.Namespace) -> int:
    from resnet_studio.app.evaluation import (
        EvaluationJob,
        EvaluationRequest,
        per_class_lines,
        summary_lines,
    )
    from resnet_studio.core.evaluation import write_report

    request = EvaluationRequest(args.model, args.weights, args.dataset, args.batch_size,
                                args.limit, args.device, args.workers, args.runs_dir)  # fmt: skip
    bar = ProgressBar(sys.stderr)
    try:
        result = EvaluationJob(request).run(on_event=bar)
    finally:
        bar.close()
    paths = write_report(result, args.out) if args.out else {}
    if args.json:
        print(json.dumps({**result.to_dict(), "files": {k: str(p) for k, p in paths.items()}}))
        return 0
    for line in summary_lines(result):
        print(line)
    print("per class (top-1):")
    for line in per_class_lines(result):
        print(line)
    for path in paths.values():
        print(f"wrote {path}")
    return 0


class ProgressBar:
    """A one-line bar redrawn in place on a terminal; a line every few seconds otherwise."""

    def __init__(self, stream: TextIO, interval_s: float = 5.0, texts: Any = None) -> None:
        self.stream, self.interval_s = stream, interval_s
        self.texts = texts  # a module with fraction(event) and progress_text(event); None: eval's
        self.tty = stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, event: Any) -> None:
        from resnet_studio.app import evaluation

        fraction = (self.texts or evaluation).fraction
        progress_text = (self.texts or evaluation).progress_text
        now = time.monotonic()
        part = fraction(event)
        finished = part is not None and part >= 1.0
        if not finished and now - self._last < (0.1 if self.tty else self.interval_s):
            return
        self._last = now
        filled = round(30 * (part or 0.0))
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {progress_text(event)}"
        if self.tty:
            self.stream.write("\r" + line.ljust(100)[:100])
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------- export


def run_export(args: argparse.Namespace) -> int:
    from resnet_studio.core.catalog import resolve_preprocessing
    from resnet_studio.core.export import export_onnx, verify_onnx
    from resnet_studio.core.weights import resolve_model_and_weights

    bar = ProgressBar(sys.stderr)
    try:
        from resnet_studio.core.evaluation import DownloadProgress

        loaded = resolve_model_and_weights(
            args.model, args.weights, require_weights=True, runs_dir=args.runs_dir,
            progress=lambda done, total: bar(DownloadProgress(done, total)),
        )  # fmt: skip
    finally:
        bar.close()
    assert loaded is not None
    prep = resolve_preprocessing(loaded.model_name, loaded.preprocessing)
    meta = {"model": loaded.model_name, "weights": loaded.source,
            "class_names": loaded.class_names, "preprocessing": prep}  # fmt: skip
    path = export_onnx(loaded.model, args.out, input_size=prep.input_size, meta=meta,
                       opset=args.opset)  # fmt: skip
    print(f"wrote {path} ({loaded.model_name}, input [batch, 3, {prep.input_size}, "
          f"{prep.input_size}] normalised with mean {list(prep.mean)} std {list(prep.std)})")
    if not args.no_check:
        diff = verify_onnx(path, loaded.model, input_size=prep.input_size)
        print(f"onnxruntime vs torch, batch 1 and 3: max |difference| {diff:.2e}")
    return 0
