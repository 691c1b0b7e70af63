"""`resnet-studio inspect`: activations, residual magnitudes, Grad-CAM and Figure 7 as PNGs.

The command is a thin loop over the jobs the window runs (`app.inspection.jobs`): it
loads the images (bad ones are reported and skipped), runs one forward per image for
the top-k and the chosen layer's maps, and writes what was asked for into --out.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_studio.cli_common import EXIT_USER_ERROR, RANDOM_WEIGHTS_HINT, load_images_reporting

if TYPE_CHECKING:
    from resnet_studio.app.inspection.jobs import ModelBundle


def add_inspect_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    inspect = commands.add_parser(
        "inspect",
        help="look inside a network: activations, Grad-CAM, Figure 7",
        description="Write PNGs of one layer's feature maps per image, optionally a Grad-CAM "
        "overlay per image and the paper's Figure 7 plot (std of the 3x3 layers' responses) "
        "over all images, and print each image's top-k classes.",
    )
    inspect.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    inspect.add_argument("--model", required=True,
                         help="zoo name (resnet50) or pretrained checkpoint (cifar-resnet20.akamaster)")
    inspect.add_argument("--weights", help="weight file, 'torchvision[:ENUM]', a pretrained name or a "
                         "run, or 'random'; when omitted: the pretrained or shipped weights of --model, else random")
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
    from resnet_studio.core.weights import network_name

    network_name(args.model)  # misspelt names and options fail before any image is read
    if args.compare:
        network_name(args.compare)
    elif args.compare_weights:
        raise StudioError("--compare-weights needs --compare NAME")
    if args.topk < 1 or args.max_maps < 1:
        raise StudioError("--topk and --max-maps must be at least 1")
    images, failures = load_images_reporting(args.images)
    if not images:
        return EXIT_USER_ERROR
    model = _open_model(args.model, args.weights, args.device)
    layer = _check_layer(model.model, args.layer or model.model.stage_names[0])
    out_dir = _out_dir(args.out)
    stems = _unique_stems([path for path, _ in images])
    for (path, image), stem in zip(images, stems, strict=True):
        report = _inspect_image(args, model, layer, image, out_dir / stem)
        report = {"image": str(path), **report}
        print(json.dumps(report) if args.json else _format_report(report), flush=True)
    if args.fig7 or args.compare:
        report = _figure7(args, model, [image for _, image in images], out_dir)
        print(json.dumps({"figure7": report}) if args.json else _format_figure7(report))
    return EXIT_USER_ERROR if failures else 0


def _open_model(name: str, weights: str | None, device: str) -> ModelBundle:
    """The network as the window's views hold it (no layer tree: nothing draws one)."""
    from resnet_studio.app.inspection import jobs

    model = jobs.open_bundle(name, weights, device=device, with_tree=False)
    if model.random_weights:
        print(f"warning: {name} has random weights, so classes and heatmaps mean nothing; "
              f"{RANDOM_WEIGHTS_HINT}", file=sys.stderr)
    return model


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


def _inspect_image(args: argparse.Namespace, model: ModelBundle, layer: str, image, prefix: Path) -> dict[str, Any]:
    """The window's jobs for one image (analysis, residual block, Grad-CAM), written as PNGs."""
    from resnet_studio.app.inspection import jobs
    from resnet_studio.core.inspect import overlay, save_png

    analysis = jobs.analyse(model, image, layer, args.max_maps, args.order, args.colormap, True, topk=args.topk)
    grid_path = prefix.with_name(f"{prefix.name}-{layer}-activations.png")
    save_png(analysis.grid, grid_path)
    report: dict[str, Any] = {
        "top": [{"class": s.name, "index": s.index, "probability": s.probability} for s in analysis.top],
        "layer": layer, "shape": list(analysis.maps.shape), "files": {"activations": str(grid_path)},
    }
    if layer in model.blocks:
        report["residual"] = jobs.residual(model, analysis.x, layer).to_dict()
    if args.gradcam:
        result = jobs.gradcam(model, analysis.x, args.gradcam_layer, None)
        cam_path = prefix.with_name(f"{prefix.name}-gradcam.png")
        save_png(overlay(result.display, result.cam.heatmap), cam_path)
        report["files"]["gradcam"] = str(cam_path)
        report["gradcam"] = {"class": result.class_name, "index": result.cam.class_index,
                             "probability": result.cam.probability, "layer": result.cam.layer}
    return report


def _figure7(args: argparse.Namespace, model: ModelBundle, images: list, out_dir: Path) -> dict[str, Any]:
    """The window's Figure 7 job over every image, each network in its own preprocessing."""
    from resnet_studio.app.inspection import jobs
    from resnet_studio.core.inspect import figure7_png, save_png

    other = _open_model(args.compare, args.compare_weights, args.device) if args.compare else None
    stats = jobs.figure7(jobs.labelled(model, other), "images", images, len(images))
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
