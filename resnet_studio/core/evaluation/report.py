"""An evaluation's files: the confusion matrix as a labelled PNG and CSV, all as JSON.

Pillow draws the PNG (no matplotlib): a cell per (true, predicted) pair, shaded by
the share of the true class's images, with class names on both axes when they fit.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from resnet_studio.core.atomic import atomic_write_bytes, atomic_write_text
from resnet_studio.core.evaluation.metrics import EvaluationResult

OTHER = "(other)"  # the column of outputs that are none of the dataset's classes
LABELLED_UP_TO = 100  # classes; beyond, the PNG is cells only (1000 names do not fit)


def write_report(result: EvaluationResult, out_dir: str | Path) -> dict[str, Path]:
    """Write eval.json, confusion.csv, per_class.csv and confusion.png into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("eval.json", "confusion.csv", "per_class.csv",
                                           "confusion.png")}  # fmt: skip
    atomic_write_text(paths["eval.json"], json.dumps(result.to_dict(), indent=1) + "\n")
    atomic_write_text(paths["confusion.csv"], confusion_csv(result))
    atomic_write_text(paths["per_class.csv"], per_class_csv(result))
    atomic_write_bytes(paths["confusion.png"], confusion_png(result))
    return paths


def confusion_csv(result: EvaluationResult) -> str:
    """Rows: true class; columns: predicted class, then (other)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *result.class_names, OTHER])
    for name, row in zip(result.class_names, result.confusion, strict=True):
        writer.writerow([name, *row])
    return buffer.getvalue()


def per_class_csv(result: EvaluationResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", "images", "top1_percent"])
    for name in result.class_names:
        accuracy = result.per_class[name]
        writer.writerow([name, result.class_images[name],
                         "" if accuracy != accuracy else f"{accuracy:.2f}"])  # NaN: no images
    return buffer.getvalue()


def confusion_png(result: EvaluationResult) -> bytes:
    """The confusion matrix as PNG bytes: rows true, columns predicted (+ other)."""
    from PIL import Image, ImageDraw, ImageFont

    n = len(result.class_names)
    labelled = n <= LABELLED_UP_TO
    cell = max(1, min(40, 800 // max(n, 1))) if labelled else max(1, 1000 // n)
    font = ImageFont.load_default()
    names = [*result.class_names, OTHER]
    label_w = (max(int(font.getlength(s)) for s in names) + 8) if labelled else 0
    top = label_w + 24
    width, height = label_w + cell * (n + 1) + 10, top + cell * n + 10
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((4, 4), f"{result.model}: top-1 {result.top1:.2f} % on {result.split} "
              "(rows: true class, columns: predicted)",
              fill="black", font=font)  # fmt: skip
    for i, row in enumerate(result.confusion):
        total = sum(row) or 1
        for j, count in enumerate(row):
            shade = 255 - round(255 * count / total)
            colour = (shade, shade, 255) if i == j else (255, shade, shade)
            x0, y0 = label_w + j * cell, top + i * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour)
            if labelled and cell >= 24 and count:
                ink = "white" if shade < 128 else "black"
                draw.text((x0 + 2, y0 + cell // 3), str(count), fill=ink, font=font)
    if labelled:
        for i, name in enumerate(result.class_names):
            draw.text((4, top + i * cell + cell // 3), name, fill="black", font=font)
        _column_labels(image, names, label_w, top, cell, font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _column_labels(image, names: list[str], left: int, top: int, cell: int, font) -> None:  # noqa: ANN001
    """Predicted-class names written upwards above their columns."""
    from PIL import Image, ImageDraw

    for j, name in enumerate(names):
        w = int(font.getlength(name)) + 4
        strip = Image.new("RGB", (w, 12), "white")
        ImageDraw.Draw(strip).text((2, 0), name, fill="black", font=font)
        rotated = strip.rotate(90, expand=True)
        image.paste(rotated, (left + j * cell + max(0, (cell - 12) // 2), top - 4 - w))
