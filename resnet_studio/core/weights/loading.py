"""From a source (file, torchvision enum, pretrained name) to a loaded model, checking
everything first.

The order matters for the promise that a failed load leaves the model untouched:
read the file, convert the keys, compare every key and shape with the model, and
only then call `load_state_dict`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from resnet_studio.core.catalog import (
    IMAGENET_MEAN,
    IMAGENET_PREPROCESSING,
    IMAGENET_STD,
    INCEPTION_MEAN,
    INCEPTION_STD,
    Preprocessing,
    resolve_preprocessing,
)
from resnet_studio.core.errors import StudioError, WeightsError
from resnet_studio.core.weights import torchvision_hub as hub
from resnet_studio.core.weights.classes import CIFAR10_CLASSES, CIFAR100_CLASSES, imagenet_classes
from resnet_studio.core.weights.files import RawFile, read_file
from resnet_studio.core.weights.formats import (
    KeyReport,
    build_for,
    convert_state_dict,
    detect_format,
    guess_model_name,
)
from resnet_studio.core.weights.pretrained import (
    PretrainedEntry,
    fetch_pretrained,
    get_pretrained,
    is_pretrained_name,
)
from resnet_studio.core.weights.shipped import ShippedWeights

Source = str | os.PathLike


@dataclass
class WeightFile:
    """What `read_state_dict` found; unpacks as ``state_dict, format, class_names, meta``."""

    state_dict: dict[str, torch.Tensor]  # as stored: wrapper and `module.` removed, not renamed
    format: str  # one of formats.FORMATS
    class_names: list[str] | None
    meta: dict[str, Any]  # our JSON for our files, else the checkpoint's small entries
    source: str = ""
    class_names_guessed: bool = False  # inferred from the head size, not read from the file
    preprocessing: Preprocessing | None = None  # None: the file does not say
    model_name: str | None = None  # zoo name, when the file or the enum says
    notes: list[str] = field(default_factory=list)
    pretrained: PretrainedEntry | None = None  # the catalog entry the file came from

    def __iter__(self) -> Iterator[Any]:
        return iter((self.state_dict, self.format, self.class_names, self.meta))


@dataclass
class LoadResult:
    """A model with weights loaded, and everything the GUI shows about them."""

    model: nn.Module
    format: str
    source: str
    matched_keys: int
    class_names: list[str] | None
    meta: dict[str, Any]
    class_names_guessed: bool = False
    preprocessing: Preprocessing | None = None  # the file's, else the model name's defaults
    model_name: str | None = None
    report: KeyReport | None = None  # with strict=False: what was left out
    notes: list[str] = field(default_factory=list)
    pretrained: PretrainedEntry | None = None  # the catalog entry: published numbers, URL
    shipped: ShippedWeights | None = None  # weights shipped in the package: provenance


# ---------------------------------------------------------------------------- reading


def read_state_dict(
    source: Source, *, progress: hub.Progress | None = None, model_name: str | None = None
) -> WeightFile:
    """Read weights without loading them into a model.

    `source` is a file path, `"torchvision:ResNet50_Weights.IMAGENET1K_V2"`,
    `"torchvision"` for the DEFAULT weights of `model_name`, or a pretrained catalog
    name (`"resnet18_8xb16_cifar10"`; a file of that name wins). Downloads go into
    torch.hub's cache unless the file is already there; `progress(done, total)`
    follows them and may raise to cancel.
    """
    if hub.is_torchvision_source(source):
        return _read_torchvision(str(source), model_name, progress)
    if is_pretrained_name(source) and not os.path.exists(source):
        return _read_pretrained(get_pretrained(str(source)), progress)
    raw = read_file(source)
    fmt = detect_format(raw.tensors, studio=raw.studio_meta is not None)
    wf = WeightFile(raw.tensors, fmt, None, raw.studio_meta or raw.extra, source=str(source))
    wf.notes += raw.notes
    if raw.studio_meta is not None:
        _apply_studio_meta(wf, raw.studio_meta)
    elif fmt == "resnet-studio" or "resnet_studio" in raw.extra:
        wf.notes.append("the file's resnet-studio metadata is unreadable; using the weights only")
    else:
        wf.class_names = _names_in_checkpoint(raw)
    if fmt == "cifar-reproduction":  # akamaster normalises CIFAR with ImageNet statistics
        wf.preprocessing = Preprocessing(32, 32, IMAGENET_MEAN, IMAGENET_STD)
    if fmt == "timm-resnetv2":  # timm's resnetv2 configs: mean = std = 0.5 (Inception's)
        wf.preprocessing = Preprocessing(IMAGENET_PREPROCESSING.input_size,
                                         IMAGENET_PREPROCESSING.resize_size, INCEPTION_MEAN, INCEPTION_STD)  # fmt: skip
        wf.notes.append("timm resnetv2 weights: normalised with mean = std = 0.5, as timm's configs say")
    _check_or_guess_names(wf)
    return wf


def _read_torchvision(source: str, model_name: str | None, progress: Any) -> WeightFile:
    weights, name = hub.resolve(source, model_name)
    path = hub.fetch(weights, progress)
    try:
        raw = read_file(path)
    except WeightsError as exc:
        raise WeightsError(f"{exc} Delete {path} to download it again.") from exc
    enum = f"{type(weights).__name__}.{weights.name}"
    return WeightFile(
        state_dict=raw.tensors,
        format="torchvision",
        class_names=list(weights.meta["categories"]),
        meta={"torchvision_weights": enum, **_plain_meta(weights.meta)},
        source=f"torchvision:{enum}",
        preprocessing=Preprocessing(**hub.preprocessing_hint(weights), mean=IMAGENET_MEAN,
                                    std=IMAGENET_STD),  # fmt: skip
        model_name=name,
    )


def _read_pretrained(entry: PretrainedEntry, progress: Any) -> WeightFile:
    """A catalog file: its class names, preprocessing and network come from the entry
    (what its publisher evaluated with), the tensors from the file."""
    path = fetch_pretrained(entry, progress)
    try:
        raw = read_file(path)
    except WeightsError as exc:
        raise WeightsError(f"{exc} Delete {path} to download it again.") from exc
    fmt = detect_format(raw.tensors, studio=raw.studio_meta is not None)
    small = {k: v for k, v in raw.extra.items() if k != "meta"}  # mmpretrain's config text
    meta = {"pretrained": entry.name, "url": entry.url, "published_top1": entry.top1,
            "published_top5": entry.top5, **small}  # fmt: skip
    wf = WeightFile(raw.tensors, fmt, entry.class_names(), meta, source=entry.name,
                    preprocessing=entry.preprocessing, model_name=entry.model,
                    notes=list(raw.notes), pretrained=entry)  # fmt: skip
    if wf.class_names is None:
        wf.notes.append(f"{entry.name} comes without class names; classes are shown by index")
    _check_or_guess_names(wf)
    return wf


def _plain_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    # Accuracy, recipe URL, params... but not the 1000 categories a second time.
    return {k: v for k, v in meta.items() if k != "categories" and not callable(v)}


def _apply_studio_meta(wf: WeightFile, meta: Mapping[str, Any]) -> None:
    wf.model_name = meta.get("model")
    names = meta.get("class_names")
    wf.class_names = [str(n) for n in names] if isinstance(names, list) else None
    prep = meta.get("preprocessing")
    if isinstance(prep, Mapping):
        try:
            wf.preprocessing = Preprocessing(**prep)
        except (TypeError, ValueError):
            wf.notes.append("the file's preprocessing metadata is invalid; using defaults")


def _names_in_checkpoint(raw: RawFile) -> list[str] | None:
    """mmpretrain's `meta.dataset_meta.classes` (mmcls 0.x: `meta.CLASSES`), or a top-level
    `classes` / `class_names` list some training scripts save."""
    meta = raw.extra.get("meta") if isinstance(raw.extra.get("meta"), Mapping) else {}
    dataset_meta = meta.get("dataset_meta") if isinstance(meta.get("dataset_meta"), Mapping) else {}
    for names in (dataset_meta.get("classes"), meta.get("CLASSES"),
                  raw.extra.get("class_names"), raw.extra.get("classes")):  # fmt: skip
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            return names
    return None


def _check_or_guess_names(wf: WeightFile) -> None:
    head = convert_state_dict(wf.state_dict, wf.format).state_dict.get("fc.weight")
    size = int(head.shape[0]) if head is not None and head.ndim == 2 else None
    if wf.class_names is not None and size is not None and len(wf.class_names) != size:
        wf.notes.append(
            f"ignored {len(wf.class_names)} class names that do not fit the {size}-class head"
        )
        wf.class_names = None
    if wf.class_names is not None:
        return
    guesses = {("torchvision", 1000): imagenet_classes, ("timm-resnetv2", 1000): imagenet_classes,
               ("cifar-reproduction", 10): lambda: CIFAR10_CLASSES,
               ("cifar-reproduction", 100): lambda: CIFAR100_CLASSES}  # fmt: skip
    if guess := guesses.get((wf.format, size)):
        wf.class_names, wf.class_names_guessed = list(guess()), True


# ---------------------------------------------------------------------------- loading


def load_weights(
    model_or_name: nn.Module | str | None,
    source: Source,
    *,
    progress: hub.Progress | None = None,
    strict: bool = True,
) -> LoadResult:
    """Load weights of any supported format into a model, or build the model for them.

    With a name (or None, to take it from the file's metadata or its structure) the
    model is built with the file's head size and shortcut option. With `strict`
    every key and shape must match; otherwise only matching tensors are loaded (say,
    a backbone under a new head). On any failure the model is left untouched.
    """
    given = model_or_name if isinstance(model_or_name, nn.Module) else None
    name = _name_of(given) if given is not None else model_or_name
    wf = read_state_dict(source, progress=progress, model_name=name)
    conversion = convert_state_dict(wf.state_dict, wf.format)
    if given is None:
        name = name or wf.model_name or guess_model_name(conversion.state_dict)
        if name is None:
            raise WeightsError(
                f"Could not tell which network {wf.source} is for; choose the model first."
            )
        given = build_for(name, conversion.state_dict)
    conversion = convert_state_dict(wf.state_dict, wf.format, given)
    report = conversion.report
    assert report is not None  # a target was given
    if (strict and not report.ok) or not report.matched:
        raise WeightsError(_mismatch_message(wf, name, conversion.state_dict, report))
    keep = {k: conversion.state_dict[k] for k in report.matched}
    with torch.no_grad():
        given.load_state_dict(keep, strict=strict)  # copies onto the model's device
    return LoadResult(
        model=given, format=wf.format, source=wf.source, matched_keys=len(report.matched),
        class_names=wf.class_names, meta=wf.meta, class_names_guessed=wf.class_names_guessed,
        preprocessing=wf.preprocessing or _default_preprocessing(name), model_name=name,
        report=report, notes=wf.notes + conversion.notes, pretrained=wf.pretrained,
    )  # fmt: skip


def _name_of(model: nn.Module) -> str | None:
    """The zoo name of a model we built, for `source="torchvision"` with a model."""
    from resnet_studio.core.models import Bottleneck

    name = guess_model_name(model.state_dict())
    first = getattr(model, "layer2", [None])[0]
    # the CIFAR bottleneck nets always stride in the first 1x1: only ImageNet ones have a v1
    if name and isinstance(first, Bottleneck) and first.conv1.stride == (2, 2) and not name.startswith("cifar-"):
        name += "-v1"  # same keys as v1.5; v1 strides in the first 1x1 of layer2.0
    return name


def _default_preprocessing(name: str | None) -> Preprocessing | None:
    if name is None:
        return None
    try:
        return resolve_preprocessing(name)
    except StudioError:
        return None


def _mismatch_message(
    wf: WeightFile, name: str | None, converted: Mapping[str, torch.Tensor], report: KeyReport
) -> str:
    target = name or "this model"
    text = f"The {wf.format} weights in {wf.source} do not fit {target}: {report.describe()}."
    guess = guess_model_name(converted)
    if guess and guess != name:
        text += f" They look like weights for {guess}."
    if report.mismatched and all(k.startswith("fc.") for k, _, _ in report.mismatched):
        file_head, model_head = report.mismatched[0][1][0], report.mismatched[0][2][0]
        text += (
            f" The file's head has {file_head} classes and the model's {model_head}: build "
            f"the model with {file_head} classes, or load all but the head (strict=False)."
        )
    return text + " The model was not changed."
