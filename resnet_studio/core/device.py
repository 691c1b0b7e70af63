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


def fast_layout(device: torch.device) -> torch.memory_format:
    """The memory format convolutions run fastest in on `device`: channels_last on CUDA
    and on the CPU (oneDNN; x1.18 for training and ~x1.4 for inference on this
    project's EPYC, bench/cpu_formats.py), the usual NCHW elsewhere (MPS)."""
    return torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast runs in hardware here: CUDA GPUs that have bf16, and CPUs
    with AVX-512 BF16 or AMX (training x1.8 on this project's EPYC at equal accuracy,
    bench/cpu_formats.py and bench/RESULTS.md). Elsewhere oneDNN would emulate bf16,
    which is no faster than fp32, so the automatic choice leaves it off."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return False


def training_formats(device: torch.device, amp: bool | None,
                     channels_last: bool | None) -> tuple[bool, bool]:  # fmt: skip
    """(bf16 autocast, channels_last) for training on `device`: what the recipe says,
    and where it says None, what is faster here (`native_bf16`, `fast_layout`)."""
    if amp is None:
        amp = native_bf16(device)
    if channels_last is None:
        channels_last = fast_layout(device) == torch.channels_last
    return amp, channels_last
