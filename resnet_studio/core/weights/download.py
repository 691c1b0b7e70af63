"""Downloading weight files into torch.hub's cache: safely, with progress and cancel.

Files go where torch.hub keeps them, `$TORCH_HOME/hub/checkpoints/<the URL's file
name>`, so a file fetched before by torchvision, timm, mmpretrain or torch.hub is
reused, and a user without internet can put the file there by hand. Our own loop,
because torch.hub reports progress to a terminal bar only, not to a callback.

Every download is written beside its target and renamed when complete and checked
(the sha256 prefix torch.hub's convention puts in the file name, `name-<hash>.pth`),
so a cancel, a crash or any failure leaves no partial file. Each failure is a
`WeightsError` naming the URL and the exact path to put the file by hand.

A mirror (users behind a proxy, an internal server, a shared folder; the tests'
loopback server) is set with `$RESNET_STUDIO_WEIGHTS_MIRROR`: its URL replaces the
scheme and host of every download, and its own path is put in front of the URL's
path. With `RESNET_STUDIO_WEIGHTS_MIRROR=http://10.0.0.5/weights`,
`https://download.pytorch.org/models/resnet18-f37072fd.pth` is fetched from
`http://10.0.0.5/weights/models/resnet18-f37072fd.pth`; `file:///srv/weights` works
too. The cache path stays the same, so a mirrored file is the file torch.hub wants.

This module imports no torch (it is read for "is it cached?" in listings).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from resnet_studio.core.atomic import replacing
from resnet_studio.core.errors import WeightsError

Progress = Callable[[int, int], None]  # (bytes done, bytes in all; 0 when unknown)

MIRROR_ENV = "RESNET_STUDIO_WEIGHTS_MIRROR"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30  # per socket operation, not the whole download
PARTIAL_SUFFIX = ".partial"
# torch.hub's convention: <name>-<sha256 prefix, 6+ hex digits>.<ext>
HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


# ---------------------------------------------------------------------------- where


def hub_dir() -> Path:
    """torch.hub's directory: `torch.hub.get_dir()` once torch is imported (it may have
    been moved with `set_dir`), else the same answer computed from the environment
    ($TORCH_HOME, else $XDG_CACHE_HOME/torch, else ~/.cache/torch; then /hub)."""
    # getattr: the window reads this while a worker may still be importing torch, and
    # torch.hub is among the last things torch's __init__ binds
    get_dir = getattr(getattr(sys.modules.get("torch"), "hub", None), "get_dir", None)
    if get_dir is not None:
        return Path(get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub"


def url_file_name(url: str) -> str:
    """The last path segment of a URL: the name torch.hub caches it under."""
    return os.path.basename(urllib.parse.urlparse(url).path)


def cache_path_for(url: str) -> Path:
    """Where torch.hub keeps (and we look for) the file of `url`."""
    return hub_dir() / "checkpoints" / url_file_name(url)


def hash_prefix(url_or_name: str) -> str | None:
    """The sha256 prefix a file name carries by torch.hub's convention, or None."""
    found = HASH_IN_NAME.search(url_file_name(url_or_name) or url_or_name)
    return found[1] if found else None


def mirrored(url: str, mirror: str | None = None) -> str:
    """`url` with scheme and host replaced by the mirror's (`mirror`, else
    $RESNET_STUDIO_WEIGHTS_MIRROR; unchanged when neither is set)."""
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "")
    if not mirror.strip():
        return url
    base = urllib.parse.urlparse(mirror.strip())
    if not base.scheme:
        raise WeightsError(
            f"{MIRROR_ENV}={mirror!r} is not a URL; give one such as "
            "http://server/weights or file:///srv/weights."
        )
    path = base.path.rstrip("/") + urllib.parse.urlparse(url).path
    return urllib.parse.urlunparse((base.scheme, base.netloc, path, "", "", ""))


# ---------------------------------------------------------------------------- fetching


def fetch(url: str, *, progress: Progress | None = None, dest: Path | None = None) -> Path:
    """The cached file of `url` (no network when it is there), downloading it first if
    needed. `dest` defaults to torch.hub's cache path of the URL."""
    dest = dest or cache_path_for(url)
    if not dest.is_file():
        download(url, dest, progress)
    return dest


def download(url: str, dest: Path, progress: Progress | None = None) -> None:
    """Download `url` (through the mirror, if one is set) to `dest` atomically.

    `progress(done, total)` is called after every chunk; it may raise (any exception)
    to cancel: that exception comes out as it is, and then, as on every failure, no
    file is left behind. The sha256 prefix in `dest`'s name is checked.
    """
    source = mirrored(url)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(_failed(source, dest, f"cannot create {dest.parent}: {exc}")) from exc
    try:
        with replacing(dest, suffix=PARTIAL_SUFFIX) as tmp:
            with open(tmp, "wb") as out:
                digest = _copy(source, out, dest, progress)
            _check_hash(source, dest, digest)  # before the rename: a bad file never lands
    except OSError as exc:  # creating, fsyncing or renaming: a full disk, permissions
        raise WeightsError(_failed(source, dest, _os_reason(exc))) from exc


def _check_hash(url: str, dest: Path, digest: str) -> None:
    expected = hash_prefix(dest.name)
    if expected and not digest.startswith(expected):
        raise WeightsError(
            f"The download of {url} is damaged or is another file (sha256 "
            f"{digest[:12]}..., expected {expected}...). Try again, or place the right "
            f"file at {dest} by hand."
        )


def _copy(url: str, out: BinaryIO, dest: Path, progress: Progress | None) -> str:
    """Stream `url` into `out`; the sha256 of what was written."""
    sha = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "resnet-studio"})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise WeightsError(_failed(url, dest, f"HTTP {exc.code} {exc.reason}")) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # offline, DNS, connection refused, timeout, a malformed URL
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(_failed(url, dest, f"{reason}; check the internet connection "
                                               f"or ${MIRROR_ENV}")) from exc
    with response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (http.client.HTTPException, OSError, ValueError) as exc:
                raise WeightsError(_failed(url, dest, f"the connection broke after {done} "
                                                      f"bytes ({exc})")) from exc
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as exc:
                raise WeightsError(_failed(url, dest, _os_reason(exc))) from exc
            sha.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)  # may raise to cancel: not ours to catch
    if total and done != total:  # http.client returns a short body without an error
        raise WeightsError(_failed(url, dest, f"the response was cut off after {done} of "
                                              f"{total} bytes"))
    return sha.hexdigest()


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk is full ({exc.filename or 'no space left on device'}); free some space"
    return str(exc)


def _failed(url: str, dest: Path, reason: str) -> str:
    return (
        f"Could not download {url} ({reason}). Try again, or download the file on another "
        f"machine and place it at {dest}."
    )
