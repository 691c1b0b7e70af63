"""The training plots' ranges from the data (app.training.plot_ranges), without Qt:
the first seconds of a run, the union over runs, log axes and NaN gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_studio.app.training.plot_ranges import (
    PADDING,
    RunExtents,
    fit_views,
    fit_x,
    fit_y,
    run_extents,
    value_range,
)
from resnet_studio.app.training.series import RunSeries


def series_with(points, total=None, per_epoch=None, evals=()):
    series = RunSeries("r", "cifar-resnet20", total_iterations=total, batches_per_epoch=per_epoch)
    for iteration, train_error, loss in points:
        series.add({"iteration": iteration, "epoch": iteration / 50, "loss": loss,
                    "train_error": train_error})  # fmt: skip
    for iteration, error in evals:
        series.add_evaluation({"iteration": iteration, "epoch": iteration / 50,
                               "val_error": None, "test_error": error})  # fmt: skip
    return series


def test_value_range_skips_nan_and_in_log_the_non_positive():
    values = np.array([math.nan, 0.0, 4.0, 100.0, -1.0])
    assert value_range(values) == (-1.0, 100.0)
    assert value_range(values, np.array([250.0]), log=True) == pytest.approx((np.log10(4), np.log10(250)))
    assert value_range(np.array([math.nan]), np.array([])) is None
    assert value_range(np.array([0.0, -2.0]), log=True) is None


def test_run_extents_cover_training_points_and_evaluations_in_percent():
    series = series_with([(10, 0.9, 2.3), (20, 0.7, 1.9)], total=400, per_epoch=50,
                         evals=[(20, 0.75), (25, 0.95)])  # fmt: skip
    extents = run_extents(series, "iteration")
    assert extents == RunExtents(x=(10.0, 25.0), error=(70.0, 95.0), loss=(1.9, 2.3),
                                 planned_end=400.0)  # fmt: skip
    assert run_extents(series, "epoch").planned_end == 8.0 and run_extents(series, "epoch").x == (0.2, 0.5)


def test_one_point_spans_the_planned_run_and_the_full_scale():
    one = run_extents(series_with([(10, 0.9, 2.3)], total=64000, per_epoch=352), "iteration")
    views = fit_views([one], "iteration")
    assert views.x == (0.0, 64000.0) and views.error == (0.0, 100.0)
    assert views.loss == pytest.approx((0.0, 1.25 * 2.3))


def test_first_points_of_several_runs_at_one_x_take_the_furthest_plan():
    runs = [run_extents(series_with([(20, e, 2.0)], total=t), "iteration")
            for e, t in ((0.9, 1000), (0.5, 3000), (0.7, None))]  # fmt: skip
    views = fit_views(runs, "iteration")
    assert views.x == (0.0, 3000.0) and views.error == (0.0, 100.0)


def test_without_a_plan_one_point_shows_twice_its_x_or_the_floor():
    assert fit_x((300.0, 300.0), None, floor=100.0) == (0.0, 600.0)
    assert fit_x((10.0, 10.0), None, floor=100.0) == (0.0, 100.0)
    assert fit_x((10.0, 10.0), 5.0, floor=100.0) == (0.0, 100.0)  # a plan behind the point is no plan
    assert fit_views([run_extents(series_with([(10, 0.5, 1.0)]), "epoch")], "epoch").x == (0.0, 1.0)


def test_more_points_fit_the_data_from_zero_with_padding():
    views = fit_views([run_extents(series_with([(10, 0.9, 2.3), (30, 0.5, 1.5)], total=64000),
                                   "iteration")], "iteration")  # fmt: skip
    assert views.x == pytest.approx((0.0, 30 * (1 + PADDING)))
    assert views.error == pytest.approx((50 - 40 * PADDING, 90 + 40 * PADDING))
    assert views.loss == pytest.approx((1.5 - 0.8 * PADDING, 2.3 + 0.8 * PADDING))


def test_the_union_holds_every_run_whole():
    # the plain net's errors lie above the ResNet's everywhere: the clipped case
    plain = run_extents(series_with([(i, 0.6 + 0.2 / i, 2.0) for i in range(1, 40)]), "iteration")
    resnet = run_extents(series_with([(i, 0.1 + 0.1 / i, 0.5) for i in range(1, 60)],
                                     evals=[(59, 0.05)]), "iteration")  # fmt: skip
    views = fit_views([plain, resnet], "iteration")
    assert views.error[0] <= 5.0 and views.error[1] >= 80.0
    assert views.x[1] >= 59 and views.loss[0] <= 0.5 and views.loss[1] >= 2.0


def test_a_constant_curve_gets_the_full_scale_and_no_data_no_range():
    assert fit_y((40.0, 40.0), "error") == (0.0, 100.0)
    assert fit_y((2.0, 2.0), "loss") == (0.0, 2.5)
    assert fit_y((0.0, 0.0), "loss") == (0.0, 1.0)
    assert fit_views([], "iteration").x is None
    empty = fit_views([run_extents(RunSeries("e", "cifar-plain20"), "iteration")], "iteration")
    assert (empty.x, empty.error, empty.loss) == (None, None, None)


def test_log_axes_are_in_decades():
    assert fit_y((np.log10(90.0), np.log10(90.0)), "error", log=True) == pytest.approx((1.0, 2.0))
    lo, hi = fit_y((np.log10(2.3), np.log10(2.3)), "loss", log=True)
    assert lo < np.log10(2.3) < hi and hi - lo == pytest.approx(1.0)
    lo, hi = fit_y((-1.0, 1.0), "loss", log=True)
    assert (lo, hi) == pytest.approx((-1 - 2 * PADDING, 1 + 2 * PADDING))
