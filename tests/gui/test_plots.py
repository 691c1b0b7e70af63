"""The training plots' view ranges, read back from the ViewBoxes: the first point on
axes that span the run, linked plots that show every curve whole, and the user's
pan/zoom respected until the auto button. The range arithmetic itself is tested
without Qt in tests/app/test_plot_ranges.py."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from resnet_studio.app.training.series import RunSeries
from resnet_studio.gui.plots import TrainingPlots

pytestmark = pytest.mark.gui


def make_series(name, model, points, total=None, per_epoch=None, evals=()):
    """A run with training records (iteration, train_error, loss) and evaluations
    (iteration, test_error)."""
    series = RunSeries(name, model, total_iterations=total, batches_per_epoch=per_epoch)
    for iteration, train_error, loss in points:
        series.add({"iteration": iteration, "epoch": iteration / (per_epoch or 100),
                    "loss": loss, "train_error": train_error})  # fmt: skip
    for iteration, test_error in evals:
        series.add_evaluation({"iteration": iteration, "epoch": iteration / (per_epoch or 100),
                               "val_error": None, "test_error": test_error})  # fmt: skip
    return series


@pytest.fixture
def plots(qtbot):
    widget = TrainingPlots()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    return widget


def view_range(plot):
    """What the plot shows once Qt has painted (pyqtgraph auto-ranges then)."""
    plot.scene().views()[0].repaint()
    QApplication.processEvents()
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    return (x0, x1), (y0, y1)


def test_one_point_spans_the_planned_run_and_the_full_error_scale(plots):
    series = make_series("r", "cifar-resnet20", [(10, 0.9, 2.3)], total=64000, per_epoch=352)
    plots.add_run(series)
    (x0, x1), (y0, y1) = view_range(plots.resnet_plot)
    assert (x0, x1) == pytest.approx((0, 64000)) and (y0, y1) == pytest.approx((0, 100))
    (lx0, lx1), (ly0, ly1) = view_range(plots.loss_plot)
    assert (lx0, lx1) == pytest.approx((0, 64000)) and (ly0, ly1) == pytest.approx((0, 1.25 * 2.3))
    plots.set_x_axis("epochs")  # the plan in epochs: 64000 / 352
    assert view_range(plots.resnet_plot)[0] == pytest.approx((0, 64000 / 352))


def test_one_point_of_a_run_without_a_plan_shows_twice_its_x(plots):
    plots.add_run(make_series("r", "cifar-plain20", [(300, 0.9, 2.3)]))
    assert view_range(plots.plain_plot)[0] == pytest.approx((0, 600))
    plots.remove_run("r")
    plots.add_run(make_series("s", "cifar-plain20", [(10, 0.9, 2.3)]))
    assert view_range(plots.plain_plot)[0] == pytest.approx((0, 100))  # the floor


def test_the_second_point_fits_the_data(plots):
    series = make_series("r", "cifar-resnet20", [(10, 0.9, 2.3)], total=64000)
    plots.add_run(series)
    curves = plots.curves_of("r")
    assert curves.train.opts["symbol"] == "o" and curves.loss.opts["symbol"] == "o"  # a dot
    series.add({"iteration": 20, "epoch": 0.2, "loss": 2.1, "train_error": 0.8})
    assert plots.redraw() == 1
    assert curves.train.opts["symbol"] is None and curves.loss.opts["symbol"] is None  # a line
    (x0, x1), (y0, y1) = view_range(plots.resnet_plot)
    assert x0 == pytest.approx(0) and 20 <= x1 <= 21
    assert y0 <= 80 and 90 <= y1 <= 91


def test_linked_plots_show_the_union_of_both_plots_curves(plots):
    # the ResNets' errors lie entirely below the plain nets': the case that clipped
    plain = make_series("p", "cifar-plain56", [(i, 0.6 + 0.2 / i, 2.0) for i in range(1, 40)],
                        evals=[(20, 0.65), (39, 0.62)])  # fmt: skip
    resnet = make_series("r", "cifar-resnet56", [(i, 0.1 + 0.1 / i, 0.5) for i in range(1, 60)],
                         evals=[(30, 0.12), (59, 0.08)])  # fmt: skip
    plots.add_run(plain)
    plots.add_run(resnet)
    plots.redraw()
    every_y = np.concatenate([100 * s.train["train_error"].values for s in (plain, resnet)]
                             + [100 * s.evals["error"].values for s in (plain, resnet)])  # fmt: skip
    for plot in (plots.plain_plot, plots.resnet_plot):
        (x0, x1), (y0, y1) = view_range(plot)
        assert y0 <= every_y.min() and y1 >= every_y.max(), plot.titleLabel.text
        assert x0 <= 0 and x1 >= 59
    assert np.allclose(view_range(plots.plain_plot), view_range(plots.resnet_plot))
    # the plain plot alone gets new points: the shared range still holds the ResNets
    plain.add({"iteration": 40, "epoch": 0.4, "loss": 2.0, "train_error": 0.61})
    plots.redraw()
    assert view_range(plots.resnet_plot)[1][0] <= every_y.min()
    plots.set_overlay(True)
    (y0, y1) = view_range(plots.plain_plot)[1]
    assert y0 <= every_y.min() and y1 >= every_y.max()


def test_log_y_ranges_are_in_decades(plots):
    plots.add_run(make_series("r", "cifar-resnet20", [(i, 0.5 / i, 2.0 / i) for i in range(1, 50)]))
    plots.set_log_y(True)
    y0, y1 = view_range(plots.resnet_plot)[1]
    assert y0 <= np.log10(100 * 0.5 / 49) and y1 >= np.log10(50.0) and y1 < 2
    ly0, ly1 = view_range(plots.loss_plot)[1]
    assert ly0 <= np.log10(2.0 / 49) and ly1 >= np.log10(2.0)


def test_a_zoom_stops_the_following_and_the_auto_button_restarts_it(plots):
    series = make_series("r", "cifar-resnet20", [(i, 0.5, 1.0) for i in range(1, 10)])
    plots.add_run(series)
    plots.resnet_plot.vb.scaleBy((0.5, 0.5))  # what the wheel does
    plots.resnet_plot.vb.sigRangeChangedManually.emit([True, True])
    zoomed = view_range(plots.resnet_plot)
    series.add({"iteration": 500, "epoch": 5.0, "loss": 0.5, "train_error": 0.2})
    plots.redraw()
    assert np.allclose(view_range(plots.resnet_plot), zoomed)
    assert plots.following == {"error": False, "loss": True}
    assert view_range(plots.loss_plot)[0][1] >= 500  # the loss plot still follows
    plots.resnet_plot.autoBtnClicked()  # the "A" button
    assert plots.following["error"] and view_range(plots.resnet_plot)[0][1] >= 500
    assert not any(plots.resnet_plot.vb.autoRangeEnabled())  # pyqtgraph's stays off


def legends_and_views(widget):
    """Every legend and every view box in the widget's scene, as scene rectangles."""
    import pyqtgraph as pg

    items = widget.scene().items()
    legends = [i for i in items if isinstance(i, pg.LegendItem) and i.isVisible()]
    views = [i for i in items if isinstance(i, pg.ViewBox) and i.isVisible()]
    return legends, views


def test_no_legend_covers_the_ends_of_the_curves(plots):
    """docs/training-panel.png: the legends sat in the plots' top-right corners, where
    Figure 6's curves end, on a nearly opaque background: test error seemed to stop
    at 600 of 1000 iterations and the loss at 840, and the 4-run loss legend lost an
    entry below its plot."""
    models = ("cifar-plain20", "cifar-plain56", "cifar-resnet20", "cifar-resnet56")
    for k, model in enumerate(models):  # errors stay high to the end: the top-right corner
        plots.add_run(make_series(model, model, [(i, 0.9 - 0.01 * k, 2.5 - 0.1 * k)
                                                 for i in range(20, 1001, 20)],
                                  evals=[(i, 0.85 - 0.01 * k) for i in range(100, 1001, 100)]))
    plots.redraw()
    view_range(plots.plain_plot)
    legends, views = legends_and_views(plots)
    assert len(views) == 3 and legends
    scene_box = plots.mapToScene(plots.viewport().rect()).boundingRect()
    for legend in legends:
        box = legend.sceneBoundingRect()
        assert box.height() > 0 and scene_box.contains(box)  # every entry on screen
        assert not any(box.intersects(view.sceneBoundingRect()) for view in views)
    # one entry per run, in the order shown, drawn like its solid test-error line
    assert plots.legend.names() == list(models)
    plots.remove_run("cifar-plain56")
    assert plots.legend.names() == ["cifar-plain20", "cifar-resnet20", "cifar-resnet56"]


def test_the_legend_wraps_to_the_width(plots):
    plots.resize(500, 600)
    for k in range(10):
        plots.add_run(make_series(f"r{k}", f"cifar-resnet{20 + k}", [(1, 0.5, 1.0), (2, 0.4, 0.9)]))
    view_range(plots.plain_plot)
    box = plots.legend.sceneBoundingRect()
    assert plots.legend.columnCount < 10 and plots.legend.rowCount > 1
    assert box.width() <= plots.width() and len(plots.legend.names()) == 10
    assert not any(box.intersects(view.sceneBoundingRect()) for view in legends_and_views(plots)[1])
