"""Ticks of a log axis that fit the axis: where to put them and what they say (no Qt).

pyqtgraph's log axes label every minor tick (2..9 per decade) whenever it guesses
there is room, and on the gradient view's short axes (about 100 pixels for two
decades) the labels "5·10², 4·10², 3·10², 2·10²" were stacked over each other. Its
SI prefix made it worse: gradient norms of 0.02-0.5 read "(x0.001)" in a cut-off
axis label and "5·10²" at the ticks.

`log_ticks` picks, for a span in log10 units and its length in pixels, the densest of
these that keeps every two labels at least `label_px` apart and shows at least two:
1-2-5 in each decade, 1-3, every decade, every 2nd/3rd/5th/10th... decade; and for a
short span that holds fewer than two such ticks, round linear values (0.2, 0.3, 0.4). `tick_labels`
writes them as people read them: "0.05", "20", or, when an axis reaches beyond
0.001-9999, powers of ten throughout ("2·10⁻⁵").
"""

from __future__ import annotations

import math

__all__ = ["log_ticks", "tick_label", "tick_labels"]

MANTISSAS = (1.0, 2.0, 5.0)  # of round linear steps
# ticks within a decade, densest first; 1-2-5 are log10(2) decades apart at the least
MANTISSA_SETS = ((1.0, 2.0, 5.0), (1.0, 3.0))
DECADE_STEPS = (1, 2, 3, 5, 10, 20, 50, 100)
PLAIN_RANGE = (1e-3, 1e4)  # values written as plain decimals
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def log_ticks(lo: float, hi: float, pixels: float, label_px: float) -> list[float]:
    """Tick positions in log10 units within [lo, hi] (log10 units) on an axis `pixels`
    long, no two closer than `label_px` pixels; empty for an empty span."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or pixels <= 0:
        return []
    per_decade = pixels / (hi - lo)  # pixels
    first, last = math.floor(lo), math.ceil(hi)
    fitting: list[list[float]] = []  # candidates whose labels do not touch, densest first
    for mantissas in MANTISSA_SETS:
        ticks = _within([d + math.log10(m) for d in range(first, last + 1) for m in mantissas],
                        lo, hi)  # fmt: skip
        if _spread(ticks) * per_decade >= label_px:
            fitting.append(ticks)
    for step in DECADE_STEPS:
        if step * per_decade >= label_px:
            # at 1 x 10^n, else at 3, 2 or 5 x 10^n when those fall twice in the span
            starts = range(math.floor(lo / step) * step, last + 1, step)
            options = [_within([d + math.log10(m) for d in starts], lo, hi) for m in (1, 3, 2, 5)]
            fitting.append(max(options, key=lambda ticks: min(len(ticks), 2)))
            break
    best = next((ticks for ticks in fitting if len(ticks) >= 2), None)
    if best is not None:
        return best
    # under about a decade: round linear values, else the one decade or 1-2-5 tick
    return _linear_ticks(lo, hi, per_decade, label_px) or next(iter(fitting), [])


def _spread(ticks: list[float]) -> float:
    """The smallest distance between two neighbouring ticks (inf for fewer than two)."""
    return min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=math.inf)


def _within(ticks: list[float], lo: float, hi: float) -> list[float]:
    eps = 1e-9 * max(1.0, hi - lo)  # a decade at the very edge still counts
    return [t for t in ticks if lo - eps <= t <= hi + eps]


def _linear_ticks(lo: float, hi: float, per_decade: float, label_px: float) -> list[float]:
    """Round values 1-2-5 x 10^n apart, the finest whose labels do not touch where
    they are closest (at the top of the span, log spacing shrinks upwards)."""
    low, high = 10.0**lo, 10.0**hi
    exponent = math.floor(math.log10(high - low)) - 1
    for _ in range(3):
        for mantissa in MANTISSAS:
            step = mantissa * 10.0**exponent
            values = [k * step for k in range(math.ceil(low / step), math.floor(high / step) + 1)]
            values = [v for v in values if v > 0]
            if len(values) < 2:
                return []
            gap = math.log10(values[-1]) - math.log10(values[-2])  # the smallest one
            if gap * per_decade >= label_px:
                return [math.log10(v) for v in values]
        exponent += 1
    return []


def tick_labels(values: list[float]) -> list[str]:
    """The labels of one axis' ticks (values, not log10s), in one style: plain decimals
    when every value lies within 0.001-9999 ("0.05", "200"), else powers of ten with
    their mantissas ("10⁻⁵", "2·10⁻⁵", "10⁰"), so that one axis never mixes the two."""
    plain = all(PLAIN_RANGE[0] <= v < PLAIN_RANGE[1] for v in values if v > 0)
    return [tick_label(v, plain) for v in values]


def tick_label(value: float, plain: bool | None = None) -> str:
    """One value as text: a plain decimal (`plain`, by default when within
    0.001-9999) or a power of ten with its mantissa; "" for a value that is not > 0."""
    if value <= 0 or not math.isfinite(value):
        return ""
    if plain is None:
        plain = PLAIN_RANGE[0] <= value < PLAIN_RANGE[1]
    if plain:
        return f"{float(f'{value:.3g}'):g}" if value < 1 else f"{value:.4g}"
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = round(value / 10.0**exponent, 2)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    power = "10" + str(exponent).translate(_SUPERSCRIPT)
    return power if mantissa == 1 else f"{mantissa:g}·{power}"
