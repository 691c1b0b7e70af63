"""Decoding, validation and preprocessing of user images.

Everything a user can drop on the app goes through `load_image`, which either returns a
fully decoded 8-bit RGB `PIL.Image.Image` or raises `ImageError` with a message that
says what went wrong and what to do. `preprocess` then turns that image into the
normalised tensor a network expects, exactly as torchvision's evaluation transforms do,
so accuracy measured here matches published numbers.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet_studio.core.catalog import (
    CIFAR_PREPROCESSING,
    IMAGE_SUFFIXES,
    IMAGENET_PREPROCESSING,
    Preprocessing,
    is_image_file,
    suffix_list,
)
from resnet_studio.core.errors import ImageError

__all__ = [
    "CIFAR_PREPROCESSING",
    "IMAGENET_PREPROCESSING",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "Preprocessing",
    "load_image",
    "load_images",
    "preprocess",
    "preprocess_batch",
    "to_display",
]

# 64 MP covers every camera and scanner a user is likely to have (a 61 MP full-frame
# sensor fits) while keeping the decoded RGB copy under ~200 MB. Checked from the
# header, before any pixel is decoded.
MAX_PIXELS: int = 64_000_000

# Only the decoders for catalog.IMAGE_SUFFIXES. Pillow would otherwise sniff dozens of
# formats, some of which (EPS) run external programs on untrusted input.
_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF", "PPM")

# Anything with transparency is flattened onto this colour: most transparent images
# (logos, cut-outs, icons) are drawn to be seen on a light page.
_BACKGROUND = (255, 255, 255)

# Beyond this aspect ratio `preprocess` trims the long side before resizing, so a
# 1 x 10 000 000 strip cannot ask for a multi-gigapixel intermediate image.
_MAX_ASPECT = 32

_Source = str | os.PathLike | bytes | bytearray | memoryview


# ------------------------------------------------------------------------- decoding


def load_image(source: _Source) -> Image.Image:
    """Decode a file path or encoded bytes into a fully loaded 8-bit RGB image.

    - EXIF orientation is applied, so phone photos come out upright.
    - Animations (GIF, APNG, WebP) and multi-page TIFFs give their first frame.
    - Every colour mode becomes RGB. 16-bit greyscale is scaled by its bit depth
      (65535 -> 255), not clipped; see `_greyscale_to_uint8` for 32-bit and float.
    - Transparency is composited onto white, because transparent images are usually
      drawn for a light background and networks were trained without alpha.

    The whole image is decoded here (truncated files fail now, not later in a worker)
    and the file is closed before returning. Raises `ImageError` for a missing, empty,
    unreadable, corrupt or truncated file, or one larger than `MAX_PIXELS`.
    """
    name = _describe(source)
    fp = _open_source(source, name)
    try:
        with _open_pil(fp, name) as img:
            _check_size(img, name)
            return _decode(img, name)
    finally:
        fp.close()


def _describe(source: _Source) -> str:
    """How messages refer to `source`: its path, or the size of in-memory data."""
    if isinstance(source, bytes | bytearray | memoryview):
        return f"image data ({len(source)} bytes)"
    return f"'{os.fspath(source)}'"


def _open_source(source: _Source, name: str) -> BinaryIO:
    """Open the raw bytes, turning file-system problems into actionable errors."""
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise ImageError(f"{name} is empty. Nothing was received; try again.")
        return io.BytesIO(bytes(source))
    path = Path(source)
    try:
        if path.is_dir():
            raise ImageError(f"{name} is a folder, not an image. Choose an image file.")
        fp = path.open("rb")
    except FileNotFoundError:
        raise ImageError(
            f"Image {name} not found. Check the path or choose another file."
        ) from None
    except PermissionError:
        raise ImageError(
            f"Cannot read {name}: permission denied. Check the file's permissions."
        ) from None
    except OSError as exc:
        raise ImageError(f"Cannot read {name}: {exc.strerror or exc}.") from exc
    if os.fstat(fp.fileno()).st_size == 0:
        fp.close()
        raise ImageError(
            f"{name} is empty (0 bytes). The file may not have finished copying or downloading."
        )
    return fp


def _open_pil(fp: BinaryIO, name: str) -> Image.Image:
    """Identify the format and read the header only; no pixel is decoded yet."""
    try:
        return Image.open(fp, formats=_available_formats())
    # Pillow raises the error at twice its own limit and warns below that; the warning
    # only becomes an exception under `-W error`. Our MAX_PIXELS is lower than both.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_large_message(name, None)) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is not an image that can be read, whatever its name says. "
            "Use a JPEG, PNG, BMP, GIF, WebP, TIFF or PPM/PGM file."
        ) from None
    except Exception as exc:  # a broken header can raise almost anything
        raise _corrupt_error(name, exc) from exc


def _available_formats() -> list[str]:
    """The whitelist, minus decoders this Pillow build lacks (e.g. WebP)."""
    Image.init()
    return [f for f in _FORMATS if f in Image.OPEN]


def _check_size(img: Image.Image, name: str) -> None:
    """Refuse huge images from their header, before decoding allocates memory."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageError(_too_large_message(name, (width, height)))


def _too_large_message(name: str, size: tuple[int, int] | None) -> str:
    dims = f" ({size[0]} x {size[1]} pixels)" if size else ""
    return (
        f"{name} is too large{dims}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels. "
        "Scale it down in an image editor first."
    )


def _corrupt_error(name: str, exc: BaseException) -> ImageError:
    return ImageError(
        f"{name} is corrupt or truncated and cannot be decoded ({exc}). "
        "Re-export or re-download the file."
    )


def _decode(img: Image.Image, name: str) -> Image.Image:
    """Decode all pixels of the current (first) frame, upright and in RGB."""
    try:
        # load() decodes everything: with PIL.ImageFile.LOAD_TRUNCATED_IMAGES False
        # (Pillow's default) a cut-off file raises here. We do not set the flag: it
        # is process-global and flipping it per call would race with other threads.
        img.load()
        upright = ImageOps.exif_transpose(img)
        return _to_rgb(upright)
    except MemoryError:
        raise ImageError(
            f"Not enough memory to decode {name}. Close other programs or use a smaller image."
        ) from None
    except ImageError:
        raise
    except Exception as exc:  # decoders raise OSError, SyntaxError, zlib.error, ...
        raise _corrupt_error(name, exc) from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to a new 8-bit RGB image (never the file-backed one)."""
    if img.mode.startswith(("I", "F")):
        return Image.fromarray(_greyscale_to_uint8(img)).convert("RGB")
    if "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info:
        rgba = img.convert("RGBA")  # also un-premultiplies 'RGBa'/'La' and applies tRNS
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return img.convert("RGB")  # 1, L, P, CMYK, YCbCr, HSV; a copy if already RGB
    except ValueError as exc:
        raise ImageError(
            f"Colour mode {img.mode!r} is not supported. Convert the image to RGB first."
        ) from exc


def _greyscale_to_uint8(img: Image.Image) -> np.ndarray:
    """Scale deep greyscale to 0..255 by its bit depth, so detail is kept, not clipped.

    'I;16*' is 16-bit by definition: divide by 257 (65535 -> 255). 'I' (32-bit int)
    does not record its source depth, so use the smallest depth that holds the data:
    8-bit as is, 16-bit divided by 257, anything else (negative, > 16 bits) stretched
    from its min..max. 'F' in 0..1 is multiplied by 255, otherwise stretched.
    """
    if img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
            return np.rint(arr * 255.0).astype(np.uint8)
        return _stretch(arr)
    is_16_bit = img.mode.startswith("I;16")
    arr = np.asarray(img if img.mode == "I" else img.convert("I"), dtype=np.int64)
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    if not is_16_bit and lo >= 0 and hi <= 255:
        return arr.astype(np.uint8)
    if is_16_bit or (lo >= 0 and hi <= 65535):
        return ((arr + 128) // 257).astype(np.uint8)  # round(x / 257) in integers
    return _stretch(arr.astype(np.float32))


def _stretch(arr: np.ndarray) -> np.ndarray:
    """Map min..max to 0..255: the best guess for data of unknown range."""
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.rint((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


# ----------------------------------------------------------------- many images


def load_images(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    on_error: Callable[[Path, ImageError], None] | None = None,
) -> list[tuple[Path, Image.Image]]:
    """Load several images, expanding each folder into its image files.

    A folder contributes its direct children with an image suffix, sorted by name;
    hidden files are skipped (macOS leaves '._photo.jpg' companions on shared drives).
    Files named explicitly are tried whatever their suffix. Without `on_error` the
    first bad file raises `ImageError`; with it, `on_error(path, error)` is called and
    the file is skipped, so one broken photo does not stop a folder from loading.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    loaded: list[tuple[Path, Image.Image]] = []
    for path in _expand(paths, on_error):
        try:
            loaded.append((path, load_image(path)))
        except ImageError as exc:
            if on_error is None:
                raise
            on_error(path, exc)
    return loaded


def _expand(
    paths: Iterable[str | os.PathLike], on_error: Callable[[Path, ImageError], None] | None
) -> list[Path]:
    """Replace each folder by its image files; an image-less folder is an error."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(
            p
            for p in path.iterdir()
            if is_image_file(p) and not p.name.startswith(".") and p.is_file()
        )
        if found:
            files.extend(found)
            continue
        exc = ImageError(
            f"Folder '{path}' contains no images. Supported suffixes: {suffix_list(sorted(IMAGE_SUFFIXES))}."
        )
        if on_error is None:
            raise exc
        on_error(path, exc)
    return files


# ---------------------------------------------------------------- preprocessing


def preprocess(image: Image.Image, prep: Preprocessing) -> torch.Tensor:
    """Turn an RGB image into a normalised float32 tensor [3, input_size, input_size].

    Resize and crop run on the PIL image, as torchvision's v1 `Resize` + `CenterCrop` +
    `ToTensor` + `Normalize` do, so results match pretrained weights' published
    accuracy (tensor resizing differs from Pillow's by up to a grey level).
    """
    # imported here: torchvision takes 2 s to import, and training never needs it
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    if image.mode != "RGB":
        image = image.convert("RGB")  # callers should use load_image; be forgiving
    image = _trim_extreme_aspect(image)
    image = F.resize(
        image, [prep.resize_size], interpolation=InterpolationMode.BILINEAR, antialias=True
    )
    image = F.center_crop(image, [prep.input_size])
    tensor = F.to_dtype(F.to_image(image), torch.float32, scale=True)
    return F.normalize(tensor, mean=list(prep.mean), std=list(prep.std)).as_subclass(torch.Tensor)


def _trim_extreme_aspect(image: Image.Image) -> Image.Image:
    """Centre-trim the long side of a very thin image to `_MAX_ASPECT` times the short.

    Only the centre of the long side survives the crop anyway; without the trim,
    resizing a 1 x 10^7 strip to a 256-pixel short side would need 2.5 * 10^9 pixels.
    Ordinary images are untouched, so they match torchvision exactly.
    """
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if long <= short * _MAX_ASPECT:
        return image
    keep = short * _MAX_ASPECT
    start = (long - keep) // 2
    box = (start, 0, start + keep, height) if width > height else (0, start, width, start + keep)
    return image.crop(box)


def preprocess_batch(images: list[Image.Image], prep: Preprocessing) -> torch.Tensor:
    """Preprocess and stack images into [N, 3, input_size, input_size] (N may be 0)."""
    if not images:
        return torch.empty((0, 3, prep.input_size, prep.input_size), dtype=torch.float32)
    return torch.stack([preprocess(image, prep) for image in images])


def to_display(tensor: torch.Tensor, prep: Preprocessing) -> np.ndarray:
    """Undo normalisation of a [3, H, W] network input: uint8 H x W x 3 for showing.

    Lets the GUI show exactly what the network saw (after crop), e.g. under Grad-CAM.
    Works on any device and dtype; the result is a CPU numpy array.
    """
    if tensor.ndim != 3 or tensor.shape[0] != 3:
        raise ValueError(f"expected a [3, H, W] tensor, got shape {tuple(tensor.shape)}")
    x = tensor.detach().to("cpu", torch.float32)
    mean = torch.tensor(prep.mean).view(3, 1, 1)
    std = torch.tensor(prep.std).view(3, 1, 1)
    x = (x * std + mean).clamp_(0.0, 1.0).mul_(255.0).round_()
    return x.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
