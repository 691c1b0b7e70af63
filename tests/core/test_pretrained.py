"""The pretrained catalog (resources/pretrained.json): complete, consistent with its
publishers (torchvision's own enum meta, mmpretrain's table, akamaster's README),
readable without torch, and one name away from a loaded model."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from resnet_studio.core.catalog import CIFAR_LISTED_DEPTHS, IMAGENET_MEAN, IMAGENET_STD, parse_name
from resnet_studio.core.errors import ModelNameError, WeightsError
from resnet_studio.core.weights import pretrained
from resnet_studio.core.weights.download import hash_prefix, url_file_name

MMPRETRAIN = [
    *(f"resnet{d}_8xb16_cifar10" for d in (18, 34, 50, 101, 152)), "resnet50_8xb16_cifar100",
    *(f"resnet{d}_8xb32_in1k" for d in (18, 34, 50, 101, 152)),
    *(f"resnetv1c{d}_8xb32_in1k" for d in (50, 101, 152)),
    *(f"resnetv1d{d}_8xb32_in1k" for d in (50, 101, 152)),
    "resnet50_8xb32-fp16_in1k", "resnet50_8xb256-rsb-a1-600e_in1k",
    "resnet50_8xb256-rsb-a2-300e_in1k", "resnet50_8xb256-rsb-a3-100e_in1k", "resnet50_8xb8_cub",
]  # fmt: skip
AKAMASTER_ERROR = {20: 8.27, 32: 7.37, 44: 6.90, 56: 6.61, 110: 6.32, 1202: 6.18}
AKAMASTER_FILES = {20: "resnet20-12fca82f.th", 32: "resnet32-d509ac18.th",
                   44: "resnet44-014dd654.th", 56: "resnet56-4bfd9763.th",
                   110: "resnet110-1d1ed7c2.th", 1202: "resnet1202-f3b1deed.th"}  # fmt: skip


def _by_source(source: str) -> list[pretrained.PretrainedEntry]:
    return [e for e in pretrained.pretrained_entries() if e.source == source]


def test_mmpretrain_table_is_complete_under_its_own_names():
    assert sorted(e.name for e in _by_source("mmpretrain")) == sorted(MMPRETRAIN)
    entry = pretrained.get_pretrained("resnet18_8xb16_cifar10")
    assert entry.url == ("https://download.openmmlab.com/mmclassification/v0/resnet/"
                         "resnet18_b16x8_cifar10_20210528-bd6371c8.pth")
    assert entry.top1 == 94.82 and entry.sha256_prefix == "bd6371c8"
    assert entry.choice.resolved().name == "resnet18-cifar" and entry.num_classes == 10


def test_mmpretrain_preprocessing_is_its_configs():
    cifar10 = pretrained.get_pretrained("resnet50_8xb16_cifar10").preprocessing
    assert cifar10.mean == pytest.approx([v / 255 for v in (125.307, 122.961, 113.8575)])
    assert cifar10.std == pytest.approx([v / 255 for v in (51.5865, 50.847, 51.255)])
    cifar100 = pretrained.get_pretrained("resnet50_8xb16_cifar100").preprocessing
    assert cifar100.mean == pytest.approx([v / 255 for v in (129.304, 124.070, 112.434)])
    in1k = pretrained.get_pretrained("resnet50_8xb32_in1k")
    assert (in1k.preprocessing.resize_size, in1k.preprocessing.input_size) == (256, 224)
    rsb = pretrained.get_pretrained("resnet50_8xb256-rsb-a1-600e_in1k")
    assert (rsb.preprocessing.resize_size, rsb.interpolation) == (236, "bicubic")
    cub = pretrained.get_pretrained("resnet50_8xb8_cub")
    assert (cub.num_classes, cub.preprocessing.input_size, cub.classes) == (200, 448, "cub")
    assert len(cub.class_names()) == 200 and cub.class_names()[0] == "Black_footed_Albatross"


def test_the_resnet34_params_typo_is_corrected():
    entry = pretrained.get_pretrained("resnet34_8xb32_in1k")
    assert entry.params == 21_800_000 and any("typo" in n for n in entry.notes)


def test_torchvision_entries_match_torchvision_own_meta():
    import torchvision.models

    entries = _by_source("torchvision")
    assert len(entries) == 8  # V1 for every depth, V2 for 50, 101, 152
    for e in entries:
        depth, tag = re.fullmatch(r"resnet(\d+)\.(tv|tv2)_in1k", e.name).groups()
        enum = getattr(torchvision.models, f"ResNet{depth}_Weights")
        weights = enum["IMAGENET1K_V1" if tag == "tv" else "IMAGENET1K_V2"]
        metrics = weights.meta["_metrics"]["ImageNet-1K"]
        assert (e.url, e.top1, e.top5) == (weights.url, metrics["acc@1"], metrics["acc@5"])
        assert e.params == weights.meta["num_params"] and e.model == f"resnet{depth}"
        assert e.preprocessing.resize_size == weights.transforms.keywords.get("resize_size", 256)


def test_akamaster_entries_match_his_readme():
    entries = {parse_name(e.model).depth: e for e in _by_source("akamaster")}
    assert sorted(entries) == sorted(CIFAR_LISTED_DEPTHS)
    for depth, e in entries.items():
        assert e.name == f"cifar-resnet{depth}.akamaster" and e.shortcut == "A"
        assert e.url == ("https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/"
                         f"pretrained_models/{AKAMASTER_FILES[depth]}")
        assert e.top1 == pytest.approx(100 - AKAMASTER_ERROR[depth])
        assert e.preprocessing.mean == IMAGENET_MEAN and e.preprocessing.std == IMAGENET_STD


def test_every_entry_is_consistent():
    for e in pretrained.pretrained_entries():
        spec = parse_name(e.model)  # a zoo network
        assert e.choice.resolved().num_classes == e.num_classes
        assert e.sha256_prefix == hash_prefix(e.url) and e.file_name == url_file_name(e.url)
        assert e.dataset in pretrained.DATASET_ORDER and e.licence and e.published_in
        assert 0 < e.top1 < 100 and (e.top5 is None or e.top1 < e.top5 < 100)
        assert e.preprocessing.input_size in (32, 224, 448)
        assert spec.family != "imagenet-cifar" or e.preprocessing.input_size == 32
        if e.classes not in (None, "imagenet"):
            assert len(e.class_names()) == e.num_classes


def test_unknown_names_suggest_close_ones():
    with pytest.raises(WeightsError, match="Did you mean resnet18_8xb16_cifar10"):
        pretrained.get_pretrained("resnet18_8xb16_cifar")
    assert pretrained.is_pretrained_name("resnet50.tv2_in1k")
    assert not pretrained.is_pretrained_name("resnet50")


def test_find_groups_by_dataset_and_filters():
    found = pretrained.find_pretrained("cifar")
    datasets = [e.dataset for e in found]
    assert datasets == sorted(datasets, key=pretrained.DATASET_ORDER.index)
    assert {e.dataset for e in found} == {"CIFAR-10", "CIFAR-100"}
    assert [e.name for e in pretrained.find_pretrained("akamaster")][0] == "cifar-resnet20.akamaster"


def test_is_cached_looks_in_torch_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    entry = pretrained.get_pretrained("cifar-resnet56.akamaster")
    assert pretrained.cache_path(entry) == tmp_path / "hub" / "checkpoints" / "resnet56-4bfd9763.th"
    assert not pretrained.is_cached(entry)
    pretrained.cache_path(entry).parent.mkdir(parents=True)
    pretrained.cache_path(entry).write_bytes(b"x")
    assert pretrained.is_cached(entry) and entry.to_dict()["cached"] is True


def test_the_catalog_reads_without_torch():
    code = (
        "import sys\n"
        "from resnet_studio.core.weights import pretrained\n"
        "e = pretrained.get_pretrained('resnet50.tv2_in1k'); pretrained.is_cached(e)\n"
        "print(len(pretrained.pretrained_names()), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["36", "False"]


def test_a_malformed_catalog_is_refused():
    with pytest.raises(ValueError, match="format_version"):
        pretrained.parse_catalog({"format_version": 99, "entries": []})
    raw = json.loads(json.dumps(pretrained.get_pretrained("resnet50.tv_in1k").to_dict()))
    assert raw["url"].endswith("resnet50-0676ba61.pth")


def test_model_arguments_read_pretrained_names():
    from resnet_studio.core.weights import network_name

    assert network_name("resnet18_8xb16_cifar10") == "resnet18-cifar"
    assert network_name("ResNet50") == "resnet50"
    with pytest.raises(ModelNameError, match="resnet18_8xb16_cifar10"):
        network_name("resnet18_8xb16_cifar")
