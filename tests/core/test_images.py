"""Tests for resnet_studio.core.images. Every file is generated in tmp_path with Pillow."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile
from torchvision import transforms as T

from resnet_studio.core import images
from resnet_studio.core.catalog import is_image_file
from resnet_studio.core.errors import ImageError, StudioError
from resnet_studio.core.images import (
    CIFAR_PREPROCESSING,
    IMAGENET_PREPROCESSING,
    Preprocessing,
    load_image,
    load_images,
    preprocess,
    preprocess_batch,
    to_display,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


# ----------------------------------------------------------------------- helpers


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Random RGB pixels: incompressible, so encoded files are big enough to cut."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def assert_close(pixel: tuple[int, ...], expected: tuple[int, ...], tol: int = 0) -> None:
    assert all(abs(a - b) <= tol for a, b in zip(pixel, expected, strict=True)), (pixel, expected)


def png_with_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR claims width x height (CRC fixed up).

    Lets us test the size limit without ever building the big image.
    """
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    # Signature (8) + length (4) + b"IHDR" (4), then width and height, big-endian.
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# ------------------------------------------------------------------ normal files


def test_is_image_file_uses_suffix_only() -> None:
    # core.images filters folders with the catalog's check (is_image_path was its copy)
    assert is_image_file("photo.JPG")
    assert is_image_file(Path("/nowhere/scan.tiff"))
    assert not is_image_file("notes.txt")
    assert not is_image_file("jpg")
    assert {".jpg", ".png", ".pgm"} <= images.IMAGE_SUFFIXES


@pytest.mark.parametrize(("fmt", "suffix", "tol"), [("JPEG", ".jpg", 8), ("PNG", ".png", 0)])
def test_load_normal_image(tmp_path: Path, fmt: str, suffix: str, tol: int) -> None:
    src = Image.new("RGB", (40, 30), BLUE)
    src.paste(RED, (0, 0, 20, 30))
    path = write(
        tmp_path, "photo" + suffix, encode(src, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    )

    img = load_image(path)

    assert img.mode == "RGB" and img.size == (40, 30)
    assert_close(img.getpixel((5, 15)), RED, tol)
    assert_close(img.getpixel((35, 15)), BLUE, tol)
    # Fully loaded and detached from the file: nothing lazy left open.
    assert not isinstance(img, ImageFile.ImageFile)


def test_load_accepts_str_and_bytes(tmp_path: Path) -> None:
    data = encode(Image.new("RGB", (3, 2), GREEN), "PNG")
    path = write(tmp_path, "g.png", data)
    for source in (str(path), data, bytearray(data)):
        assert load_image(source).getpixel((0, 0)) == GREEN


def test_content_decides_not_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "really_a_png.jpg", encode(Image.new("RGB", (2, 2), RED), "PNG"))
    assert load_image(path).getpixel((1, 1)) == RED


# --------------------------------------------------------------------- bad files


def _error_for(source) -> str:
    with pytest.raises(ImageError) as info:
        load_image(source)
    assert isinstance(info.value, StudioError)
    return str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    message = _error_for(tmp_path / "gone.jpg")
    assert "gone.jpg" in message and "not found" in message


def test_zero_byte_file(tmp_path: Path) -> None:
    message = _error_for(write(tmp_path, "empty.png", b""))
    assert "empty.png" in message and "empty" in message


def test_empty_bytes() -> None:
    assert "empty" in _error_for(b"")


def test_text_named_jpg(tmp_path: Path) -> None:
    message = _error_for(write(tmp_path, "notes.jpg", b"shopping list: eggs, milk\n" * 20))
    assert "notes.jpg" in message and "not an image" in message


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "album.jpg").mkdir()
    assert "folder" in _error_for(tmp_path / "album.jpg")


def test_corrupt_png_header_then_garbage(tmp_path: Path) -> None:
    good = encode(noise(32, 32), "PNG")
    idat = good.index(b"IDAT") + 4  # keep signature, IHDR and the IDAT chunk header
    rng = np.random.default_rng(1)
    bad = good[:idat] + rng.integers(0, 256, len(good) - idat, dtype=np.uint8).tobytes()
    message = _error_for(write(tmp_path, "broken.png", bad))
    assert "broken.png" in message and "corrupt" in message


def test_truncated_jpeg(tmp_path: Path) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # else Pillow would pad silently
    good = encode(noise(64, 64), "JPEG", quality=95)
    message = _error_for(write(tmp_path, "half.jpg", good[: len(good) // 2]))
    assert "half.jpg" in message and "truncated" in message


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "size",
    [
        (9_000, 9_000),  # 81 MP: above our limit, below Pillow's warning
        (10_000, 10_000),  # 100 MP: Pillow warns (an error under -W error)
        (20_000, 20_000),  # 400 MP: Pillow refuses at open
    ],
)
def test_too_large_refused_before_decoding(tmp_path: Path, monkeypatch, size) -> None:
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    message = _error_for(write(tmp_path, "huge.png", png_with_size(*size)))
    assert "huge.png" in message and "too large" in message and "64 megapixels" in message


def test_size_limit_is_module_setting(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "small.png", encode(Image.new("RGB", (10, 10)), "PNG"))
    monkeypatch.setattr(images, "MAX_PIXELS", 99)
    assert "10 x 10" in _error_for(path)


# --------------------------------------------------------------------- odd modes


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.linspace(0, 65535, 256).round().astype(np.uint16)
    src = Image.fromarray(np.tile(values, (4, 1)))
    path = write(tmp_path, "depth16.png", encode(src, "PNG"))
    with Image.open(path) as raw:
        assert raw.mode == "I;16"

    img = load_image(path)

    assert img.mode == "RGB"
    row = np.asarray(img)[0]
    np.testing.assert_array_equal(row[:, 0], np.rint(values / 257).astype(np.uint8))
    assert (row[:, 0] == row[:, 1]).all() and (row[:, 0] == row[:, 2]).all()
    assert row[0, 0] == 0 and row[128, 0] in (128, 129) and row[-1, 0] == 255
    assert len(np.unique(row[:, 0])) > 200  # a clip to 255 would leave almost one value


@pytest.mark.parametrize(
    ("mode", "data", "expected"),
    [
        ("I", [0, 1000, 65535], [0, 4, 255]),  # 32-bit container holding 16-bit data
        ("I", [0, 100, 255], [0, 100, 255]),  # 8-bit data stays as is
        ("I", [-10, 0, 10], [0, 128, 255]),  # unknown range: stretched
        ("F", [0.0, 0.5, 1.0], [0, 128, 255]),  # 0..1 floats
        ("F", [-1.0, 0.0, 1.0], [0, 128, 255]),  # other floats: stretched
    ],
)
def test_deep_greyscale_modes(tmp_path: Path, mode: str, data: list, expected: list) -> None:
    dtype = np.int32 if mode == "I" else np.float32
    src = Image.fromarray(np.array([data], dtype=dtype))
    assert src.mode == mode
    path = write(tmp_path, f"deep_{mode}.tif", encode(src, "TIFF"))
    assert list(np.asarray(load_image(path))[0, :, 0]) == expected


def test_cmyk_jpeg(tmp_path: Path) -> None:
    src = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    path = write(tmp_path, "print.jpg", encode(src, "JPEG", quality=95))
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
    img = load_image(path)
    assert img.mode == "RGB"
    assert_close(img.getpixel((8, 8)), RED, tol=8)


def test_rgba_composited_on_white(tmp_path: Path) -> None:
    src = Image.new("RGBA", (3, 1))
    src.putpixel((0, 0), (255, 0, 0, 255))  # opaque red
    src.putpixel((1, 0), (255, 0, 0, 128))  # half-transparent red
    src.putpixel((2, 0), (0, 0, 0, 0))  # fully transparent black
    img = load_image(write(tmp_path, "logo.png", encode(src, "PNG")))
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == RED
    assert_close(img.getpixel((1, 0)), (255, 127, 127), tol=1)
    assert img.getpixel((2, 0)) == WHITE


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    src = Image.new("P", (4, 4), 0)
    src.putpalette([0, 0, 0, *BLUE] + [0] * (254 * 3))
    src.paste(1, (2, 0, 4, 4))  # right half: palette index 1 (blue)
    path = write(tmp_path, "icon.png", encode(src, "PNG", transparency=0))
    img = load_image(path)
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == WHITE  # index 0 was transparent black
    assert img.getpixel((3, 3)) == BLUE


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "YCbCr"])
def test_other_modes_become_rgb(mode: str) -> None:
    src = Image.new("RGB", (4, 4), WHITE).convert(mode)
    img = load_image(encode(src, "TIFF" if mode in ("LA", "YCbCr") else "PNG"))
    assert img.mode == "RGB" and img.size == (4, 4)
    assert_close(img.getpixel((0, 0)), WHITE, tol=2)


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    path = write(tmp_path, "blink.gif", data)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    img = load_image(path)
    assert img.mode == "RGB"
    assert img.getpixel((4, 4)) == RED


def test_one_pixel_image(tmp_path: Path) -> None:
    img = load_image(write(tmp_path, "dot.png", encode(Image.new("RGB", (1, 1), GREEN), "PNG")))
    assert img.size == (1, 1)
    assert preprocess(img, IMAGENET_PREPROCESSING).shape == (3, 224, 224)
    assert preprocess(img, CIFAR_PREPROCESSING).shape == (3, 32, 32)


@pytest.mark.parametrize(("orientation", "marked_corner"), [(6, "top-right"), (8, "bottom-left")])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, marked_corner: str) -> None:
    # Stored landscape, 40 x 20, with a red block in the stored top-left corner.
    src = Image.new("RGB", (40, 20), WHITE)
    src.paste(RED, (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: rotate 90 deg clockwise to view; 8: anticlockwise
    path = write(tmp_path, "phone.jpg", encode(src, "JPEG", quality=95, exif=exif.tobytes()))

    img = load_image(path)

    assert img.size == (20, 40)
    corners = {
        "top-left": (2, 2),
        "top-right": (17, 2),
        "bottom-left": (2, 37),
        "bottom-right": (17, 37),
    }
    for name, xy in corners.items():
        expected = RED if name == marked_corner else WHITE
        assert_close(img.getpixel(xy), expected, tol=24)


# ------------------------------------------------------------------- load_images


def test_load_images_expands_folder_and_reports_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    write(folder, "b.jpg", encode(Image.new("RGB", (4, 4), BLUE), "JPEG"))
    write(folder, "a.png", encode(Image.new("RGB", (4, 4), RED), "PNG"))
    write(folder, "c_bad.jpg", b"not really")
    write(folder, "notes.txt", b"ignored: not an image suffix")
    write(folder, "._a.png", b"macOS resource fork, skipped")
    (folder / "sub.png").mkdir()  # a folder with an image suffix is not a file
    extra = write(tmp_path, "extra.png", encode(Image.new("RGB", (2, 2), GREEN), "PNG"))

    errors: list[tuple[Path, ImageError]] = []
    loaded = load_images([folder, extra], on_error=lambda p, e: errors.append((p, e)))

    assert [p.name for p, _ in loaded] == ["a.png", "b.jpg", "extra.png"]
    assert all(img.mode == "RGB" for _, img in loaded)
    assert [p.name for p, _ in errors] == ["c_bad.jpg"]
    assert "c_bad.jpg" in str(errors[0][1])


def test_load_images_raises_without_handler(tmp_path: Path) -> None:
    write(tmp_path, "a.png", encode(Image.new("RGB", (2, 2)), "PNG"))
    write(tmp_path, "b.png", b"")
    with pytest.raises(ImageError, match="b.png"):
        load_images(tmp_path)


def test_load_images_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no images"):
        load_images([tmp_path])
    errors = []
    assert load_images([tmp_path], on_error=lambda p, e: errors.append(p)) == []
    assert errors == [tmp_path]


# ----------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("size", [(300, 200), (199, 257), (256, 256), (640, 480)])
def test_preprocess_matches_torchvision_imagenet_eval(size: tuple[int, int]) -> None:
    img = noise(*size, seed=size[0])
    p = IMAGENET_PREPROCESSING
    reference = T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(p.mean, p.std)]
    )(img)

    ours = preprocess(img, p)

    assert type(ours) is torch.Tensor and ours.dtype == torch.float32
    assert ours.shape == (3, 224, 224)
    assert (ours - reference).abs().max().item() <= 1e-6


def test_preprocess_cifar_shape_and_batch() -> None:
    imgs = [noise(32, 32, seed=i) for i in range(3)]
    batch = preprocess_batch(imgs, CIFAR_PREPROCESSING)
    assert batch.shape == (3, 3, 32, 32) and batch.dtype == torch.float32
    torch.testing.assert_close(batch[1], preprocess(imgs[1], CIFAR_PREPROCESSING))
    assert preprocess_batch([], IMAGENET_PREPROCESSING).shape == (0, 3, 224, 224)


def test_preprocess_extremely_thin_image_stays_small() -> None:
    strip = Image.new("RGB", (4000, 1), RED)  # naive resize: 256 x 1 024 000 pixels
    out = preprocess(strip, IMAGENET_PREPROCESSING)
    assert out.shape == (3, 224, 224)
    assert_close(tuple(to_display(out, IMAGENET_PREPROCESSING)[112, 112]), RED, tol=1)


def test_to_display_round_trip() -> None:
    img = noise(32, 32, seed=7)
    shown = to_display(preprocess(img, CIFAR_PREPROCESSING), CIFAR_PREPROCESSING)
    assert shown.dtype == np.uint8 and shown.shape == (32, 32, 3)
    np.testing.assert_array_equal(shown, np.asarray(img))

    big = noise(300, 260, seed=8)
    shown = to_display(preprocess(big, IMAGENET_PREPROCESSING), IMAGENET_PREPROCESSING)
    seen = np.asarray(T.CenterCrop(224)(T.Resize(256)(big)))
    assert shown.shape == (224, 224, 3)
    assert np.abs(shown.astype(int) - seen).max() <= 1

    with pytest.raises(ValueError):
        to_display(torch.zeros(1, 3, 4, 4), CIFAR_PREPROCESSING)


def test_preprocessing_is_plain_data() -> None:
    p = Preprocessing(32, 36, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25])  # as read from JSON
    assert p.mean == (0.5, 0.5, 0.5) and isinstance(p.std, tuple)
    assert (
        Preprocessing(224, 256, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        == IMAGENET_PREPROCESSING
    )
    with pytest.raises(AttributeError):
        p.input_size = 64  # type: ignore[misc]
    with pytest.raises(ValueError):
        Preprocessing(32, 32, (0.5, 0.5), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError):
        Preprocessing(32, 32, (0.5, 0.5, 0.5), (1.0, 0.0, 1.0))
