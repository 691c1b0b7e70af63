"""`core.evaluation`: accuracy equal to a plain PIL loop on the same images, class-name
matching and remapping, refusals, and the report files."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from resnet_studio.core.catalog import CIFAR_PREPROCESSING
from resnet_studio.core.errors import DataError
from resnet_studio.core.evaluation import (
    DecodeProgress,
    EvalProgress,
    evaluate,
    match_classes,
    write_report,
)
from resnet_studio.core.images import preprocess
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, CIFAR100_CLASSES, save_weights

TEST_ZIP = Path("/work/shared/data/cifar10-jpeg/test.zip")
SLICE = 200
needs_zip = pytest.mark.skipif(not TEST_ZIP.is_file(), reason="the shared CIFAR-10 copy is absent")


def _members() -> list[tuple[str, int]]:
    """(member, label) of test.zip in ImageFolder order, then SLICE spread evenly."""
    with zipfile.ZipFile(TEST_ZIP) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".jpg"))
    by_class = sorted(names, key=lambda n: (n.split("/")[1], n))
    labelled = [(n, CIFAR10_CLASSES.index(n.split("/")[1])) for n in by_class]
    return [labelled[i * len(labelled) // SLICE] for i in range(SLICE)]


def _pil_images(members: list[tuple[str, int]]) -> list[Image.Image]:
    with zipfile.ZipFile(TEST_ZIP) as z:
        return [Image.open(io.BytesIO(z.read(m))).convert("RGB") for m, _ in members]


def _plain_loop(model: torch.nn.Module, images, labels, prep, batch: int):
    """PIL decode + the same preprocessing + argmax: what `eval` must equal."""
    x = torch.stack([preprocess(img, prep) for img in images])
    with torch.inference_mode():
        logits = torch.cat([model.eval()(x[i:i + batch]) for i in range(0, len(x), batch)])
    y = torch.tensor(labels)
    top1 = 100.0 * int((logits.argmax(1) == y).sum()) / len(y)
    top5 = 100.0 * int((logits.topk(5, 1).indices == y[:, None]).any(1).sum()) / len(y)
    return top1, top5, logits.argmax(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """cifar-resnet8 trained for a few steps on the slice: right on some images only."""
    members = _members()
    images = _pil_images(members)
    x = torch.stack([preprocess(img, CIFAR_PREPROCESSING) for img in images])
    y = torch.tensor([label for _, label in members])
    torch.manual_seed(0)
    model = create_model("cifar-resnet8")
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(25):
        idx = torch.randint(0, SLICE, (64,), generator=torch.Generator().manual_seed(step))
        loss = torch.nn.functional.cross_entropy(model.train()(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = tmp_path_factory.mktemp("weights") / "r8.safetensors"
    save_weights(model, path, {"model": "cifar-resnet8", "class_names": list(CIFAR10_CLASSES),
                               "preprocessing": CIFAR_PREPROCESSING})  # fmt: skip
    return model.eval(), path, members, images


@needs_zip
def test_eval_equals_a_plain_loop_on_a_slice_of_the_cifar10_zip(trained):
    model, path, members, images = trained
    events: list = []
    result = evaluate(None, str(path), f"zip:{TEST_ZIP}", limit=SLICE, batch_size=64,
                      device="cpu", on_event=events.append)  # fmt: skip
    top1, top5, predicted = _plain_loop(model, images, [m[1] for m in members],
                                        CIFAR_PREPROCESSING, 64)  # fmt: skip
    assert result.images == SLICE and result.class_match == "name"
    assert 15 < result.top1 < 95  # a net that is right on some images, so equality means something
    assert (result.top1, result.top5) == (top1, top5)
    expected = [[0] * 11 for _ in range(10)]
    for (_, label), p in zip(members, predicted.tolist(), strict=True):
        expected[label][p] += 1
    assert result.confusion == expected
    assert sum(result.class_images.values()) == SLICE and len(result.per_class) == 10
    assert any(isinstance(e, DecodeProgress) for e in events)
    assert isinstance(events[-1], EvalProgress) and events[-1].done == SLICE
    assert result.published_top1 is None and result.top1_diff is None  # a file of our own


def _folder(root: Path, classes: dict[str, list[Image.Image]], size: int | None = None) -> Path:
    for name, images in classes.items():
        (root / name).mkdir(parents=True)
        for i, img in enumerate(images):
            (img.resize((size, size)) if size else img).save(root / name / f"{i:03d}.png")
    return root


@needs_zip
def test_class_names_are_matched_loosely_and_remapped(trained, tmp_path):
    model, path, members, images = trained
    pick = {"Truck": 9, "AIR_PLANE": 0, "Auto mobile": 1}  # sorted order is not label order
    chosen = {name: [img for (m, lab), img in zip(members, images, strict=True) if lab == label]
              for name, label in pick.items()}  # fmt: skip
    root = _folder(tmp_path / "three", chosen)
    result = evaluate(None, str(path), f"folder:{root}", device="cpu")
    flat = [(img, label) for name, label in pick.items() for img in chosen[name]]
    top1, _, _ = _plain_loop(model, [i for i, _ in flat], [lab for _, lab in flat],
                             CIFAR_PREPROCESSING, 256)  # fmt: skip
    assert result.class_match == "name" and result.top1 == top1
    assert result.class_names == sorted(pick) and "remapped" in " ".join(result.notes)
    assert len(result.confusion[0]) == 4  # 3 classes + (other)


@needs_zip
def test_other_sizes_go_through_the_torchvision_transform(trained, tmp_path):
    model, path, members, images = trained
    chosen = {c: [img for (m, lab), img in zip(members, images, strict=True) if lab == i][:4]
              for i, c in enumerate(CIFAR10_CLASSES)}  # fmt: skip
    root = _folder(tmp_path / "big", chosen, size=48)  # resize 32 + crop 32, on PIL
    result = evaluate(None, str(path), f"folder:{root}", device="cpu", workers=0)
    flat = [(Image.open(p).convert("RGB"), CIFAR10_CLASSES.index(p.parent.name))
            for p in sorted(root.rglob("*.png"))]  # fmt: skip
    top1, _, _ = _plain_loop(model, [i for i, _ in flat], [lab for _, lab in flat],
                             CIFAR_PREPROCESSING, 256)  # fmt: skip
    assert result.images == 40 and result.top1 == top1


def test_a_10_class_net_on_more_classes_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(create_model("cifar-resnet8"), path,
                 {"model": "cifar-resnet8", "class_names": list(CIFAR10_CLASSES)})  # fmt: skip
    tile = Image.new("RGB", (32, 32), "gray")
    root = _folder(tmp_path / "c12", {f"class{i:02d}": [tile] for i in range(12)})
    with pytest.raises(DataError, match="12 classes but the network only 10 outputs"):
        evaluate(None, str(path), f"folder:{root}", device="cpu")


# ---------------------------------------------------------------------------- matching


def test_matching_by_name_ignores_case_spaces_and_underscores():
    match = match_classes(["Aquarium Fish", "apple", "WILLOW-TREE"], CIFAR100_CLASSES, 100)
    assert match.outputs == (1, 0, 96) and match.by == "name"


def test_matching_refuses_names_that_are_not_the_networks():
    with pytest.raises(DataError, match="2 of the dataset's 3 classes are not classes"):
        match_classes(["cat", "sofa", "lamp post"], CIFAR10_CLASSES, 10)
    with pytest.raises(DataError, match="100 classes but the network only 10"):
        match_classes(list(CIFAR100_CLASSES), CIFAR10_CLASSES, 10)


def test_matching_without_names_goes_by_index_only_when_counts_agree():
    assert match_classes(list("abc"), None, 3).by == "index"
    with pytest.raises(DataError, match="carry no class names"):
        match_classes(list("ab"), None, 3)


def test_imagenet_folder_ids_map_in_sorted_order():
    wnids = [f"n{i:08d}" for i in range(1000)][::-1]  # listed backwards
    match = match_classes(wnids, None, 1000)
    assert match.by == "wnid" and match.outputs[0] == 999 and match.outputs[-1] == 0


def test_mmpretrain_imagenet_names_match_their_first_synonym():
    assert match_classes(["tench"], ["tench, Tinca tinca", "goldfish"], 2).outputs == (0,)


# ---------------------------------------------------------------------------- report


@needs_zip
def test_report_writes_png_csv_and_json(trained, tmp_path):
    _, path, _, _ = trained
    result = evaluate(None, str(path), f"zip:{TEST_ZIP}", limit=50, device="cpu")
    files = write_report(result, tmp_path / "out")
    with Image.open(files["confusion.png"]) as png:
        assert png.format == "PNG" and png.width > 300
    rows = list(csv.reader(files["confusion.csv"].open()))
    assert rows[0] == ["true \\ predicted", *CIFAR10_CLASSES, "(other)"]
    assert sum(int(v) for row in rows[1:] for v in row[1:]) == 50
    saved = json.loads(files["eval.json"].read_text())
    assert saved["top1"] == result.top1 and set(saved["per_class"]) == set(CIFAR10_CLASSES)
    per_class = list(csv.reader(files["per_class.csv"].open()))
    assert per_class[0] == ["class", "images", "top1_percent"] and len(per_class) == 11
    assert all(not math.isnan(v) for v in result.per_class.values())  # 50 spread: every class
