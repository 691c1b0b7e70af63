"""`resnet-studio inspect`: activations, residual magnitudes, Grad-CAM and Figure 7 as PNGs.

The command is a thin loop over `resnet_studio.core.inspect`: it loads the images
(bad ones are reported and skipped), runs one forward per image for the top-k and the
chosen layer's maps, and writes what was asked for into --out.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from resnet_studio.cli_common import EXIT_USER_ERROR, load_images_reporting


def add_inspect_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    inspect = commands.add_parser(
        "inspect",
        help="look inside a network: activations, Grad-CAM, Figure 7",
        description="Write PNGs of one layer's feature maps per image, optionally a Grad-CAM "
        "overlay per image and the paper's Figure 7 plot (std of the 3x3 layers' responses) "
        "over all images, and print each image's top-k classes.",
    )
    inspect.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    inspect.add_argument("--model", required=True, help="zoo name, e.g. resnet50")
    inspect.add_argument("--weights", help="weight file or 'torchvision[:ENUM]'; random when omitted")
    inspect.add_argument("--layer", help="layer whose feature maps are drawn, e.g. layer2.0 or "
                         "layer3.1.bn1 (default: the first stage); a block also reports "
                         "||F(x)|| / ||x||")
    inspect.add_argument("--max-maps", type=int, default=64, help="feature maps in the grid (default 64)")
    inspect.add_argument("--order", choices=("index", "mean", "max"), default="index",
                         help="which maps: the first ones, or the strongest by mean or peak")
    inspect.add_argument("--colormap", choices=("viridis", "inferno", "gray", "jet"), default="viridis")
    inspect.add_argument("--gradcam", action="store_true", help="write a Grad-CAM overlay per image")
    inspect.add_argument("--gradcam-layer", help="stem, a block or a stage (default: the last stage)")
    inspect.add_argument("--fig7", action="store_true",
                         help="write figure7.png: response std of every 3x3 layer over the images")
    inspect.add_argument("--compare", metavar="NAME",
                         help="a second network drawn in the Figure 7 plot (implies --fig7)")
    inspect.add_argument("--compare-weights", metavar="SOURCE", help="weights of the --compare network")
    inspect.add_argument("--topk", type=int, default=5)
    inspect.add_argument("--out", default=".", help="folder for the PNGs (default: current folder)")
    inspect.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    inspect.add_argument("--json", action="store_true",
                         help="one JSON object per image, then one for Figure 7")
    inspect.set_defaults(run=run_inspect)
    return inspect


def run_inspect(args: argparse.Namespace) -> int:
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.models import parse_name

    parse_name(args.model)  # misspelt names and options fail before any image is read
    if args.compare:
        parse_name(args.compare)
    elif args.compare_weights:
        raise StudioError("--compare-weights needs --compare NAME")
    if args.topk < 1 or args.max_maps < 1:
        raise StudioError("--topk and --max-maps must be at least 1")
    images, failures = load_images_reporting(args.images)
    if not images:
        return EXIT_USER_ERROR
    predictor = _predictor(args.model, args.weights, args.device)
    layer = _check_layer(predictor.model, args.layer or predictor.model.stage_names[0])
    out_dir = _out_dir(args.out)
    stems = _unique_stems([path for path, _ in images])
    for (path, image), stem in zip(images, stems, strict=True):
        report = _inspect_image(args, predictor, layer, image, out_dir / stem)
        report = {"image": str(path), **report}
        print(json.dumps(report) if args.json else _format_report(report), flush=True)
    if args.fig7 or args.compare:
        report = _figure7(args, predictor, [image for _, image in images], out_dir)
        print(json.dumps({"figure7": report}) if args.json else _format_figure7(report))
    return EXIT_USER_ERROR if failures else 0


def _predictor(name: str, weights: str | None, device: str):
    from resnet_studio.core.predict import Predictor

    predictor = Predictor.from_name(name, weights, device=device)
    if predictor.random_weights:
        print(f"warning: {name} has random weights, so classes and heatmaps mean nothing; "
              "pass --weights FILE or --weights torchvision", file=sys.stderr)
    return predictor


def _check_layer(model, layer: str) -> str:
    """The layer if the model has a feature map of that name; else a helpful error."""
    from resnet_studio.core.errors import StudioError

    names = [name for name, _ in model.named_modules() if name and not name.startswith(("fc", "avgpool"))]
    if layer in names:
        return layer
    close = difflib.get_close_matches(layer, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise StudioError(f"{model.__class__.__name__} has no layer {layer!r}; {hint}"
                      f"layers look like stem, {model.stage_names[-1]}, layer1.0, layer1.0.bn1, "
                      "layer1.0.residual")


def _out_dir(text: str) -> Path:
    from resnet_studio.core.errors import StudioError

    out = Path(text)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(f"cannot create the output folder {text!r}: {exc.strerror or exc}") from exc
    return out


def _unique_stems(paths: list[Path]) -> list[str]:
    """File-name stems, suffixed -2, -3, ... where two images share one (a/x.jpg, b/x.png)."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        seen[path.stem] = seen.get(path.stem, 0) + 1
        stems.append(path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}")
    return stems


def _inspect_image(args: argparse.Namespace, predictor, layer: str, image, prefix: Path) -> dict[str, Any]:
    from resnet_studio.core.images import preprocess, to_display
    from resnet_studio.core.inspect import (
        activations,
        grad_cam,
        overlay,
        render_grid,
        residual_view,
        save_png,
    )
    from resnet_studio.core.inspect._common import block_names

    model = predictor.model
    x = preprocess(image, predictor.preprocessing)
    maps = activations(model, x, layer, max_maps=args.max_maps, order=args.order)
    grid_path = prefix.with_name(f"{prefix.name}-{layer}-activations.png")
    save_png(render_grid(maps, args.colormap), grid_path)
    report: dict[str, Any] = {
        "top": [{"class": predictor.class_name(i), "index": i, "probability": p}
                for i, p in maps.top(args.topk)],
        "layer": layer, "shape": list(maps.shape), "files": {"activations": str(grid_path)},
    }
    if layer in block_names(model):
        report["residual"] = residual_view(model, x, layer).to_dict()
    if args.gradcam:
        cam = grad_cam(model, x, layer=args.gradcam_layer)
        cam_path = prefix.with_name(f"{prefix.name}-gradcam.png")
        save_png(overlay(to_display(x, predictor.preprocessing), cam.heatmap), cam_path)
        report["files"]["gradcam"] = str(cam_path)
        report["gradcam"] = {"class": predictor.class_name(cam.class_index), "index": cam.class_index,
                             "probability": cam.probability, "layer": cam.layer}
    return report


def _figure7(args: argparse.Namespace, predictor, images: list, out_dir: Path) -> dict[str, Any]:
    from resnet_studio.core.images import preprocess_batch
    from resnet_studio.core.inspect import figure7, figure7_png, save_png

    runs = {args.model: predictor}
    if args.compare:
        other = _predictor(args.compare, args.compare_weights, args.device)
        label = args.compare if args.compare != args.model else f"{args.compare} (compare)"
        runs[label] = other
    # each network sees the images with its own preprocessing (size, mean, std)
    stats = figure7({label: p.model for label, p in runs.items()},
                    {label: preprocess_batch(images, p.preprocessing) for label, p in runs.items()})
    path = out_dir / "figure7.png"
    save_png(figure7_png(stats), path)
    return {"file": str(path), "images": len(images),
            "models": {label: s.to_dict() for label, s in stats.items()}}


def _format_report(report: dict[str, Any]) -> str:
    lines = [report["image"]]
    lines += [f"  {t['probability']:7.2%}  {t['class']}" for t in report["top"]]
    lines.append(f"  {report['layer']} {'x'.join(map(str, report['shape']))}: "
                 f"{report['files']['activations']}")
    if residual := report.get("residual"):
        if residual["ratio"] is None:
            lines.append(f"  {residual['note']}")
        else:
            lines.append(f"  ||F(x)|| / ||x|| = {residual['ratio']:.3f}   mean |F(x)| "
                         f"{residual['residual']['mean_abs']:.4g}, mean |x| {residual['identity']['mean_abs']:.4g}")
    if cam := report.get("gradcam"):
        lines.append(f"  Grad-CAM of {cam['class']} at {cam['layer']}: {report['files']['gradcam']}")
    return "\n".join(lines)


def _format_figure7(report: dict[str, Any]) -> str:
    parts = [f"{label}: mean std {sum(s['std']) / len(s['std']):.4g} over {len(s['std'])} layers"
             for label, s in report["models"].items()]
    return f"Figure 7 over {report['images']} image(s): {report['file']}\n  " + "\n  ".join(parts)
