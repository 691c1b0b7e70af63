"""The data sources of Figure 6 on the real CIFAR-10: torchvision's CIFAR-10 downloaded
on first use (through core's downloader: progress, cancel, no partial file), and the
messages when it cannot be (offline, damaged), which name the URL, the exact path to put
the file and the offline fallback.

The archive is a small CIFAR-10 look-alike in torchvision's layout, served from a
`file://` mirror ($RESNET_STUDIO_WEIGHTS_MIRROR): real bytes through the real path, with
torchvision's md5s patched to the look-alike's.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import socket
import tarfile

import numpy as np
import pytest
from torchvision import datasets as tv

from resnet_studio.core.data import load_dataset
from resnet_studio.core.errors import DataError
from resnet_studio.core.weights import download

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 20


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _batch(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pickle.dumps({"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
                         "labels": [i % 10 for i in range(PER_BATCH)]})  # fmt: skip


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror holding a CIFAR-10 look-alike at the path of torchvision's URL."""
    files = {name: _batch(i) for i, (name, _) in enumerate(tv.CIFAR10.train_list + tv.CIFAR10.test_list)}
    files["batches.meta"] = pickle.dumps({"label_names": CLASSES})
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{tv.CIFAR10.base_folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blob = archive.getvalue()
    served = tmp_path / "mirror" / "~kriz" / tv.CIFAR10.filename
    served.parent.mkdir(parents=True)
    served.write_bytes(blob)
    monkeypatch.setattr(tv.CIFAR10, "tgz_md5", _md5(blob))
    monkeypatch.setattr(tv.CIFAR10, "train_list", [[n, _md5(files[n])] for n, _ in tv.CIFAR10.train_list])
    monkeypatch.setattr(tv.CIFAR10, "test_list", [[n, _md5(files[n])] for n, _ in tv.CIFAR10.test_list])
    monkeypatch.setattr(tv.CIFAR10, "meta", {**tv.CIFAR10.meta, "md5": _md5(files["batches.meta"])})
    monkeypatch.setenv(download.MIRROR_ENV, (tmp_path / "mirror").as_uri())
    return served


def test_cifar10_is_downloaded_on_first_use_with_progress(mirror, tmp_path):
    root = tmp_path / "data"
    seen: list[tuple[int, int]] = []
    ds = load_dataset("cifar10", root=root, download=True, image_size=16, test_size=10,
                      download_progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert (root / tv.CIFAR10.filename).read_bytes() == mirror.read_bytes()
    assert seen and seen[-1] == (mirror.stat().st_size, mirror.stat().st_size)
    assert ds.name == "CIFAR-10" and ds.class_names == CLASSES and ds.image_size == 16
    assert len(ds.train) == 5 * PER_BATCH and len(ds.test) == 10  # the fixed test subset
    assert ds.test.labels.bincount().tolist() == [1] * 10  # class-balanced
    again = load_dataset("cifar10", root=root, download=True, image_size=16,
                         download_progress=lambda done, total: pytest.fail("downloaded twice"))  # fmt: skip
    assert len(again.test) == PER_BATCH


def test_a_cancelled_download_leaves_no_file(mirror, tmp_path):
    root = tmp_path / "data"

    def cancel(done: int, total: int) -> None:
        raise DataError("stopped")

    with pytest.raises(DataError, match="stopped"):
        load_dataset("cifar10", root=root, download=True, download_progress=cancel)
    assert not root.exists() or list(root.iterdir()) == []


def test_a_damaged_download_is_refused_and_removed(mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(tv.CIFAR10, "tgz_md5", "0" * 32)
    root = tmp_path / "data"
    with pytest.raises(DataError, match="damaged") as caught:
        load_dataset("cifar10", root=root, download=True)
    assert str(root / tv.CIFAR10.filename) in str(caught.value)
    assert not (root / tv.CIFAR10.filename).exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_the_message_names_the_url_the_path_and_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{_closed_port()}/")
    root = tmp_path / "data"
    with pytest.raises(DataError) as caught:
        load_dataset("cifar10", root=root, download=True)
    message = str(caught.value)
    assert "cifar-10-python.tar.gz" in message and str(root / tv.CIFAR10.filename) in message
    assert "synthetic" in message  # the offline fallback is named
    assert not (root / tv.CIFAR10.filename).exists()
    with pytest.raises(DataError, match="synthetic"):  # without --download: what to fetch, and the fallback
        load_dataset("cifar10", root=root, download=False)


def test_a_hand_copied_archive_is_used_without_the_network(mirror, tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    (root / tv.CIFAR10.filename).write_bytes(mirror.read_bytes())
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{_closed_port()}/")  # offline
    ds = load_dataset("cifar10", root=root, download=False)
    assert len(ds.train) == 5 * PER_BATCH


def test_train_and_test_subsets_are_fixed_and_balanced():
    a = load_dataset("synthetic", image_size=8, val_size=100, train_size=200, test_size=100, seed=0)
    b = load_dataset("synthetic", image_size=8, val_size=100, train_size=200, test_size=100, seed=0)
    assert len(a.train) == 200 and len(a.test) == 100
    assert (a.train.images == b.train.images).all() and (a.test.images == b.test.images).all()
    counts = a.train.labels.bincount()
    assert counts.max() - counts.min() <= 1
    with pytest.raises(DataError, match="empty"):
        load_dataset("synthetic", image_size=8, test_size=-1)

