"""The analyses' files: JSON with every number, CSV with one row per measurement,
and the PNG pictures (`plot`). Written atomically, as `eval`'s report."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from resnet_studio.core.analysis.landscape import LandscapeResult
from resnet_studio.core.analysis.lesion import LesionResult
from resnet_studio.core.analysis.plot import contour_map, line_chart
from resnet_studio.core.atomic import atomic_write_bytes, atomic_write_text


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _labels(results: Sequence[LesionResult | LandscapeResult]) -> list[str]:
    """One legend label per result (the zoo name; numbered if two share it)."""
    names = [r.model for r in results]
    return [n if names.count(n) == 1 else f"{n} #{i + 1}" for i, n in enumerate(names)]


def lesion_csv(results: Sequence[LesionResult]) -> str:
    """Rows: model, what (none | block | random), block or k, draw, error percent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "removed", "block_or_k", "draw", "error_percent"])
    for r in results:
        writer.writerow([r.model, "none", "", "", f"{r.error:.4f}"])
        for name, error in zip(r.blocks, r.single, strict=True):
            writer.writerow([r.model, "block", name, "", "" if error is None else f"{error:.4f}"])
        for k, errors in enumerate(r.removed_k, start=1):
            for draw, error in enumerate(errors):
                writer.writerow([r.model, "random", k, draw, f"{error:.4f}"])
    return buffer.getvalue()


def lesion_pictures(results: Sequence[LesionResult]) -> dict[str, np.ndarray]:
    """lesion-single.png, lesion-k.png and paths.png as images."""
    labels = _labels(results)
    single = {
        label: (list(range(1, len(r.blocks) + 1)), r.single)
        for label, r in zip(labels, results, strict=True)
    }
    by_k = {
        label: (list(range(1, len(r.mean_k) + 1)), r.mean_k)
        for label, r in zip(labels, results, strict=True)
    }
    paths = {}
    for label, r in zip(labels, results, strict=True):
        total = sum(r.path_lengths)
        paths[label] = (list(range(len(r.path_lengths))), [c / total for c in r.path_lengths])
    return {
        "lesion-single.png": line_chart(single, title="Test error with one block removed",
                                        xlabel="block removed (gaps: a plain block that changes shape)",
                                        ylabel="top-1 error %", ymin=0.0),
        "lesion-k.png": line_chart(by_k, title="Test error with k random blocks removed (mean of the draws)",
                                   xlabel="blocks removed (k)", ylabel="top-1 error %", ymin=0.0),
        "paths.png": line_chart(paths, title="Path lengths through the net (binomial)",
                                xlabel="path length (blocks)", ylabel="share of paths", ymin=0.0),
    }  # fmt: skip


def write_lesion_report(results: Sequence[LesionResult], out_dir: str | Path) -> dict[str, Path]:
    """Write lesion.json, lesion.csv and the PNGs of `lesion_pictures` into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"lesion.json": out / "lesion.json", "lesion.csv": out / "lesion.csv"}
    atomic_write_text(
        paths["lesion.json"], json.dumps([r.to_dict() for r in results], indent=1) + "\n"
    )
    atomic_write_text(paths["lesion.csv"], lesion_csv(results))
    for name, image in lesion_pictures(results).items():
        paths[name] = out / name
        atomic_write_bytes(paths[name], _png(image))
    return paths


def landscape_csv(results: Sequence[LandscapeResult]) -> str:
    """Rows: model, alpha, beta (empty in 1D), loss, accuracy percent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "alpha", "beta", "loss", "accuracy_percent"])
    for r in results:
        if r.dims == 1:
            for a, loss, acc in zip(r.alphas, r.loss, r.accuracy, strict=True):
                writer.writerow([r.model, f"{a:.6g}", "", f"{loss:.6f}", f"{acc:.4f}"])
            continue
        for b, losses, accs in zip(r.betas, r.loss, r.accuracy, strict=True):
            for a, loss, acc in zip(r.alphas, losses, accs, strict=True):
                writer.writerow([r.model, f"{a:.6g}", f"{b:.6g}", f"{loss:.6f}", f"{acc:.4f}"])
    return buffer.getvalue()


def landscape_pictures(results: Sequence[LandscapeResult]) -> dict[str, np.ndarray]:
    """1D: landscape-1d.png (loss) and landscape-1d-accuracy.png; 2D: one contour map
    per network, landscape-2d-<model>.png."""
    labels = _labels(results)
    pictures = {}
    lines = {
        label: (r.alphas, r.loss) for label, r in zip(labels, results, strict=True) if r.dims == 1
    }
    if lines:
        pictures["landscape-1d.png"] = line_chart(
            lines, title="Loss along a filter-normalised random direction",
            xlabel="alpha (step along the direction)", ylabel="loss", ymin=0.0)  # fmt: skip
        accs = {
            label: (r.alphas, r.accuracy)
            for label, r in zip(labels, results, strict=True)
            if r.dims == 1
        }
        pictures["landscape-1d-accuracy.png"] = line_chart(
            accs, title="Accuracy along the same direction", xlabel="alpha", ylabel="top-1 %", ymin=0.0)  # fmt: skip
    for label, r in zip(labels, results, strict=True):
        if r.dims == 2:
            pictures[f"landscape-2d-{_slug(label)}.png"] = contour_map(
                r.loss, r.alphas, r.betas, title=f"{label}: loss over two filter-normalised directions")  # fmt: skip
    return pictures


def write_landscape_report(
    results: Sequence[LandscapeResult], out_dir: str | Path
) -> dict[str, Path]:
    """Write landscape.json, landscape.csv and the PNGs of `landscape_pictures`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"landscape.json": out / "landscape.json", "landscape.csv": out / "landscape.csv"}
    atomic_write_text(
        paths["landscape.json"], json.dumps([r.to_dict() for r in results], indent=1) + "\n"
    )
    atomic_write_text(paths["landscape.csv"], landscape_csv(results))
    for name, image in landscape_pictures(results).items():
        paths[name] = out / name
        atomic_write_bytes(paths[name], _png(image))
    return paths
