"""The one ETA estimate (core.eta) the CLI and the window show: it ignores the slow
first window, settles on a smoothed pace, and says "estimating…" until it can."""

from __future__ import annotations

import math

import pytest

from resnet_studio.core.eta import ESTIMATING, EtaEstimator, estimate_eta, format_eta


def test_a_slow_first_window_does_not_enter_the_estimate():
    # 20 iterations a window; the first took 30 s (warm-up), the next ones 2 s each
    windows = [(20, 30.0), (20, 2.0), (20, 2.0)]
    assert estimate_eta(windows, remaining_iterations=1000) == pytest.approx(1000 * 0.1)
    # what the old per-window estimate did: the first window alone said 1500 s


def test_it_says_estimating_until_enough_windows():
    assert estimate_eta([], 1000) is None
    assert estimate_eta([(20, 30.0)], 1000) is None  # only the skipped window
    assert estimate_eta([(20, 30.0), (20, 2.0)], 1000) is None  # one window in the average
    assert estimate_eta([(20, 30.0), (20, 2.0), (20, 2.0)], 1000) is not None
    assert estimate_eta([(20, 30.0)], 0) == 0.0  # nothing left: no estimating


def test_noisy_windows_are_smoothed_by_an_exponential_average():
    windows = [(10, 50.0), (10, 1.0), (10, 3.0), (10, 1.0), (10, 3.0)]
    weight = 0.3
    expected = 0.1  # an independent run of the EMA over seconds per iteration
    for rate in (0.3, 0.1, 0.3):
        expected += weight * (rate - expected)
    eta = estimate_eta(windows, 100, weight=weight)
    assert eta == pytest.approx(100 * expected)
    assert 10 < eta < 30  # between the fast and the slow window's pace: no jump to either


def test_a_window_slowed_by_an_evaluation_moves_it_a_little():
    steady = [(20, 30.0)] + [(20, 2.0)] * 6
    before = estimate_eta(steady, 1000)
    after = estimate_eta([*steady, (20, 20.0)], 1000)  # an evaluation inside the window
    assert before == pytest.approx(100.0)
    assert after == pytest.approx(100.0 + 0.3 * (1000.0 - 100.0))  # not 1000 s


def test_bad_windows_are_ignored_and_the_weight_checked():
    estimator = EtaEstimator(skip=0, min_windows=1)
    estimator.add(0, 5.0)
    estimator.add(10, math.nan)
    assert estimator.eta(10) is None
    estimator.add(10, 1.0)
    assert estimator.eta(10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weight"):
        EtaEstimator(weight=0.0)


def test_format_eta():
    assert format_eta(None) == ESTIMATING == "estimating…"
    assert format_eta(math.inf) == ESTIMATING
    assert format_eta(65.4) == "1:05"
    assert format_eta(3723.0) == "1:02:03"
    assert format_eta(0.0) == "0:00"
