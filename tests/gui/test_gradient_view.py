"""The gradient-flow view: one line per shown run of its latest window's gradient norm
per layer against depth, plain nets left and ResNets right, in the run's colour,
following the shown runs live. The panel's end-to-end check is in
test_training_panel.py; the series' bookkeeping in tests/app/test_training_series.py."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from resnet_studio.app.training.series import RunSeries
from resnet_studio.gui.gradient_view import GradientView
from resnet_studio.gui.plots import TrainingPlots

pytestmark = pytest.mark.gui


def _series(name, model, windows, layers=("conv1", "layer1.0.conv1", "fc"), depths=(1, 2, 3)):
    series = RunSeries(name, model)
    series.set_grad_layers(layers, depths)
    for i, norms in windows:
        series.add({"iteration": i, "loss": 1.0, "train_error": 0.5, "grad_norms": norms})
    return series


@pytest.fixture
def view(qtbot):
    plots = TrainingPlots()
    view = GradientView(plots)
    qtbot.addWidget(plots)
    qtbot.addWidget(view)
    return view, plots


def test_one_line_per_run_of_the_latest_window_plain_left_resnet_right(view):
    view, plots = view
    plain = _series("p", "cifar-plain20", [(2, [0.1, 0.2, 0.3]), (4, [0.4, 0.5, 0.6])])
    resnet = _series("r", "resnet18 (B)", [(2, [1.0, 2.0, 5.0, 3.0])],
                     layers=("conv1", "layer1.0.conv1", "layer2.0.downsample.0", "fc"),
                     depths=(1, 2, None, 3))  # fmt: skip
    plots.add_run(plain)
    plots.add_run(resnet)
    assert view.redraw() == 2
    x, y = view.line_of("p").getOriginalDataset()
    assert x.tolist() == [1, 2, 3] and np.allclose(y, [0.4, 0.5, 0.6])  # the latest window
    x, y = view.line_of("r").getOriginalDataset()
    assert x.tolist() == [1, 2, 3] and np.allclose(y, [1.0, 2.0, 3.0])  # no projection
    assert view.line_of("p") in view.plain_plot.items
    assert view.line_of("r") in view.resnet_plot.items
    assert view.line_of("p").opts["pen"].color() == plots.color_of("p")
    assert view.plain_plot.getAxis("left").logMode  # norms span decades


def test_lines_follow_new_windows_and_the_shown_runs(view):
    view, plots = view
    series = _series("p", "cifar-plain20", [])
    plots.add_run(series)
    assert view.redraw() == 0  # no window with norms yet: an empty line
    assert view.line_of("p").getOriginalDataset()[0] is None
    series.add({"iteration": 2, "loss": 1.0, "train_error": 0.5, "grad_norms": [0.5, 0.0, 1.0]})
    assert view.redraw() == 1 and view.redraw() == 0  # drawn once per change
    x, y = view.line_of("p").getOriginalDataset()
    assert x.tolist() == [1, 2, 3] and y[0] == 0.5 and np.isnan(y[1]) and y[2] == 1.0  # 0: a gap on log y
    plots.remove_run("p")
    view.redraw()
    assert view.line_of("p") is None and not [i for i in view.plain_plot.items if i.name() == "cifar-plain20"]


def _shown(view, plots, size=(800, 190)):
    """Two runs a decade apart, in the window's size for the view (docs/training-panel.png)."""
    plain = _series("p", "cifar-plain20", [(2, [0.02, 0.03, 0.05])])
    resnet = _series("r", "cifar-resnet20", [(2, [0.2, 0.3, 3.0])])
    plots.add_run(plain)
    plots.add_run(resnet)
    view.resize(*size)
    view.show()
    view.redraw()
    for _ in range(3):
        view.repaint()
        QApplication.processEvents()


def test_the_linked_y_range_holds_both_plots_lines(view):
    """pyqtgraph's auto-range fitted each plot to its own lines and the link passed the
    last fit to both: the ResNets' lines, a decade above the plain nets', were off
    their plot."""
    view, plots = view
    _shown(view, plots)
    for plot in (view.plain_plot, view.resnet_plot):
        y0, y1 = plot.vb.viewRange()[1]
        assert y0 <= np.log10(0.02) and y1 >= np.log10(3.0), plot.titleLabel.text
    view.plain_plot.vb.setYRange(-1, 0, padding=0)  # a zoom is kept...
    view.plain_plot.vb.sigRangeChangedManually.emit([False, True])
    plots.series("r").add({"iteration": 4, "loss": 1.0, "train_error": 0.5, "grad_norms": [9.0, 9.0, 9.0]})
    view.redraw()
    assert np.allclose(view.resnet_plot.vb.viewRange()[1], (-1, 0))
    view.resnet_plot.vb.enableAutoRange()  # ...until the "A" button
    assert view.plain_plot.vb.viewRange()[1][1] >= np.log10(9.0)


def test_log_ticks_do_not_overlap_and_the_axis_label_fits(view):
    """The log axis labelled 2..9 x 10^n stacked over each other, in units of an SI
    prefix ("gradient norm (x0.001)", cut off)."""
    view, plots = view
    _shown(view, plots)
    image = QImage(800, 200, QImage.Format.Format_ARGB32)
    for plot in (view.plain_plot, view.resnet_plot):
        axis = plot.getAxis("left")
        assert "gradient norm" in axis.labelString() and "(x" not in axis.labelString()
        painter = QPainter(image)
        try:
            _axis, _ticks, texts = axis.generateDrawSpecs(painter)
        finally:
            painter.end()
        boxes = sorted((rect for rect, _flags, _text in texts), key=lambda r: r.top())
        labels = [text for _rect, _flags, text in sorted(texts, key=lambda t: -t[0].top())]
        assert len(boxes) >= 2 and labels[:2] == ["0.03", "0.1"]  # plain decimals, bottom up
        assert all(a.bottom() <= b.top() for a, b in zip(boxes, boxes[1:], strict=False))
        assert all(axis.boundingRect().contains(box) for box in boxes)


def test_the_legend_hides_no_line(view):
    import pyqtgraph as pg

    view, plots = view
    _shown(view, plots)
    items = view.scene().items()
    legends = [i for i in items if isinstance(i, pg.LegendItem) and i.isVisible()]
    views = [i for i in items if isinstance(i, pg.ViewBox)]
    assert legends and len(views) == 2
    for legend in legends:
        box = legend.sceneBoundingRect()
        assert box.height() > 0 and not any(box.intersects(v.sceneBoundingRect()) for v in views)
    assert view.legend.names() == ["cifar-plain20", "cifar-resnet20"]  # the plots' order
