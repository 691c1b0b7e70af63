"""The analyses' line charts: the legend sits in a row of its own, so it hides no
point of any curve (in the plot's corner it hid the last blocks of a lesion study)."""

from __future__ import annotations

import numpy as np

from resnet_studio.core.analysis.plot import line_chart


def frame_of(dark: np.ndarray) -> tuple[int, int, int, int]:
    """The plot frame: the rows and columns that are dark nearly all the way across."""
    rows = np.flatnonzero(dark.sum(1) > 0.8 * dark.shape[1])
    cols = np.flatnonzero(dark.sum(0) > 0.6 * dark.shape[0])
    return rows.min(), rows.max(), cols.min(), cols.max()


def test_the_legend_is_outside_the_plot_and_covers_no_point():
    x = list(range(1, 28))
    series = {  # high values near the right, where a corner legend sat
        "cifar-resnet56": (x, [20.0] * 24 + [90.0, 92.0, 95.0]),
        "cifar-plain56": (x, [88.0] * 10 + [None] + [90.0] * 16),
    }
    image = line_chart(series, title="Test error with one block removed", xlabel="block",
                       ylabel="error %", ymin=0.0)  # fmt: skip
    dark = (image < 80).all(-1)  # text and the frame; the curves' colours are lighter
    top, bottom, left, right = frame_of(dark)
    assert bottom - top > 300 and right - left > 700
    assert not dark[top + 2 : bottom - 1, left + 2 : right - 1].any()  # no text inside
    assert dark[: top - 2, left:right].any()  # the labels are above the frame
