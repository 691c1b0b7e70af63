"""Datasets and the on-device batch loader: fast tests on tiny slices of real data."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from resnet_studio.core import data
from resnet_studio.core.data import (
    DeviceBatches,
    ImageTensors,
    Normalize,
    archives,
    crop_flip,
    image_statistics,
    load_dataset,
    make_loader,
    split_train_val,
)
from resnet_studio.core.data.decode import resize_split
from resnet_studio.core.errors import DataError
from resnet_studio.core.synthetic import CLASS_NAMES, make_synthetic

CIFAR_JPEG = Path("/work/shared/data/cifar10-jpeg")
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]
PER_CLASS = 20

needs_cifar_jpeg = pytest.mark.skipif(not (CIFAR_JPEG / "test.zip").is_file(),
                                      reason="the CIFAR-10 JPEG copy is not on this machine")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def cifar_slice() -> dict[str, list[tuple[str, bytes]]]:
    """PER_CLASS JPEG files of each class from test.zip: {class: [(name, bytes)]}."""
    if not (CIFAR_JPEG / "test.zip").is_file():
        pytest.skip("the CIFAR-10 JPEG copy is not on this machine")
    out: dict[str, list[tuple[str, bytes]]] = {c: [] for c in CIFAR_CLASSES}
    with zipfile.ZipFile(CIFAR_JPEG / "test.zip") as zf:
        for name in sorted(zf.namelist()):
            parts = name.split("/")
            if len(parts) == 3 and parts[2] and len(out[parts[1]]) < PER_CLASS:
                out[parts[1]].append((parts[2], zf.read(name)))
    return out


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return path


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, blob in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)
    return root


def tree_files(cifar_slice, prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{c}/{n}": b for c, items in cifar_slice.items() for n, b in items}


def png_bytes(size: int, colour: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def tiny_split(n: int = 50, size: int = 8, seed: int = 0) -> ImageTensors:
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=gen)
    return ImageTensors(images, torch.arange(n) % 5)


def per_channel(split: ImageTensors) -> Normalize:
    mean, std, mean_image = image_statistics(split.images)
    return Normalize("per-channel", mean, std, mean_image)


# --------------------------------------------------------------------------- synthetic


def test_synthetic_is_deterministic_per_seed_and_balanced():
    x1, y1 = make_synthetic(200, 16, seed=3)
    x2, y2 = make_synthetic(200, 16, seed=3)
    x3, _ = make_synthetic(200, 16, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert x1.shape == (200, 3, 16, 16) and x1.dtype == torch.uint8 and y1.dtype == torch.int64
    assert torch.bincount(y1, minlength=10).tolist() == [20] * 10
    assert x1.float().std() > 20  # not a blank canvas


def test_load_synthetic_dataset():
    ds = load_dataset("synthetic", image_size=16, val_size=1000)
    assert ds.class_names == CLASS_NAMES and len(ds.class_names) == 10
    assert ds.in_memory and ds.image_size == 16 and ds.skipped_files == 0
    assert (len(ds.train), len(ds.val), len(ds.test)) == (19_000, 1_000, 2_000)
    assert ds.train.images.shape[1:] == (3, 16, 16)
    assert ds.mean_image.shape == (3, 16, 16)
    assert not torch.equal(ds.test.images[:10], ds.train.images[:10])


# --------------------------------------------------------------------------- augmentation


def reference_crop_flip(img: torch.Tensor, off: tuple[int, int], flip: bool, pad: int):
    h, w = img.shape[1:]
    out = F.pad(img, (pad,) * 4)[:, off[0]:off[0] + h, off[1]:off[1] + w]
    return torch.flip(out, dims=[2]) if flip else out


def test_crop_flip_matches_pad_slice_flip():
    images = torch.arange(4 * 3 * 6 * 6, dtype=torch.float32).view(4, 3, 6, 6) + 1
    offsets = torch.tensor([[4, 4], [4, 4], [0, 8], [3, 1]])
    flips = torch.tensor([False, True, False, True])
    out = crop_flip(images, offsets, flips, pad=4)
    assert out.shape == images.shape
    assert torch.equal(out[0], images[0])  # centred crop, no flip: the image itself
    assert torch.equal(out[1], torch.flip(images[1], dims=[2]))
    for i in range(4):
        ref = reference_crop_flip(images[i], tuple(offsets[i].tolist()), bool(flips[i]), 4)
        assert torch.equal(out[i], ref)
    assert (out[2][:, :4] == 0).all()  # shifted down by 4: the top rows are padding


def test_device_batches_same_seed_same_batches_and_epochs_differ():
    split = tiny_split()
    make = lambda seed: DeviceBatches(split, 16, "cpu", train=True,  # noqa: E731
                                      normalize=per_channel(split), seed=seed)
    a = list(make(1).epoch(0))
    b = list(make(1).epoch(0))
    assert len(a) == len(make(1)) == 3  # 50 // 16, last partial batch dropped
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(a[0][1], next(iter(make(1).epoch(1)))[1])
    assert not torch.equal(a[0][0], next(iter(make(2).epoch(0)))[0])


def test_resume_mid_epoch_equals_tail_of_full_epoch():
    split = tiny_split()
    batches = DeviceBatches(split, 8, "cpu", train=True, normalize=per_channel(split), seed=5)
    full = list(batches.epoch(3))
    tail = list(batches.epoch(3, start_batch=4))
    assert len(tail) == len(full) - 4
    for (xf, yf), (xt, yt) in zip(full[4:], tail, strict=True):
        assert torch.equal(xf, xt) and torch.equal(yf, yt)


def test_train_batches_are_crops_and_flips_of_the_images():
    split = tiny_split(n=64)
    norm = per_channel(split)
    batches = DeviceBatches(split, 64, "cpu", train=True, normalize=norm, seed=0)
    x, y = next(iter(batches.epoch(0)))
    assert x.shape == (64, 3, 8, 8) and x.dtype == torch.float32 and x.is_contiguous()
    order, offsets, flips = batches._plan(0)
    assert 0 < int(flips.sum()) < 64 and len(set(map(tuple, offsets.tolist()))) > 10
    clean = norm.to("cpu")(split.images[order])  # normalised, then zero-padded
    for i in range(64):
        ref = reference_crop_flip(clean[i], tuple(offsets[i].tolist()), bool(flips[i]), 4)
        assert torch.allclose(x[i], ref)
    assert torch.equal(y, split.labels[order])


def test_eval_batches_cover_the_split_in_order_and_normalise():
    split = tiny_split(n=50)
    mean, std, mean_image = image_statistics(split.images)
    pix = DeviceBatches(split, 16, "cpu", train=False,
                        normalize=Normalize("per-pixel", mean, std, mean_image))
    chan = DeviceBatches(split, 16, "cpu", train=False, channels_last=True,
                         normalize=Normalize("per-channel", mean, std))
    assert len(pix) == 4  # eval keeps the short last batch
    x_pix = torch.cat([x for x, _ in pix.epoch(0)])
    batches = list(chan.epoch(0))
    x_chan = torch.cat([x for x, _ in batches])
    assert batches[0][0].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(torch.cat([y for _, y in chan.epoch(0)]), split.labels)
    raw = split.images.double() / 255
    assert torch.allclose(x_pix.double(), raw - mean_image.double(), atol=1e-5)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(x_chan.double(), (raw - m) / s, atol=1e-4)
    assert x_pix.mean((0, 2, 3)).abs().max() < 1e-5  # per-pixel: zero mean over the set
    assert torch.allclose(x_chan.double().std((0, 2, 3)), torch.ones(3, dtype=torch.double),
                          atol=0.02)


def test_image_statistics_match_direct_computation():
    images = tiny_split(n=30).images
    mean, std, mean_image = image_statistics(images)
    x = images.double() / 255
    assert torch.allclose(torch.tensor(mean, dtype=torch.double), x.mean((0, 2, 3)))
    assert torch.allclose(torch.tensor(std, dtype=torch.double),
                          x.std((0, 2, 3), unbiased=False), atol=1e-6)
    assert torch.allclose(mean_image.double(), x.mean(0), atol=1e-6)


def test_ranks_take_disjoint_shards_of_each_global_batch():
    split = tiny_split(n=64)
    norm = per_channel(split)
    single = list(DeviceBatches(split, 16, "cpu", train=True, normalize=norm, seed=2).epoch(0))
    shards = [list(DeviceBatches(split, 16, "cpu", train=True, normalize=norm, seed=2,
                                 rank=r, world_size=2).epoch(0)) for r in range(2)]
    for i, (x, y) in enumerate(single):
        assert torch.equal(torch.cat([shards[0][i][0], shards[1][i][0]]), x)
        assert torch.equal(torch.cat([shards[0][i][1], shards[1][i][1]]), y)


def test_per_pixel_mean_of_another_size_is_refused():
    split = tiny_split(size=8)
    wrong = Normalize("per-pixel", (0.5,) * 3, (0.25,) * 3, torch.zeros(3, 16, 16))
    with pytest.raises(DataError, match="mean image"):
        DeviceBatches(split, 8, "cpu", train=True, normalize=wrong)


# --------------------------------------------------------------------------- splits


def test_validation_split_is_stratified_disjoint_and_deterministic():
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1).expand(100, 3, 2, 2)
    split = ImageTensors(images.contiguous(), torch.arange(100) % 10)
    train, val = split_train_val(split, 25, seed=7)
    assert (len(train), len(val)) == (75, 25)
    ids = lambda s: set(s.images[:, 0, 0, 0].tolist())  # noqa: E731
    assert ids(train).isdisjoint(ids(val)) and len(ids(train) | ids(val)) == 100
    counts = torch.bincount(val.labels, minlength=10)
    assert counts.min() >= 2 and counts.max() <= 3  # 2.5 per class, rounded
    assert torch.equal(split_train_val(split, 25, seed=7)[1].images, val.images)
    assert not torch.equal(split_train_val(split, 25, seed=8)[1].images, val.images)
    assert len(split_train_val(split, 0.1, seed=0)[1]) == 10
    with pytest.raises(DataError, match="Validation size"):
        split_train_val(split, 100)


# --------------------------------------------------------------------------- folders, zips


@needs_cifar_jpeg
@pytest.mark.parametrize("layout", ["zip-with-top-folder", "zip-flat", "folder"])
def test_image_folder_layouts(tmp_path, cifar_slice, layout):
    if layout == "zip-with-top-folder":
        spec = "zip:" + str(write_zip(tmp_path / "small.zip", tree_files(cifar_slice, "test/")))
    elif layout == "zip-flat":
        spec = "zip:" + str(write_zip(tmp_path / "small.zip", tree_files(cifar_slice)))
    else:
        spec = "folder:" + str(write_folder(tmp_path / "small", tree_files(cifar_slice)))
    ds = load_dataset(spec, cache_dir=tmp_path / "cache", val_size=20, seed=0)
    assert ds.class_names == CIFAR_CLASSES
    assert ds.in_memory and ds.image_size == 32 and ds.skipped_files == 0
    assert (len(ds.train), len(ds.val), ds.test) == (10 * PER_CLASS - 20, 20, None)
    assert torch.bincount(ds.val.labels).tolist() == [2] * 10
    assert ds.train.images.shape[1:] == (3, 32, 32) and ds.train.images.dtype == torch.uint8


@needs_cifar_jpeg
def test_zip_decodes_like_pillow_and_second_load_hits_the_cache(tmp_path, cifar_slice,
                                                                monkeypatch):
    files = tree_files(cifar_slice, "train/")
    path = write_zip(tmp_path / "train.zip", files)
    calls = []
    ds = load_dataset(f"zip:{path}", cache_dir=tmp_path / "cache",
                      progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (10 * PER_CLASS, 10 * PER_CLASS)
    name, blob = cifar_slice["bird"][0]
    pil = torch.tensor(np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")))
    first_bird = ds.train.images[2 * PER_CLASS].permute(1, 2, 0)
    assert (first_bird.int() - pil.int()).abs().max() <= 2  # libjpeg vs Pillow rounding
    assert len(list((tmp_path / "cache").glob("train.zip-*/train_images.npy"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(archives, "decode_images", no_decoding)
    again = load_dataset(f"zip:{path}", cache_dir=tmp_path / "cache")
    assert torch.equal(again.train.images, ds.train.images)
    assert torch.equal(again.train.labels, ds.train.labels)


@needs_cifar_jpeg
def test_sibling_test_zip_becomes_the_test_split(tmp_path, cifar_slice):
    train = write_zip(tmp_path / "train.zip", tree_files(cifar_slice, "train/"))
    small = {c: items[:5] for c, items in cifar_slice.items()}
    write_zip(tmp_path / "test.zip", tree_files(small, "test/"))
    ds = load_dataset(f"zip:{train}", cache_dir=tmp_path / "cache")
    assert (len(ds.train), len(ds.test)) == (10 * PER_CLASS, 50)
    assert torch.bincount(ds.test.labels).tolist() == [5] * 10


@needs_cifar_jpeg
def test_corrupt_files_are_skipped_and_counted(tmp_path, cifar_slice):
    files = tree_files(cifar_slice)
    files["cat/0010x.jpg"] = b"\xff\xd8\xff\xe0 this is not really a jpeg"  # mid-class
    files["dog/0003x.png"] = b"garbage"
    root = write_folder(tmp_path / "broken", files)
    ds = load_dataset(f"folder:{root}", cache_dir=tmp_path / "cache")
    assert ds.skipped_files == 2
    assert len(ds.train) == 10 * PER_CLASS
    assert torch.bincount(ds.train.labels).tolist() == [PER_CLASS] * 10


def test_small_pngs_of_mixed_sizes_are_resized(tmp_path):
    files = {f"{c}/{i}.png": png_bytes(12 + i) for c in ("a", "b") for i in range(3)}
    ds = load_dataset(f"folder:{write_folder(tmp_path / 'd', files)}", image_size=16,
                      cache_dir=tmp_path / "cache")
    assert ds.train.images.shape == (6, 3, 16, 16) and ds.class_names == ["a", "b"]
    assert (ds.train.images[:, 0] == 200).all()


def test_large_images_stream_through_a_data_loader(tmp_path):
    files = {f"{c}/{i}.png": png_bytes(80) for c in ("cats", "dogs") for i in range(4)}
    ds = load_dataset(f"folder:{write_folder(tmp_path / 'big', files)}", image_size=72,
                      val_size=2, cache_dir=tmp_path / "cache")
    assert not ds.in_memory and ds.image_size == 72 and (len(ds.train), len(ds.val)) == (6, 2)
    x, y = next(iter(make_loader(ds.train, 3, train=True, image_size=72, workers=0)))
    assert x.shape == (3, 3, 72, 72) and x.dtype == torch.float32 and y.shape == (3,)
    x, _ = next(iter(make_loader(ds.val, 2, train=False, image_size=72, workers=0)))
    assert x.shape == (2, 3, 72, 72)


# --------------------------------------------------------------------------- bad data


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images.*one sub-folder per class"):
        load_dataset(f"folder:{tmp_path / 'empty'}")


def test_class_folder_without_images(tmp_path):
    root = write_folder(tmp_path / "d", {"cat/1.png": png_bytes(8), "dog/readme.txt": b"x"})
    with pytest.raises(DataError, match="dog.*hold no images"):
        load_dataset(f"folder:{root}", cache_dir=tmp_path / "cache")


def test_images_outside_class_folders(tmp_path):
    root = write_folder(tmp_path / "d", {"1.png": png_bytes(8), "cat/2.png": png_bytes(8)})
    with pytest.raises(DataError, match="outside class folders"):
        load_dataset(f"folder:{root}")


def test_zip_that_is_not_a_dataset(tmp_path):
    path = write_zip(tmp_path / "notes.zip", {"a.txt": b"hello", "b/c.csv": b"1,2"})
    with pytest.raises(DataError, match="holds no images"):
        load_dataset(f"zip:{path}")


def test_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK but not really")
    with pytest.raises(DataError, match="not a readable zip file"):
        load_dataset(f"zip:{path}")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"zip:{tmp_path / 'missing.zip'}")


def test_unknown_spec():
    with pytest.raises(DataError, match="Unknown dataset 'mnist'.*synthetic"):
        load_dataset("mnist")


@pytest.mark.parametrize("name, archive, url", [
    ("cifar10", "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    ("cifar100", "cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
])
def test_missing_cifar_names_the_file_the_url_and_the_folder(tmp_path, name, archive, url):
    with pytest.raises(DataError) as info:
        load_dataset(name, root=tmp_path)
    message = str(info.value)
    assert url in message and str(tmp_path / archive) in message


def test_a_single_class_is_not_a_classification_dataset(tmp_path):
    root = write_folder(tmp_path / "d", {"cat/1.png": png_bytes(8), "cat/2.png": png_bytes(8)})
    with pytest.raises(DataError, match="at least two"):
        load_dataset(f"folder:{root}", cache_dir=tmp_path / "cache")


def test_resizing_a_split_keeps_labels_and_colours():
    split = ImageTensors(torch.full((5, 3, 32, 32), 77, dtype=torch.uint8), torch.arange(5))
    small = resize_split(split, 16, chunk=2)
    assert small.images.shape == (5, 3, 16, 16) and (small.images == 77).all()
    assert torch.equal(small.labels, split.labels)


def test_describe_is_json_ready():
    split = tiny_split(n=10)
    ds = data.Dataset("tiny", list("abcde"), 8, split, None, None)
    assert json.loads(json.dumps(data.describe(ds)))["train"] == 10


def test_shuffle_without_augmentation_keeps_the_images():
    split = tiny_split(n=32)
    norm = per_channel(split)
    batches = DeviceBatches(split, 32, "cpu", train=True, augment=False, normalize=norm, seed=4)
    x, y = next(iter(batches.epoch(0)))
    order = batches._plan(0)[0]
    assert not torch.equal(order, torch.arange(32))
    assert torch.allclose(x, norm.to("cpu")(split.images[order])) and torch.equal(y, split.labels[order])
