"""Log-axis ticks: as dense as the axis' length allows, never two labels closer than a
label's height, at least two where the span holds them; labels in one style."""

from __future__ import annotations

import math

import pytest

from resnet_studio.app.training.log_ticks import log_ticks, tick_label, tick_labels


def _labels(lo, hi, pixels, label_px=18.0):
    return tick_labels([10.0**t for t in log_ticks(lo, hi, pixels, label_px)])


def test_the_gradient_views_axis_gets_readable_ticks():
    # 0.02-0.5 on 65 pixels (docs/training-panel.png): pyqtgraph stacked 2..9 x 10^n there
    assert _labels(math.log10(0.02), math.log10(0.5), 65) == ["0.03", "0.1", "0.3"]
    # the same span on a tall axis: 1-2-5
    assert _labels(math.log10(0.02), math.log10(0.5), 300) == ["0.02", "0.05", "0.1", "0.2", "0.5"]


def test_many_decades_skip_decades_and_switch_to_powers_of_ten():
    assert _labels(-8, 2, 100) == ["10⁻⁸", "10⁻⁶", "10⁻⁴", "10⁻²", "10⁰", "10²"]
    assert _labels(-2, 1, 100) == ["0.01", "0.1", "1", "10"]  # 33 px a decade: no 2 and 5
    assert _labels(-2, 1, 150) == ["0.01", "0.03", "0.1", "0.3", "1", "3", "10"]
    assert _labels(-1.7, -0.3, 45) == ["0.03", "0.3"]  # two decades' 3s, where only 0.1 fits
    assert _labels(-2, 1, 400) == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10"]


def test_a_span_under_a_decade_gets_round_linear_ticks():
    assert _labels(math.log10(0.32), math.log10(0.35), 100) == ["0.32", "0.33", "0.34", "0.35"]
    assert _labels(math.log10(0.06), math.log10(0.1), 65) == ["0.06", "0.08", "0.1"]


@pytest.mark.parametrize("pixels", [30, 45, 65, 100, 160, 250, 400, 800])
@pytest.mark.parametrize("span", [(-1.7, -0.3), (-5.2, 0.4), (0.1, 0.5), (-12.0, 3.0), (2.0, 2.05)])
def test_no_two_labels_are_closer_than_a_label(pixels, span):
    lo, hi = span
    ticks = log_ticks(lo, hi, pixels, 18.0)
    assert all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)
    assert ticks == sorted(ticks)
    gaps = [(b - a) * pixels / (hi - lo) for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(gap >= 18.0 - 1e-9 for gap in gaps), (span, pixels, gaps)
    if pixels >= 45:  # room for two labels: there are two
        assert len(ticks) >= 2, (span, pixels)


def test_empty_spans_have_no_ticks():
    assert log_ticks(1.0, 1.0, 100, 18) == [] and log_ticks(0, 1, 0, 18) == []
    assert log_ticks(float("nan"), 1, 100, 18) == []


def test_labels():
    assert tick_labels([0.001, 0.05, 1.0, 200.0, 5000.0]) == ["0.001", "0.05", "1", "200", "5000"]
    assert tick_labels([2e-5, 1e-4, 1.0]) == ["2·10⁻⁵", "10⁻⁴", "10⁰"]  # one style per axis
    assert tick_label(3e6) == "3·10⁶" and tick_label(0.0) == "" and tick_label(0.30000000000000004) == "0.3"
