"""The gradient-flow view: one line per shown run of its latest window's gradient norm
per layer against depth, plain nets left and ResNets right, in the run's colour,
following the shown runs live. The panel's end-to-end check is in
test_training_panel.py; the series' bookkeeping in tests/app/test_training_series.py."""

from __future__ import annotations

import numpy as np
import pytest

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
