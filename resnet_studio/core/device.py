"""Choosing and describing the compute device."""

from __future__ import annotations

import torch

from resnet_studio.core.errors import StudioError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple's MPS, then the CPU; an explicit choice that is not
    available is an error rather than a silent fallback (the user asked for it)."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError(
            f"device {name!r} asked for, but PyTorch sees no CUDA GPU here "
            "(torch.cuda.is_available() is False); use --device cpu or auto"
        )
    if name == "mps" and not torch.backends.mps.is_available():
        raise StudioError("device 'mps' asked for, but this machine has no Apple GPU; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise StudioError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}") from exc


def describe_device(device: torch.device) -> str:
    """One line for a status bar: the CPU, or the GPU's name with free/total memory."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        name = torch.cuda.get_device_name(index)
        return f"CUDA {index}: {name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"
