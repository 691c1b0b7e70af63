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

from resnet_studio.app.inspection import jobs
from resnet_studio.app.model import ModelState
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.gui import drop_routing
from resnet_studio.gui.inspection_panel import InspectionPanel
from resnet_studio.gui.main_window import MainWindow
from resnet_studio.gui.panel import Panel, PanelContext

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
def panel(qtbot):
    """The panel on its own, following a ModelState as the window's panels do."""
    widget = InspectionPanel(PanelContext(ModelState(ModelChoice("cifar-resnet20")), persist=False))
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitUntil(lambda: model_is(widget, "cifar-resnet20"), timeout=TIMEOUT)
    yield widget
    widget.shutdown()


def model_is(panel, name: str) -> bool:
    model = panel.state.model
    return model is not None and model.name == name and panel.is_ready()


def use_model(qtbot, panel, name: str):
    panel.context.model.set_choice(ModelChoice(name))
    qtbot.waitUntil(lambda: model_is(panel, name), timeout=TIMEOUT)
    return panel


@pytest.fixture
def window(qtbot):
    """The main window, for what it routes to the panel (drops, paste, File menu)."""
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.core_loaded, timeout=TIMEOUT):
        win.start_loading()
    use_model(qtbot, win.panel("Inspection"), "cifar-resnet20")
    yield win
    win.close()


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
        shown, current = panel.state.shown("analyse"), panel.state.current
        ok = panel.is_ready() and shown is not None and current is not None and shown.image_id == current.id
        return ok and (count is None or len(panel.state.image_ids()) == count)

    qtbot.waitUntil(done, timeout=TIMEOUT)


def show_one_image(qtbot, panel, tmp_path) -> None:
    panel.open_paths([str(noise_png(tmp_path, "first.png"))])
    wait_shown(qtbot, panel, 1)


def snapshot(panel) -> tuple:
    current = panel.state.current
    return (panel.state.image_ids(), panel.strip.ids(), current.id if current else None,
            panel.input.bars.rows(), panel.state.shown("analyse"))


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


# ----------------------------------------------------------------------------- the panel


def test_the_panel_is_a_panel_and_asks_the_window_to_open(qtbot, panel):
    assert isinstance(panel, Panel) and panel.TITLE == "Inspection" and panel.confirm_close()
    with qtbot.waitSignal(panel.open_requested, timeout=1000):
        panel.open_button.click()


def test_opened_images_fill_the_strip_and_show_predictions(qtbot, panel, tmp_path):
    panel.open_paths([str(noise_png(tmp_path, f"img{i}.png", seed=i)) for i in range(2)])
    wait_shown(qtbot, panel, 2)
    assert panel.strip.ids() == panel.state.image_ids()
    assert len(panel.input.bars.rows()) == 5 and panel.input.view.has_image()
    assert panel.activations.grid.has_image()
    assert panel.timings["analyse"] > 0
    assert panel.input.warning.isVisible() and "Random weights" in panel.input.warning.text()


def test_an_opened_folder_is_expanded(qtbot, panel, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        noise_png(folder, f"p{i}.png", seed=i)
    (folder / "readme.txt").write_text("not an image")
    panel.open_paths([str(folder)])
    wait_shown(qtbot, panel, 3)


def test_weights_on_the_model_state_reach_the_panel(qtbot, panel, tmp_path):
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import load_weights, save_weights

    names = [f"thing{i}" for i in range(10)]
    path = save_weights(create_model("cifar-resnet20"), tmp_path / "r20.safetensors",
                        {"model": "cifar-resnet20", "class_names": names})  # fmt: skip
    show_one_image(qtbot, panel, tmp_path)
    panel.context.model.set_weights(load_weights("cifar-resnet20", str(path)))
    qtbot.waitUntil(lambda: panel.state.model is not None and not panel.state.model.random_weights
                    and panel.is_ready(), timeout=TIMEOUT)  # fmt: skip
    assert len(panel.state.image_ids()) == 1  # no image was added
    assert all(name in names for name, _ in panel.input.bars.rows())
    assert not panel.input.warning.isVisible()
    assert "r20.safetensors" in panel.input.model_label.text()


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "zero-byte", "text named .jpg", "20000x20000"])
def test_bad_files_are_refused_and_the_previous_state_stays(qtbot, panel, tmp_path, kind):
    show_one_image(qtbot, panel, tmp_path)
    before = snapshot(panel)
    path = refused_file(kind, tmp_path)
    with qtbot.waitSignal(panel.message_shown, timeout=TIMEOUT,
                          check_params_cb=lambda text: path.name in text):  # fmt: skip
        panel.open_paths([str(path)])
    qtbot.waitUntil(panel.is_ready, timeout=TIMEOUT)
    assert snapshot(panel) == before
    assert panel.input.view.has_image() and "kept" in panel.message.text()


@pytest.mark.parametrize("kind", ["16-bit PNG", "CMYK JPEG", "RGBA", "palette", "animated GIF", "1x1", "EXIF-rotated"])
def test_unusual_files_are_handled(qtbot, panel, tmp_path, kind):
    show_one_image(qtbot, panel, tmp_path)
    first = panel.state.current.id
    panel.open_paths([str(handled_file(kind, tmp_path))])
    wait_shown(qtbot, panel, 2)
    image = panel.state.current
    assert image.id != first and first in panel.state.image_ids() and len(panel.input.bars.rows()) == 5
    assert image.image.mode == "RGB"
    if kind == "EXIF-rotated":
        assert image.size == (20, 40)  # upright: the 40 x 20 pixels were turned by the EXIF tag


def test_a_pasted_image_and_an_empty_one(qtbot, panel):
    image = QImage(24, 24, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    panel.add_qimage(image)
    wait_shown(qtbot, panel, 1)
    assert panel.state.current.label == "pasted image" and panel.state.current.path is None
    panel.add_qimage(QImage())
    assert "empty" in panel.message.text() and len(panel.state.image_ids()) == 1


def test_removing_the_last_image_clears_the_views(qtbot, panel, tmp_path):
    show_one_image(qtbot, panel, tmp_path)
    panel.remove_button.click()
    assert panel.state.image_ids() == [] and panel.strip.ids() == [] and panel.state.current is None
    assert not panel.input.view.has_image() and not panel.activations.grid.has_image()
    assert panel.input.bars.rows() == [] and panel.is_ready()


# ----------------------------------------------------------------------------- views


def test_layer_choice_shows_its_maps_and_a_click_enlarges_one(qtbot, panel, tmp_path):
    show_one_image(qtbot, panel, tmp_path)
    assert panel.activations.select_layer("layer2.0.bn1")
    qtbot.waitUntil(lambda: panel.state.shown("analyse").settings.layer == "layer2.0.bn1" and panel.is_ready(),
                    timeout=TIMEOUT)  # fmt: skip
    maps = panel.state.analysis.maps
    assert maps.layer == "layer2.0.bn1" and maps.shape[0] == 32
    assert panel.residual.block() == "layer2.0"  # the residual view follows the tree to the block
    assert panel.activations.map_at(2 + 48 + 2 + 5, 5) == 1  # second cell of the first row
    panel.activations.grid.clicked.emit(QPointF(2 + 48 + 2 + 5, 5))
    assert "channel 1" in panel.activations.detail_info.text()
    panel.activations.colormap_box.setCurrentText("gray")  # re-rendered here, no new job
    assert panel.queue.idle() and panel.is_ready()


def test_gradcam_follows_the_chosen_class_and_opacity_only_reblends(qtbot, panel, tmp_path, monkeypatch):
    show_one_image(qtbot, panel, tmp_path)
    calls = []
    original = jobs.gradcam

    def counting(model, x, layer, class_index, job):
        calls.append(class_index)
        return original(model, x, layer, class_index, job)

    monkeypatch.setattr(jobs, "gradcam", counting)
    panel.tabs.setCurrentWidget(panel.gradcam)
    qtbot.waitUntil(lambda: panel.state.shown("gradcam") is not None and panel.is_ready(), timeout=TIMEOUT)
    assert panel.state.shown("gradcam").settings.layer == "layer3"  # default: the last stage
    top_class = panel.state.analysis.top[0].index
    assert f"#{top_class}" in panel.gradcam.caption.text()
    chosen = (top_class + 3) % 10
    panel.gradcam.class_box.setValue(chosen)
    qtbot.waitUntil(lambda: panel.state.shown("gradcam").settings.class_index == chosen and panel.is_ready(),
                    timeout=TIMEOUT)  # fmt: skip
    assert f"#{chosen}" in panel.gradcam.caption.text() and panel.gradcam.view.has_image()
    runs = len(calls)
    panel.gradcam.opacity.setValue(90)
    assert panel.queue.idle() and len(calls) == runs == 2


def test_residual_block_shows_three_maps_and_a_ratio(qtbot, panel, tmp_path):
    show_one_image(qtbot, panel, tmp_path)
    panel.tabs.setCurrentWidget(panel.residual)
    panel.residual.select_block("layer2.1")
    qtbot.waitUntil(lambda: panel.state.shown("residual") is not None
                    and panel.state.shown("residual").settings.block == "layer2.1" and panel.is_ready(),
                    timeout=TIMEOUT)  # fmt: skip
    assert sum(view.has_image() for view in panel.residual.views) == 3
    assert "‖F(x)‖ / ‖x‖ = " in panel.residual.ratio.text()
    float(panel.residual.ratio.text().split("= ")[1].split()[0])
    panel.residual.channel_box.setValue(4)  # one channel: drawn from the held result
    assert panel.queue.idle()


def test_plain_net_shows_the_note(qtbot, panel, tmp_path):
    use_model(qtbot, panel, "cifar-plain20")
    show_one_image(qtbot, panel, tmp_path)
    panel.tabs.setCurrentWidget(panel.residual)
    qtbot.waitUntil(lambda: panel.state.shown("residual") is not None and panel.is_ready(), timeout=TIMEOUT)
    from resnet_studio.core.inspect import PLAIN_NOTE

    assert panel.state.model.plain and panel.residual.note.text() == PLAIN_NOTE
    assert sum(view.has_image() for view in panel.residual.views) == 2 and "no x" in panel.residual.ratio.text()


def test_figure7_and_compare_with_two_models(qtbot, panel, tmp_path):
    show_one_image(qtbot, panel, tmp_path)
    panel.tabs.setCurrentWidget(panel.compare)
    assert panel.state.key("compare") is None  # nothing to compare with yet
    panel.figure7.count_box.setValue(4)
    panel.compare_bar.twin_button.click()
    assert panel.compare_bar.name_edit.text() == "cifar-plain20"
    panel.compare_bar.load_button.click()
    qtbot.waitUntil(lambda: panel.state.compare is not None and panel.is_ready(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: panel.state.shown("compare") is not None and panel.is_ready(), timeout=TIMEOUT)
    assert all(len(bars.rows()) == 5 for bars in panel.compare.bars)
    assert "plain" in panel.compare.summary.text()
    panel.tabs.setCurrentWidget(panel.figure7)
    qtbot.waitUntil(lambda: panel.state.shown("figure7") is not None and panel.is_ready(), timeout=TIMEOUT)
    shown = panel.state.shown("figure7")
    assert shown.compare_generation == panel.state.compare.generation and shown.settings.count == 4
    curves = panel.figure7.plots[0].getPlotItem().listDataItems()
    assert len(curves) == 2 and all(len(c.xData) == 19 for c in curves)  # 19 3x3 layers each
    panel.compare_bar.clear_button.click()
    qtbot.waitUntil(lambda: panel.state.shown("figure7").compare_generation == 0 and panel.is_ready(),
                    timeout=TIMEOUT)  # fmt: skip
    assert len(panel.figure7.plots[0].getPlotItem().listDataItems()) == 1


def test_compare_model_errors_are_shown(qtbot, panel):
    panel.compare_bar.name_edit.setText("cifar-resnet20")
    panel.compare_bar.weights_edit.setText("/no/such/run-or-file")
    panel.compare_bar.load_button.click()
    qtbot.waitUntil(lambda: "ready" not in panel.compare_bar.status.text()
                    and "Loading" not in panel.compare_bar.status.text(), timeout=TIMEOUT)  # fmt: skip
    assert panel.state.compare is None and panel.compare_bar.status.text()


def test_a_newer_selection_supersedes_an_older_one(qtbot, panel, tmp_path):
    panel.open_paths([str(noise_png(tmp_path, f"s{i}.png", seed=i)) for i in range(3)])
    wait_shown(qtbot, panel, 3)
    first, second, third = panel.state.image_ids()
    shown_ids = []
    panel.results_shown.connect(lambda kind, ms: shown_ids.append(panel.state.shown("analyse").image_id))
    panel.select_image(second)  # starts a job...
    panel.select_image(third)  # ...that this one cancels before any event is processed
    wait_shown(qtbot, panel)
    assert panel.state.current.id == third and shown_ids == [third]
    assert panel.state.analysis.display is not None


def test_a_model_change_rebuilds_after_the_settle_delay(qtbot, panel, tmp_path):
    show_one_image(qtbot, panel, tmp_path)
    generation = panel.state.model.generation
    panel.context.model.set_choice(ModelChoice("cifar-resnet32"))
    panel.context.model.set_choice(ModelChoice("cifar-resnet20"))  # settles back within the delay
    qtbot.waitUntil(lambda: panel.state.model.generation > generation and panel.is_ready(), timeout=TIMEOUT)
    assert panel.state.model.generation == generation + 1 and panel.state.model.name == "cifar-resnet20"
    assert panel.state.shown("analyse").model_generation == panel.state.model.generation


# ----------------------------------------------------------------------------- through the window


def test_dropped_images_fill_the_strip_and_bring_the_panel_forward(qtbot, window, tmp_path):
    panel = window.panel("Inspection")
    window.show_panel("Model")
    entered, dropped = drag_and_drop(window, [noise_png(tmp_path, f"img{i}.png", seed=i) for i in range(2)])
    assert entered and dropped
    wait_shown(qtbot, panel, 2)
    assert window.tabs.currentWidget() is panel


def test_other_files_are_refused_and_nothing_changes(qtbot, window, tmp_path):
    panel = window.panel("Inspection")
    drag_and_drop(window, [noise_png(tmp_path, "first.png")])
    wait_shown(qtbot, panel, 1)
    before = snapshot(panel)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert drag_and_drop(window, [notes]) == (False, False)
    assert "Not an image: notes.txt" in panel.message.text()
    assert "Not an image" in window.statusBar().currentMessage()
    assert snapshot(panel) == before and panel.queue.idle()


def test_weight_file_goes_to_the_model_panel(qtbot, window, tmp_path):
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import save_weights

    panel = window.panel("Inspection")
    path = save_weights(create_model("cifar-resnet20"), tmp_path / "r20.safetensors",
                        {"model": "cifar-resnet20", "class_names": [f"thing{i}" for i in range(10)]})  # fmt: skip
    drag_and_drop(window, [noise_png(tmp_path, "first.png")])
    wait_shown(qtbot, panel, 1)
    assert drag_and_drop(window, [path]) == (True, True)
    qtbot.waitUntil(lambda: panel.context.model.weights is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not panel.state.model.random_weights and panel.is_ready(), timeout=TIMEOUT)
    assert len(panel.state.image_ids()) == 1  # no image was added


def test_paste_and_open_image_dialog(qtbot, window, tmp_path, monkeypatch):
    panel = window.panel("Inspection")
    image = QImage(24, 24, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    window.paste_image_action.trigger()
    wait_shown(qtbot, panel, 1)
    assert panel.state.current.label == "pasted image"
    paths = [str(noise_png(tmp_path, f"o{i}.png", seed=i)) for i in range(2)]
    monkeypatch.setattr(drop_routing.QFileDialog, "getOpenFileNames", lambda *a, **k: (paths, ""))
    window.open_image_action.trigger()
    wait_shown(qtbot, panel, 3)
    monkeypatch.setattr(drop_routing.QFileDialog, "getOpenFileNames", lambda *a, **k: (paths[:1], ""))
    panel.open_button.click()  # the panel's Open… asks the window for the same dialog
    wait_shown(qtbot, panel, 4)


def test_sort_paths(tmp_path):
    sorted_ = drop_routing.sort_paths([str(tmp_path), "a.JPG", "w.pth", "x.txt"])
    assert sorted_.images == [str(tmp_path), "a.JPG"] and sorted_.weights == ["w.pth"]
    assert sorted_.others == ["x.txt"]
