"""Reading weight files without running their code, and writing ours atomically.

Every failure a damaged, hostile or foreign file can cause comes out as a
`WeightsError` whose message says what was wrong; nothing here ever unpickles
arbitrary objects (`torch.load(..., weights_only=True)` only) or trusts a length
field before checking it against the file's size.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnet_studio.core.atomic import replacing
from resnet_studio.core.catalog import (
    SAFETENSORS_SUFFIX,
    WEIGHT_SUFFIXES,
    Preprocessing,
    parse_name,
    suffix_list,
)
from resnet_studio.core.errors import WeightsError

META_KEY = "resnet_studio"  # the safetensors metadata entry that holds our JSON
FORMAT_VERSION = 1  # bump when the meaning of META_KEY's JSON changes

# safetensors itself refuses headers over 100 MB; checking first gives a clean message
# and means a header length of 2**60 never reaches an allocation.
MAX_HEADER_BYTES = 100_000_000
# Where a checkpoint keeps its weights, in the order the tools that write them prefer:
# mmpretrain/akamaster/Lightning "state_dict", timm/torchvision references "model",
# then the EMA copies timm also writes.
WRAPPER_KEYS = ("state_dict", "model", "state_dict_ema", "model_ema", "module")
# Prefixes added by DataParallel/DDP and torch.compile; they carry no meaning.
NOISE_PREFIXES = ("module.", "_orig_mod.")
# Option keys that go under "options" and preprocessing keys under "preprocessing".
_OPTION_KEYS = ("shortcut", "num_classes", "zero_init_residual")
_PREP_KEYS = tuple(f.name for f in dataclasses.fields(Preprocessing))
# What torch.load reads (every weight suffix but safetensors), for messages.
_TORCH_SUFFIXES = tuple(s for s in WEIGHT_SUFFIXES if s != SAFETENSORS_SUFFIX)


@dataclass
class RawFile:
    """A file's tensors with wrappers and noise prefixes removed, plus what came with them."""

    tensors: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-friendly top-level entries
    studio_meta: dict[str, Any] | None = None  # our JSON, from a file we wrote
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading


def read_file(path: str | os.PathLike) -> RawFile:
    """Read a safetensors or torch file, deciding by its first bytes, never its suffix."""
    path = Path(path)
    size = _checked_size(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if _looks_like_safetensors(head):
        return _read_safetensors(path, size)
    return _unwrap(_torch_load(path), path)


def _checked_size(path: Path) -> int:
    if not path.exists():
        raise WeightsError(f"{path} does not exist. Check the path, or pick the file again.")
    if not path.is_file():
        raise WeightsError(
            f"{path} is not a file; choose a weight file ({suffix_list(WEIGHT_SUFFIXES)})."
        )
    size = path.stat().st_size
    if size == 0:
        raise WeightsError(f"{path} is empty (0 bytes); the download or copy did not finish.")
    return size


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length, then the JSON header's opening brace.
    return len(head) == 9 and head[8:9] == b"{"


def _read_safetensors(path: Path, size: int) -> RawFile:
    from safetensors import safe_open

    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
    if header_len > min(size - 8, MAX_HEADER_BYTES):
        raise WeightsError(
            f"{path} is a damaged safetensors file: its header claims {header_len} bytes but "
            f"the file has {size}. It was probably truncated; download or copy it again."
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as exc:  # SafetensorError, JSON and size errors from the Rust side
        raise WeightsError(
            f"{path} is a damaged safetensors file ({exc}). Download or copy it again."
        ) from exc
    raw = RawFile(tensors=tensors, extra={k: v for k, v in metadata.items() if k != META_KEY})
    if META_KEY in metadata:
        raw.studio_meta = _parse_studio_meta(metadata[META_KEY], path)
    return raw


def _parse_studio_meta(text: str, path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(text)
    except ValueError:
        return None  # the tensors may still be fine; the caller notes the missing metadata
    if not isinstance(meta, dict):
        return None
    if int(meta.get("format_version", 1)) > FORMAT_VERSION:
        raise WeightsError(
            f"{path} was written by a newer resnet-studio (format {meta['format_version']}, "
            f"this version reads up to {FORMAT_VERSION}). Update resnet-studio to open it."
        )
    return meta


def _torch_load(path: Path) -> Any:
    try:
        # An open file, not the path: torch.load must not pick a reader by the suffix.
        with open(path, "rb") as f:
            return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" in str(exc):
            raise WeightsError(_unsafe_message(path, str(exc))) from exc
        raise WeightsError(_damaged_message(path, exc)) from exc
    except MemoryError as exc:
        raise WeightsError(f"{path} is too large to load into memory.") from exc
    except Exception as exc:  # EOFError, RuntimeError, KeyError, IndexError, OSError, ...
        raise WeightsError(_damaged_message(path, exc)) from exc


def _unsafe_message(path: Path, detail: str) -> str:
    found = re.search(r"GLOBAL ([\w.]+)", detail)
    what = f" ({found.group(1)})" if found else ""
    return (
        f"{path} contains Python objects beyond weights{what} and was not loaded for "
        "safety: unpickling them could run code. If you trust the file, open it in your "
        "own Python and save `model.state_dict()` (torch.save or safetensors) instead."
    )


def _damaged_message(path: Path, exc: BaseException) -> str:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (
        f"{path} is not a weight file resnet-studio can read, or it is damaged "
        f"({type(exc).__name__}: {reason[:200]}). Supported: safetensors and PyTorch "
        f"{'/'.join(_TORCH_SUFFIXES)} files holding a state_dict."
    )


def _unwrap(obj: Any, path: Path) -> RawFile:
    """Find the state_dict inside whatever dict a training script saved."""
    if not isinstance(obj, Mapping):
        raise WeightsError(
            f"{path} holds a {type(obj).__name__}, not a dict of weights (a state_dict)."
        )
    extra: dict[str, Any] = {}
    inner: Any = obj
    if not _is_state_dict(obj):
        inner = next((obj[k] for k in WRAPPER_KEYS if _is_state_dict(obj.get(k))), None)
        if inner is None:
            keys = ", ".join(map(str, list(obj)[:8]))
            raise WeightsError(
                f"{path} has no weights that resnet-studio recognises (top-level keys: {keys})."
            )
        extra = {str(k): plain_data(v) for k, v in obj.items() if k not in WRAPPER_KEYS}
        extra = {k: v for k, v in extra.items() if v is not None}
    tensors = {str(k): v for k, v in inner.items() if isinstance(v, torch.Tensor)}
    raw = RawFile(tensors=strip_noise_prefixes(tensors), extra=extra)
    if skipped := len(inner) - len(tensors):
        raw.notes.append(f"ignored {skipped} entries that are not tensors")
    return raw


def _is_state_dict(obj: Any) -> bool:
    """A non-empty mapping whose values are mostly tensors."""
    if not isinstance(obj, Mapping) or not obj:
        return False
    return sum(isinstance(v, torch.Tensor) for v in obj.values()) * 2 > len(obj)


def strip_noise_prefixes(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove `module.` / `_orig_mod.` when every key has it (DataParallel, compile)."""
    changed = True
    while changed and tensors:
        changed = False
        for prefix in NOISE_PREFIXES:
            if all(key.startswith(prefix) for key in tensors):
                tensors = {key[len(prefix) :]: v for key, v in tensors.items()}
                changed = True
    return tensors


def plain_data(obj: Any, depth: int = 0) -> Any:
    """A JSON-friendly copy of small metadata (numbers, strings, lists, dicts), or None.

    Checkpoints carry epochs, accuracies and class lists next to the weights; the GUI
    shows them, but optimizer states and other tensors stay behind.
    """
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.item() if obj.numel() == 1 else None
    if depth >= 4:
        return None
    if isinstance(obj, Mapping):
        items = ((str(k), plain_data(v, depth + 1)) for k, v in list(obj.items())[:200])
        return {k: v for k, v in items if v is not None}
    if isinstance(obj, (list, tuple)) and len(obj) <= 100_000:
        values = [plain_data(v, depth + 1) for v in obj]
        return values if all(v is not None for v in values) else None
    return None


# ---------------------------------------------------------------------------- writing


def save_weights(
    model: nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model's weights and what is needed to use them as one safetensors file.

    `meta` may hold "model" (zoo name), "class_names", options ("shortcut",
    "num_classes", "zero_init_residual", or an "options" dict), preprocessing
    ("input_size", "resize_size", "mean", "std", or a "preprocessing" dict or
    `Preprocessing`), and any other JSON data (epoch, accuracy, run name). It is
    stored as one JSON string because safetensors metadata is str -> str only.
    The file is written beside `path` and renamed, so a crash never leaves half a file.
    """
    path = Path(path)
    state = model.state_dict() if isinstance(model, nn.Module) else model
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    header = weights_metadata(tensors, meta or {})
    from safetensors.torch import save_file

    with replacing(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def weights_metadata(
    tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]
) -> dict[str, str]:
    """The safetensors header `save_weights` writes, for writers of their own (the run
    store's checkpoints), so that every file we write loads with its class names."""
    text = json.dumps(_studio_meta(tensors, meta), allow_nan=False)
    return {"format": "pt", META_KEY: text}


def _studio_meta(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict:
    """Normalise `meta` into our schema, filling what the weights and the name imply."""
    out = {k: v for k, v in meta.items() if k not in (*_OPTION_KEYS, *_PREP_KEYS)}
    options = dict(meta.get("options") or {})
    options.update({k: meta[k] for k in _OPTION_KEYS if k in meta})
    head = tensors.get("fc.weight")
    if head is not None:
        options.setdefault("num_classes", int(head.shape[0]))
    prep = meta.get("preprocessing")
    prep = dict(dataclasses.asdict(prep) if isinstance(prep, Preprocessing) else prep or {})
    prep.update({k: meta[k] for k in _PREP_KEYS if k in meta})
    if meta.get("model") and not all(k in prep for k in _PREP_KEYS):
        # the network's family default fills what the caller did not give
        defaults = dataclasses.asdict(parse_name(str(meta["model"])).preprocessing)
        prep = {**defaults, **prep}
    if prep:
        prep = dataclasses.asdict(Preprocessing(**prep))  # validates the values
    names = meta.get("class_names")
    if names is not None:
        names = [str(n) for n in names]
        if "num_classes" in options and len(names) != options["num_classes"]:
            raise WeightsError(
                f"{len(names)} class names were given for a {options['num_classes']}-class head."
            )
    out.update(format_version=FORMAT_VERSION, options=options, class_names=names)
    if prep:
        out["preprocessing"] = {k: list(v) if isinstance(v, tuple) else v for k, v in prep.items()}
    return out
