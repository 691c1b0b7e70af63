"""Ship a finished run's weights in the package, with their provenance.

    python scripts/ship_weights.py RUN [RUN ...] [--runs-dir DIR] [--test zip:PATH] [--command "..."]

For each run: its latest checkpoint's weights, evaluated on the whole test set in
fp32 and stored rounded to fp16, measured again (fp16 is kept only if the top-1 moves
by at most 0.05 points: it halves the file), and on what `tests/core/test_shipped.py`
re-measures: a fixed slice of the test zip, the 100-image test slice shipped in the
package (`core.samples.cifar10_test_slice`) and the ten shipped samples. Writes `resnet_studio/resources/weights/<zoo name>.safetensors` and
`<zoo name>.json` (the command, the run's config.json, its final status and summary,
the measured accuracies, the storage dtype).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from resnet_studio.core.evaluation import evaluate_loaded
from resnet_studio.core.predict import Predictor
from resnet_studio.core.runs import open_run
from resnet_studio.core.samples import cifar10_test_slice, sample_paths, true_class
from resnet_studio.core.weights import load_weights, save_weights

OUT = Path(__file__).resolve().parents[1] / "resnet_studio" / "resources" / "weights"
SLICE = 500  # images spread over the test split, re-measured by the tests


def ship(run_name: str, runs_dir: str | None, test: str, command: str) -> dict:
    run = open_run(run_name, runs_dir)
    folder = run.latest_checkpoint()
    loaded = load_weights(None, folder / "model.safetensors")
    name = loaded.model_name
    full32 = evaluate_loaded(loaded, test, device="cpu")
    state16 = {k: (v.half() if v.is_floating_point() else v) for k, v in loaded.model.state_dict().items()}
    meta = dict(loaded.meta)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = save_weights(state16, Path(tmp) / f"{name}.safetensors", meta)
        loaded16 = load_weights(name, candidate)
        full16 = evaluate_loaded(loaded16, test, device="cpu")
        # fp16 halves the file; keep it only if no more than 0.05 points (5 of 10,000
        # test images) move
        keep16 = abs(full16.top1 - full32.top1) <= 0.05
        final = loaded16 if keep16 else loaded
        part = evaluate_loaded(final, test, device="cpu", limit=SLICE)
        shipped_slice = evaluate_loaded(final, f"zip:{cifar10_test_slice()}", device="cpu")
        samples = _samples_right(final)
        OUT.mkdir(parents=True, exist_ok=True)
        state = state16 if keep16 else loaded.model.state_dict()
        path = save_weights(state, OUT / f"{name}.safetensors", meta)
    status = json.loads((run.path / "status.json").read_text())
    config = json.loads((run.path / "config.json").read_text())
    recipe = config["recipe"]
    iterations = status.get("summary", {}).get("iterations")
    train_images = 50_000 - int(recipe.get("val_size") or 0)
    provenance = {
        "model": name,
        "run": run.name,
        "command": command,
        "shipped": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "epochs": round(iterations * recipe["batch_size"] / train_images, 1),
        "iterations": iterations,
        "storage": "float16" if keep16 else "float32",
        "test_dataset": test.split("/")[-1],
        "test_images": full32.images,
        "test_top1": round(full16.top1 if keep16 else full32.top1, 2),
        "test_top1_float32": round(full32.top1, 2),
        "test_top1_float16": round(full16.top1, 2),
        "test_top5": round(full32.top5, 2),
        "slice": {"limit": SLICE, "top1": part.top1, "correct": round(part.top1 * part.images / 100)},
        "shipped_slice": {"images": shipped_slice.images, "top1": shipped_slice.top1,
                          "correct": round(shipped_slice.top1 * shipped_slice.images / 100)},
        "samples_right": samples,
        "status": status,
        "config": config,
        "torch": torch.__version__,
    }
    path.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o644)  # package data: readable by everyone once installed
    return {"file": str(path), "bytes": path.stat().st_size, **{k: provenance[k] for k in
            ("model", "epochs", "storage", "test_top1", "test_top1_float32", "test_top1_float16", "slice",
             "shipped_slice", "samples_right")}}  # fmt: skip


def _samples_right(loaded) -> list[str]:  # noqa: ANN001 (a LoadResult)
    """The shipped samples these weights classify right (their true class first)."""
    from resnet_studio.core.catalog import resolve_preprocessing
    from resnet_studio.core.images import load_image

    prep = resolve_preprocessing(loaded.model_name, loaded.preprocessing)
    predictor = Predictor(loaded.model, prep, loaded.class_names, device="cpu")
    right = []
    for path in sample_paths():
        top = predictor.predict([load_image(path)], 1)[0][0]
        if top.name == true_class(path):
            right.append(true_class(path))
    return right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--runs-dir")
    parser.add_argument("--test", default="zip:" + str(Path(__file__).resolve().parents[2] / "shared"
                                                       / "data" / "cifar10-jpeg" / "test.zip"))
    parser.add_argument("--command", required=True, help="the exact command that trained the runs")
    args = parser.parse_args()
    for run in args.runs:
        print(json.dumps(ship(run, args.runs_dir, args.test, args.command)))


if __name__ == "__main__":
    main()
