"""The Inspection panel: drops routed by the main window, bad files, the views, Figure 7,
superseded requests. Small nets (cifar-resnet20 / cifar-plain20 at 32 px) keep it fast."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from resnet_studio.gui import drop_routing, inspection_jobs
from resnet_studio.gui.main_window import MainWindow

pytestmark = pytest.mark.gui
TIMEOUT = 60_000


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against other
    jobs and run small convolutions many times slower (bench/bench_inspect.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.core_loaded, timeout=TIMEOUT):
        win.start_loading()
    use_model(qtbot, win, "cifar-resnet20")
    yield win
    win.close()


def use_model(qtbot, win: MainWindow, name: str):
    win.model_panel.chooser.set_name(name)
    panel = win.panel("Inspection")
    qtbot.waitUntil(lambda: panel.bundle() is not None and panel.bundle().name == name and panel.is_ready(),
                    timeout=TIMEOUT)  # fmt: skip
    return panel


@pytest.fixture
def panel(window):
    return window.panel("Inspection")


# ----------------------------------------------------------------------------- helpers


def noise_png(folder: Path, name: str = "noise.png", size=(48, 40), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path = folder / name
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def mime_for(paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drag_and_drop(win: MainWindow, paths) -> tuple[bool, bool]:
    """Send a drag-enter and a drop with file URLs to the window: (enter accepted, drop accepted)."""
    mime = mime_for(paths)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPoint(300, 300), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    drop = QDropEvent(QPointF(300, 300), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, drop)
    return enter.isAccepted(), drop.isAccepted()


def wait_shown(qtbot, panel, count: int | None = None) -> None:
    def done() -> bool:
        shown, current = panel.shown("analyse"), panel.current_image()
        ok = panel.is_ready() and shown is not None and current is not None and shown[0] == current.id
        return ok and (count is None or len(panel.image_ids()) == count)

    qtbot.waitUntil(done, timeout=TIMEOUT)


def show_one_image(qtbot, win, panel, tmp_path) -> None:
    drag_and_drop(win, [noise_png(tmp_path, "first.png")])
    wait_shown(qtbot, panel, 1)


def snapshot(panel) -> tuple:
    current = panel.current_image()
    return (panel.image_ids(), current.id if current else None, panel.bars.rows(), panel.shown("analyse"))


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR claims width x height (CRC fixed): a huge image without the pixels."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def refused_file(kind: str, folder: Path) -> Path:
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    files = {
        "corrupt": ("corrupt.png", encode(noise, "PNG")[:40] + b"\x00garbage" * 50),
        "truncated": ("half.jpg", encode(noise, "JPEG", quality=95)[: 1500]),
        "zero-byte": ("empty.png", b""),
        "text named .jpg": ("notes.jpg", b"this is a text file, not a photo\n" * 10),
        "20000x20000": ("huge.png", png_claiming(20_000, 20_000)),
    }
    name, data = files[kind]
    path = folder / name
    path.write_bytes(data)
    return path


def handled_file(kind: str, folder: Path) -> Path:
    path = folder / {"16-bit PNG": "deep.png", "CMYK JPEG": "cmyk.jpg", "RGBA": "alpha.png", "palette": "pal.png",
                     "animated GIF": "anim.gif", "1x1": "dot.png", "EXIF-rotated": "phone.jpg"}[kind]  # fmt: skip
    if kind == "16-bit PNG":
        Image.fromarray(np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)).save(path)
    elif kind == "CMYK JPEG":
        Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, "JPEG")
    elif kind == "RGBA":
        Image.new("RGBA", (20, 20), (255, 0, 0, 100)).save(path)
    elif kind == "palette":
        img = Image.new("P", (8, 8), 0)
        img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 254 * 3)
        img.save(path, transparency=0)
    elif kind == "animated GIF":
        frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    elif kind == "1x1":
        Image.new("RGB", (1, 1), (10, 200, 30)).save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.new("RGB", (40, 20), (0, 0, 255)).save(path, "JPEG", exif=exif.tobytes())
    return path


# ----------------------------------------------------------------------------- drag and drop


def test_dropped_images_fill_the_strip_and_show_predictions(qtbot, window, panel, tmp_path):
    window.show_panel("Model")
    paths = [noise_png(tmp_path, f"img{i}.png", seed=i) for i in range(2)]
    entered, dropped = drag_and_drop(window, paths)
    assert entered and dropped
    wait_shown(qtbot, panel, 2)
    assert window.tabs.currentWidget() is panel  # the drop brought the panel forward
    assert len(panel.bars.rows()) == 5 and panel.input_view.has_image()
    assert panel.activations.grid.has_image()
    assert panel.timings["analyse"] > 0
    assert panel.warning.isVisible() and "Random weights" in panel.warning.text()


def test_dropped_folder_is_expanded(qtbot, window, panel, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        noise_png(folder, f"p{i}.png", seed=i)
    (folder / "readme.txt").write_text("not an image")
    assert drag_and_drop(window, [folder]) == (True, True)
    wait_shown(qtbot, panel, 3)


def test_other_files_are_refused_and_nothing_changes(qtbot, window, panel, tmp_path):
    show_one_image(qtbot, window, panel, tmp_path)
    before = snapshot(panel)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert drag_and_drop(window, [notes]) == (False, False)
    assert "Not an image: notes.txt" in panel.message.text()
    assert "Not an image" in window.statusBar().currentMessage()
    assert snapshot(panel) == before and panel.queue.idle()


def test_weight_file_goes_to_the_model_panel(qtbot, window, panel, tmp_path):
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import save_weights

    names = [f"thing{i}" for i in range(10)]
    path = save_weights(create_model("cifar-resnet20"), tmp_path / "r20.safetensors",
                        {"model": "cifar-resnet20", "class_names": names})  # fmt: skip
    show_one_image(qtbot, window, panel, tmp_path)
    count = len(panel.image_ids())
    assert drag_and_drop(window, [path]) == (True, True)
    qtbot.waitUntil(lambda: window.model_panel.weights() is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: panel.bundle() is not None and not panel.bundle().random_weights
                    and panel.is_ready(), timeout=TIMEOUT)  # fmt: skip
    assert len(panel.image_ids()) == count  # no image was added
    assert all(name in names for name, _ in panel.bars.rows())
    assert not panel.warning.isVisible()


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "zero-byte", "text named .jpg", "20000x20000"])
def test_bad_files_are_refused_and_the_previous_state_stays(qtbot, window, panel, tmp_path, kind):
    show_one_image(qtbot, window, panel, tmp_path)
    before = snapshot(panel)
    path = refused_file(kind, tmp_path)
    with qtbot.waitSignal(panel.message_shown, timeout=TIMEOUT,
                          check_params_cb=lambda text: path.name in text):  # fmt: skip
        drag_and_drop(window, [path])
    qtbot.waitUntil(panel.is_ready, timeout=TIMEOUT)
    assert snapshot(panel) == before
    assert panel.input_view.has_image() and "kept" in panel.message.text()


@pytest.mark.parametrize("kind", ["16-bit PNG", "CMYK JPEG", "RGBA", "palette", "animated GIF", "1x1", "EXIF-rotated"])
def test_unusual_files_are_handled(qtbot, window, panel, tmp_path, kind):
    show_one_image(qtbot, window, panel, tmp_path)
    first = panel.current_image().id
    drag_and_drop(window, [handled_file(kind, tmp_path)])
    wait_shown(qtbot, panel, 2)
    image = panel.current_image()
    assert image.id != first and first in panel.image_ids() and len(panel.bars.rows()) == 5
    assert image.image.mode == "RGB"
    if kind == "EXIF-rotated":
        assert image.size == (20, 40)  # upright: the 40 x 20 pixels were turned by the EXIF tag


def test_paste_and_open_image_dialog(qtbot, window, panel, tmp_path, monkeypatch):
    image = QImage(24, 24, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    window.paste_image_action.trigger()
    wait_shown(qtbot, panel, 1)
    assert panel.current_image().label == "pasted image"
    paths = [str(noise_png(tmp_path, f"o{i}.png", seed=i)) for i in range(2)]
    monkeypatch.setattr(drop_routing.QFileDialog, "getOpenFileNames", lambda *a, **k: (paths, ""))
    window.open_image_action.trigger()
    wait_shown(qtbot, panel, 3)


# ----------------------------------------------------------------------------- views


def test_layer_choice_shows_its_maps_and_a_click_enlarges_one(qtbot, window, panel, tmp_path):
    show_one_image(qtbot, window, panel, tmp_path)
    assert panel.activations.select_layer("layer2.0.bn1")
    qtbot.waitUntil(lambda: panel.shown("analyse")[2] == "layer2.0.bn1" and panel.is_ready(), timeout=TIMEOUT)
    maps = panel._analysis.maps
    assert maps.layer == "layer2.0.bn1" and maps.shape[0] == 32
    assert panel.activations.map_at(2 + 48 + 2 + 5, 5) == 1  # second cell of the first row
    panel.activations.grid.clicked.emit(QPointF(2 + 48 + 2 + 5, 5))
    assert panel.activations.selected_map() == 1 and "channel 1" in panel.activations.detail_info.text()
    panel.activations.colormap_box.setCurrentText("gray")  # re-rendered here, no new job
    assert panel.queue.idle()


def test_gradcam_follows_the_chosen_class_and_opacity_only_reblends(qtbot, window, panel, tmp_path, monkeypatch):
    show_one_image(qtbot, window, panel, tmp_path)
    calls = []
    original = inspection_jobs.gradcam

    def counting(bundle, x, layer, class_index, job):
        calls.append(class_index)
        return original(bundle, x, layer, class_index, job)

    monkeypatch.setattr(inspection_jobs, "gradcam", counting)
    panel.tabs.setCurrentWidget(panel.gradcam)
    qtbot.waitUntil(lambda: panel.gradcam.shown_class() is not None and panel.is_ready(), timeout=TIMEOUT)
    assert panel.gradcam.layer() == "layer3"  # default: the last stage
    top_class = panel.gradcam.shown_class()
    chosen = (top_class + 3) % 10
    panel.gradcam.class_box.setValue(chosen)
    qtbot.waitUntil(lambda: panel.gradcam.shown_class() == chosen and panel.is_ready(), timeout=TIMEOUT)
    assert f"#{chosen}" in panel.gradcam.caption.text() and panel.gradcam.view.has_image()
    runs = len(calls)
    panel.gradcam.opacity.setValue(90)
    assert panel.queue.idle() and len(calls) == runs == 2


def test_residual_block_shows_three_maps_and_a_ratio(qtbot, window, panel, tmp_path):
    show_one_image(qtbot, window, panel, tmp_path)
    panel.tabs.setCurrentWidget(panel.residual)
    panel.residual.select_block("layer2.1")
    qtbot.waitUntil(lambda: panel.shown("residual") is not None and panel.shown("residual")[2] == "layer2.1"
                    and panel.is_ready(), timeout=TIMEOUT)  # fmt: skip
    assert panel.residual.shown_maps() == 3
    assert "‖F(x)‖ / ‖x‖ = " in panel.residual.ratio.text()
    float(panel.residual.ratio.text().split("= ")[1].split()[0])
    panel.residual.channel_box.setValue(4)  # one channel: drawn from the held result
    assert panel.queue.idle()


def test_plain_net_shows_the_note(qtbot, window, tmp_path):
    panel = use_model(qtbot, window, "cifar-plain20")
    show_one_image(qtbot, window, panel, tmp_path)
    panel.tabs.setCurrentWidget(panel.residual)
    qtbot.waitUntil(lambda: panel.shown("residual") is not None and panel.is_ready(), timeout=TIMEOUT)
    from resnet_studio.core.inspect import PLAIN_NOTE

    assert panel.residual.note.text() == PLAIN_NOTE
    assert panel.residual.shown_maps() == 2 and "no x" in panel.residual.ratio.text()


def test_figure7_and_compare_with_two_models(qtbot, window, panel, tmp_path):
    show_one_image(qtbot, window, panel, tmp_path)
    panel.figure7.count_box.setValue(4)
    panel.compare_bar.twin_button.click()
    assert panel.compare_bar.name_edit.text() == "cifar-plain20"
    panel.compare_bar.load_button.click()
    qtbot.waitUntil(lambda: panel._compare is not None and panel.is_ready(), timeout=TIMEOUT)
    panel.tabs.setCurrentWidget(panel.figure7)
    qtbot.waitUntil(lambda: panel.shown("figure7") is not None and panel.is_ready(), timeout=TIMEOUT)
    assert panel.figure7.curve_count() == 2
    panel.tabs.setCurrentWidget(panel.compare)
    qtbot.waitUntil(lambda: panel.shown("compare") is not None and panel.is_ready(), timeout=TIMEOUT)
    assert all(len(bars.rows()) == 5 for bars in panel.compare.bars)
    assert "plain" in panel.compare.summary.text()


def test_compare_model_errors_are_shown(qtbot, window, panel):
    panel.compare_bar.name_edit.setText("cifar-resnet20")
    panel.compare_bar.weights_edit.setText("/no/such/run-or-file")
    panel.compare_bar.load_button.click()
    qtbot.waitUntil(lambda: "ready" not in panel.compare_bar.status.text()
                    and "Loading" not in panel.compare_bar.status.text(), timeout=TIMEOUT)  # fmt: skip
    assert panel._compare is None and panel.compare_bar.status.text()


def test_a_newer_selection_supersedes_an_older_one(qtbot, window, panel, tmp_path):
    drag_and_drop(window, [noise_png(tmp_path, f"s{i}.png", seed=i) for i in range(3)])
    wait_shown(qtbot, panel, 3)
    first, second, third = panel.image_ids()
    shown_ids = []
    panel.results_shown.connect(lambda kind, ms: shown_ids.append(panel.shown("analyse")[0]))
    panel.select_image(second)  # starts a job...
    panel.select_image(third)  # ...that this one cancels before any event is processed
    wait_shown(qtbot, panel)
    assert panel.current_image().id == third and shown_ids == [third]
    assert panel._analysis.display is not None


def test_twin_names():
    from resnet_studio.gui.inspection_compare import twin_name

    assert twin_name("cifar-resnet56") == "cifar-plain56"
    assert twin_name("plain34") == "resnet34"
    assert twin_name("resnet50-v1d") == "plain50-v1d"


def test_sort_paths(tmp_path):
    sorted_ = drop_routing.sort_paths([str(tmp_path), "a.JPG", "w.pth", "x.txt"])
    assert sorted_.images == [str(tmp_path), "a.JPG"] and sorted_.weights == ["w.pth"]
    assert sorted_.others == ["x.txt"]
