"""A pretrained checkpoint the GUI tests create and serve: our cifar-resnet20 in
akamaster's format (a `module.`-prefixed state_dict with a `linear` head), published
as the catalog's `cifar-resnet20.akamaster` with a URL whose name carries the real
sha256 prefix of these bytes, from a loopback HTTP server (127.0.0.1, a free port)
that `$RESNET_STUDIO_WEIGHTS_MIRROR` points at; `$TORCH_HOME` is a temporary folder.

`hold` makes the server stop after the first MiB until `release` is set, so a test
can cancel a download in the middle. Helpers as in tests/core/test_download.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import io
import threading
from pathlib import Path

import pytest
import torch

from resnet_studio.core.models import create_model
from resnet_studio.core.weights import download, pretrained
from tests.core.test_weights import _randomise, _to_akamaster

NAME = "cifar-resnet20.akamaster"
UPSTREAM = "https://weights.example.invalid/zoo"
CUT_BYTES = 1 << 20  # the held server sends this much, then waits


def checkpoint_bytes() -> bytes:
    """Our cifar-resnet20 (option A, non-trivial BN statistics) as akamaster saves it."""
    net = _randomise(create_model("cifar-resnet20", shortcut="A"), 2)
    buffer = io.BytesIO()
    torch.save({"state_dict": _to_akamaster(net), "best_prec1": 91.78}, buffer)
    return buffer.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hold = threading.Event()  # set: stop after CUT_BYTES until `release`
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.hold.is_set():
            self.wfile.write(body[:CUT_BYTES])
            self.wfile.flush()
            self.release.wait(30)
            body = body[CUT_BYTES:]
        with contextlib.suppress(OSError):  # the client went away (cancelled)
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclasses.dataclass
class Served:
    entry: pretrained.PretrainedEntry
    handler: type[_Handler]
    httpd: http.server.ThreadingHTTPServer
    cache_dir: Path

    def stop(self) -> None:
        """Take the server down: downloads now fail as offline ones do."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(monkeypatch, tmp_path):
    payload = checkpoint_bytes()
    digest = hashlib.sha256(payload).hexdigest()[:8]
    url = f"{UPSTREAM}/resnet20-{digest}.th"
    real = {e.name: e for e in pretrained.pretrained_entries()}
    real[NAME] = entry = dataclasses.replace(real[NAME], url=url, sha256_prefix=digest)
    monkeypatch.setattr(pretrained, "_by_name", lambda: real)
    monkeypatch.setattr(pretrained, "pretrained_entries", lambda: tuple(real.values()))
    handler = type("Handler", (_Handler,), {"files": {f"/zoo/{url.rsplit('/', 1)[1]}": payload},
                                            "hold": threading.Event(), "release": threading.Event()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{httpd.server_port}/")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    served = Served(entry, handler, httpd, tmp_path / "torch" / "hub" / "checkpoints")
    yield served
    handler.release.set()
    if thread.is_alive():
        served.stop()
    thread.join(10)


def place_by_hand(tmp_path: Path, monkeypatch) -> Path:
    """The real catalog entry's file, put into torch.hub's cache (as the offline message
    says to): loading it by name then needs no network and no catalog change."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = pretrained.cache_path(pretrained.get_pretrained(NAME))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(checkpoint_bytes())
    return path
