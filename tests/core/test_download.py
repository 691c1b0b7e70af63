"""Downloads by name from a loopback HTTP server (127.0.0.1, a free port) through the
mirror setting: checkpoints in each publisher's format, and every way a download fails.

The catalog is swapped for entries whose URLs name the files made here, so the
sha256 prefix in each name is the real one of its bytes.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import socket
import threading
from pathlib import Path

import pytest
import torch

from resnet_studio.core.catalog import CIFAR_PREPROCESSING, IMAGENET_PREPROCESSING
from resnet_studio.core.errors import WeightsError
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import download, load_weights, pretrained
from resnet_studio.core.weights.classes import CIFAR10_CLASSES
from tests.core.test_weights import _randomise, _to_akamaster, _to_mmpretrain

UPSTREAM = "https://weights.example.invalid/zoo"


# ---------------------------------------------------------------------------- server


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        if self.path.endswith("/boom.pth"):
            self.send_error(503, "Service Unavailable")
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        cut = self.path.endswith("-cut.pth")
        self.send_header("Content-Length", str(len(body) * 2 if cut else len(body)))
        self.end_headers()
        self.wfile.write(body)  # a cut-off response: half of what was announced

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A loopback server for /zoo/<name>; the mirror setting points at it."""
    handler = type("Handler", (_Handler,), {"files": {}, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{httpd.server_port}/")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    yield handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(server, stem: str, payload: bytes, suffix: str = ".pth", tamper: bool = False) -> str:
    """Publish `payload` as <stem>-<its sha256 prefix><suffix>; the upstream URL."""
    digest = hashlib.sha256(payload).hexdigest()[:8]
    name = f"{stem}-{digest}{suffix}"
    server.files[f"/zoo/{name}"] = payload + (b"x" if tamper else b"")
    return f"{UPSTREAM}/{name}"


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _entry(name: str, url: str, model: str, classes: str | None, prep, shortcut="B", n=10):
    return pretrained.PretrainedEntry(
        name=name, source="test", model=model, num_classes=n, shortcut=shortcut,
        classes=classes, preprocessing=prep, interpolation="bilinear", url=url,
        sha256_prefix=download.hash_prefix(url), dataset="CIFAR-10", top1=90.0, top5=None,
        published_in="here", params=None, licence="test",
    )  # fmt: skip


@pytest.fixture
def catalog(monkeypatch):
    """Replace the catalog with the entries a test adds."""
    entries: dict[str, pretrained.PretrainedEntry] = {}
    monkeypatch.setattr(pretrained, "_by_name", lambda: entries)
    monkeypatch.setattr(pretrained, "pretrained_entries", lambda: tuple(entries.values()))
    return entries


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _same_logits(a: torch.nn.Module, b: torch.nn.Module, size: int) -> None:
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------- formats


def test_mmpretrain_wrapper_with_meta_downloads_once_and_loads(server, catalog):
    net = _randomise(create_model("resnet18-cifar"), 1)
    meta = {"CLASSES": list(CIFAR10_CLASSES), "epoch": 200, "mmcls_version": "0.15.0",
            "config": "model = dict(type='ImageClassifier')", "dataset_meta":
            {"classes": tuple(CIFAR10_CLASSES)}}  # fmt: skip
    url = _serve(server, "resnet18_b16x8_cifar10_20210528", _torch_bytes(
        {"meta": meta, "state_dict": _to_mmpretrain(net)}))
    catalog["mm18"] = _entry("mm18", url, "resnet18-cifar", "cifar10", CIFAR_PREPROCESSING)

    result = load_weights(None, "mm18")  # weights_only=True, with the meta dict
    assert result.model_name == "resnet18-cifar" and result.format == "mmpretrain"
    assert result.class_names == list(CIFAR10_CLASSES) and result.pretrained.name == "mm18"
    assert result.preprocessing == CIFAR_PREPROCESSING and result.source == "mm18"
    _same_logits(net, result.model, 32)
    cached = pretrained.cache_path(catalog["mm18"])
    assert cached.name == url.rsplit("/", 1)[1] and pretrained.is_cached(catalog["mm18"])
    load_weights(None, "mm18")
    assert len(server.hits) == 1  # the second load read the cache


def test_akamaster_module_prefixed_state_dict_loads(server, catalog):
    net = _randomise(create_model("cifar-resnet20", shortcut="A"), 2)
    state = _to_akamaster(net)  # DataParallel's `module.` keys, `linear` head
    assert all(k.startswith("module.") for k in state)
    url = _serve(server, "resnet20", _torch_bytes({"state_dict": state, "best_prec1": 91.78}),
                 suffix=".th")
    catalog["aka20"] = _entry("aka20", url, "cifar-resnet20", "cifar10", IMAGENET_PREPROCESSING,
                              shortcut="A")  # fmt: skip
    result = load_weights(None, "aka20")
    assert result.format == "cifar-reproduction" and result.meta["best_prec1"] == 91.78
    assert result.preprocessing == IMAGENET_PREPROCESSING  # his trainer's Normalize
    _same_logits(net, result.model, 32)


def test_torchvision_plain_state_dict_loads_under_a_given_network(server, catalog):
    import torchvision

    net = _randomise(torchvision.models.resnet18(num_classes=10), 3)
    url = _serve(server, "resnet18", _torch_bytes(net.state_dict()))
    catalog["tv18"] = _entry("tv18", url, "resnet18", "cifar10", IMAGENET_PREPROCESSING)
    result = load_weights("resnet18", "tv18")
    assert result.format == "torchvision" and result.model_name == "resnet18"
    _same_logits(net, result.model, 64)


def test_a_cached_file_is_used_with_no_network(server, catalog, monkeypatch):
    payload = _torch_bytes(create_model("cifar-resnet20").state_dict())
    url = _serve(server, "resnet20", payload)
    entry = catalog["c20"] = _entry("c20", url, "cifar-resnet20", "cifar10", CIFAR_PREPROCESSING)
    path = pretrained.cache_path(entry)
    path.parent.mkdir(parents=True)
    path.write_bytes(payload)  # placed by hand, as the error messages say
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{_closed_port()}/")
    assert load_weights(None, "c20").model_name == "cifar-resnet20"
    assert server.hits == []


# ---------------------------------------------------------------------------- failures


def _fails(url: str, match: str, progress=None) -> tuple[str, Path]:
    dest = download.cache_path_for(url)
    with pytest.raises(WeightsError, match=match) as info:
        download.fetch(url, progress=progress)
    message = str(info.value)
    assert download.mirrored(url) in message and str(dest) in message  # URL + where by hand
    assert _files_in(dest.parent) == []  # no partial file
    return message, dest


def test_http_404_names_url_and_path(server):
    _fails(f"{UPSTREAM}/missing-12345678.pth", "HTTP 404")


def test_http_5xx_names_url_and_path(server):
    _fails(f"{UPSTREAM}/boom.pth", "HTTP 503")


def test_a_cut_off_response_leaves_nothing(server):
    url = _serve(server, "half", b"0123456789" * 1000)
    server.files[f"/zoo/{url.rsplit('/', 1)[1].replace('.pth', '-cut.pth')}"] = b"a" * 5000
    _fails(url.replace(".pth", "-cut.pth"), "cut off after 5000 of 10000 bytes")


def test_no_network_names_url_and_path(server, monkeypatch):
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{_closed_port()}")
    _fails(f"{UPSTREAM}/x-12345678.pth", "refused")


def test_a_wrong_hash_leaves_nothing(server):
    _fails(_serve(server, "bad", b"payload", tamper=True), "damaged")


def test_a_full_disk_names_url_and_path(server, monkeypatch):
    url = _serve(server, "big", b"z" * 3000)

    class FullDisk(io.BytesIO):
        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = open
    monkeypatch.setattr(download, "open", lambda p, mode="r", *a, **k: FullDisk()
                        if "w" in mode else real_open(p, mode, *a, **k), raising=False)  # fmt: skip
    message, _ = _fails(url, "disk is full")
    assert "free some space" in message


def test_cancel_from_progress_leaves_no_file(server):
    url = _serve(server, "cancel", b"q" * (3 * download.CHUNK_BYTES))

    class Stop(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        download.fetch(url, progress=cancel)
    assert _files_in(download.cache_path_for(url).parent) == []


def test_progress_reports_bytes_and_total(server):
    payload = b"p" * (download.CHUNK_BYTES + 10)
    seen: list[tuple[int, int]] = []
    path = download.fetch(_serve(server, "progress", payload),
                          progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    assert path.read_bytes() == payload and seen[-1] == (len(payload), len(payload))


# ---------------------------------------------------------------------------- mirror


@pytest.mark.parametrize(
    ("mirror", "expected"),
    [
        ("", "https://h.org/a/b/x.pth"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/a/b/x.pth"),
        ("http://proxy/weights/", "http://proxy/weights/a/b/x.pth"),
        ("file:///srv/w", "file:///srv/w/a/b/x.pth"),
    ],
)
def test_the_mirror_replaces_scheme_and_host(monkeypatch, mirror, expected):
    monkeypatch.setenv(download.MIRROR_ENV, mirror)
    assert download.mirrored("https://h.org/a/b/x.pth") == expected


def test_a_file_mirror_works_offline(tmp_path, monkeypatch):
    payload = b"mirrored bytes"
    name = f"w-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (tmp_path / "mirror" / "zoo").mkdir(parents=True)
    (tmp_path / "mirror" / "zoo" / name).write_bytes(payload)
    monkeypatch.setenv(download.MIRROR_ENV, (tmp_path / "mirror").as_uri())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = download.fetch(f"{UPSTREAM}/{name}")
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / name
    assert path.read_bytes() == payload


def test_a_mirror_that_is_not_a_url_is_refused(monkeypatch):
    monkeypatch.setenv(download.MIRROR_ENV, "proxy.local")
    with pytest.raises(WeightsError, match="is not a URL"):
        download.mirrored("https://h.org/x.pth")


def test_hub_dir_while_torch_is_half_imported(monkeypatch, tmp_path):
    # the window's Pretrained list asks while a worker imports torch: torch is in
    # sys.modules before its __init__ has bound torch.hub
    import sys
    import types

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    assert download.hub_dir() == tmp_path / "home" / "hub"
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert download.hub_dir() == Path(torch.hub.get_dir())  # once imported, torch.hub answers
