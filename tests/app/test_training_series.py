"""Run series without Qt: TensorBoard's smoothing, incremental smoothing, live
evaluations joining their window's record, resume truncation, CSV export, and the
gradient norms by layer (the latest window by depth, truncation, their CSV)."""

from __future__ import annotations

import csv
import math

import numpy as np

from resnet_studio.app.training.series import (
    GRAD_NORM_COLUMNS,
    RunSeries,
    SmoothedSeries,
    smooth,
    write_csv,
    write_grad_norms_csv,
)


def test_smoothing_is_tensorboards_debiased_ema():
    w, values = 0.6, [1.0, 3.0, 2.0, math.nan, 4.0]
    # by hand: ema_n = w*ema_(n-1) + (1-w)*v_n from 0, divided by 1 - w**n
    e1 = 0.4 * 1.0
    e2 = 0.6 * e1 + 0.4 * 3.0
    e3 = 0.6 * e2 + 0.4 * 2.0
    e4 = 0.6 * e3 + 0.4 * 4.0
    expected = [e1 / 0.4, e2 / (1 - 0.36), e3 / (1 - 0.216), math.nan, e4 / (1 - 0.6**4)]
    assert np.allclose(smooth(values, w), expected, equal_nan=True)
    assert smooth(values, w)[0] == 1.0  # debiased: starts at the first value
    assert np.allclose(smooth(values, 0.0), values, equal_nan=True)


def _windows(series, iterations):
    for i in iterations:
        series.add({"iteration": i, "epoch": i / 10, "loss": 3.0 / i, "train_error": 1.0 / i})


def test_incremental_smoothing_equals_smoothing_all_at_once_and_restarts():
    series = RunSeries("run-a", "cifar-resnet8")
    smoothed = SmoothedSeries(series)
    _windows(series, range(1, 6))
    smoothed.update(0.6)
    _windows(series, range(6, 11))
    got = smoothed.update(0.6)
    assert np.allclose(got["loss"], smooth(series.train["loss"].values, 0.6))
    assert np.allclose(got["train_error"], smooth(series.train["train_error"].values, 0.6))
    # a new weight, or fewer points than smoothed (a resumed run), starts over
    assert np.allclose(smoothed.update(0.9)["loss"], smooth(series.train["loss"].values, 0.9))
    series.truncate_after(4)
    _windows(series, [5])
    assert np.allclose(smoothed.update(0.9)["loss"], smooth(series.train["loss"].values, 0.9))


def test_a_live_evaluation_joins_the_record_of_its_window():
    series = RunSeries("run-a", "cifar-resnet8")
    _windows(series, [2, 4])
    version = series.version
    series.add_evaluation({"iteration": 4, "epoch": 0.4, "val_error": 0.5, "test_error": 0.25})
    assert series.version > version
    assert len(series.records) == 2 and series.records[-1]["test_error"] == 0.25
    assert series.evals["iteration"].values.tolist() == [4]
    assert series.evals["error"].values.tolist() == [0.25]  # test error, else validation
    series.add_evaluation({"iteration": 6, "epoch": 0.6, "val_error": 0.4, "test_error": None})
    assert series.evals["error"].values.tolist() == [0.25, 0.4] and len(series.records) == 3


def test_records_from_the_store_split_into_windows_and_evaluations():
    series = RunSeries("run-a", "cifar-plain8")
    series.extend([{"iteration": 2, "epoch": 0.2, "loss": 2.0, "train_error": 0.9},
                   {"iteration": 4, "epoch": 0.4, "loss": 1.9, "train_error": 0.8,
                    "val_error": 0.7, "test_error": 0.6}])  # fmt: skip
    assert series.plain and not RunSeries("b", "cifar-resnet8 (A)").plain
    assert series.train["iteration"].values.tolist() == [2, 4]
    assert series.evals["error"].values.tolist() == [0.6]


def test_truncation_forgets_what_a_resumed_run_redoes():
    series = RunSeries("run-a", "cifar-resnet8")
    _windows(series, range(2, 11, 2))
    series.add_evaluation({"iteration": 10, "epoch": 1.0, "val_error": 0.5, "test_error": 0.5})
    _windows(series, range(12, 21, 2))
    series.add_evaluation({"iteration": 20, "epoch": 2.0, "val_error": 0.4, "test_error": 0.4})
    series.truncate_after(10)
    assert series.train["iteration"].values.tolist() == [2, 4, 6, 8, 10]
    assert series.evals["iteration"].values.tolist() == [10]
    assert [r["iteration"] for r in series.records] == [2, 4, 6, 8, 10]


def test_csv_export_writes_the_raw_points(tmp_path):
    series = RunSeries("run-a", "cifar-resnet8")
    series.extend([{"iteration": 2, "epoch": 0.1, "loss": 2.3, "train_error": 0.9, "lr": 0.1},
                   {"iteration": 4, "epoch": 0.2, "loss": 2.1, "train_error": 0.8, "lr": 0.1,
                    "val_error": 0.85, "test_error": 0.86}])  # fmt: skip
    path = tmp_path / "points.csv"
    assert write_csv(path, [series]) == 2
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["run"] == "run-a" and rows[0]["iteration"] == "2" and rows[0]["test_error"] == ""
    assert float(rows[1]["test_error"]) == 0.86 and float(rows[1]["loss"]) == 2.1


LAYERS = ["conv1", "layer1.0.conv1", "layer2.0.downsample.0", "fc"]
DEPTHS = [1, 2, None, 3]


def _grad_windows(series, iterations):
    for i in iterations:  # norms that say which window and layer they are: i + layer/10
        series.add({"iteration": i, "epoch": i / 10, "loss": 1.0, "train_error": 0.5,
                    "grad_norms": [i + k / 10 for k in range(len(LAYERS))]})  # fmt: skip


def test_the_latest_window_gives_norm_against_depth_without_projection_shortcuts():
    series = RunSeries("run-a", "resnet18 (B)")
    assert series.latest_grad_norms() is None
    series.set_grad_layers(LAYERS, DEPTHS)
    _grad_windows(series, [2, 4])
    series.add({"iteration": 5, "loss": 1.0, "train_error": 0.5})  # a record without norms
    x, y = series.latest_grad_norms()
    assert x.tolist() == [1, 2, 3] and y.tolist() == [4.0, 4.1, 4.3]
    assert series.grad_iterations.values.tolist() == [2, 4]
    # a record whose norms are not numbers still counts as a window, without norms
    series.add({"iteration": 6, "loss": 1.0, "train_error": 0.5, "grad_norms": ["x"]})
    assert series.train["iteration"].values.tolist() == [2, 4, 5, 6]
    assert len(series.grad_norms) == 2
    # without a layer list that fits, every layer is taken as on the path
    unnamed = RunSeries("run-b", "cifar-plain8")
    _grad_windows(unnamed, [2])
    x, y = unnamed.latest_grad_norms()
    assert x.tolist() == [1, 2, 3, 4] and y.tolist() == [2.0, 2.1, 2.2, 2.3]


def test_truncation_forgets_the_norms_of_redone_windows():
    series = RunSeries("run-a", "cifar-resnet8")
    _grad_windows(series, [2, 4, 6, 8])
    series.truncate_after(4)
    assert series.grad_iterations.values.tolist() == [2, 4]
    assert [n[0] for n in series.grad_norms] == [2.0, 4.0]
    _grad_windows(series, [6])
    assert series.latest_grad_norms()[1][0] == 6.0


def test_grad_norm_csv_has_one_row_per_run_window_and_layer(tmp_path):
    named = RunSeries("run-a", "resnet18 (B)")
    named.set_grad_layers(LAYERS, DEPTHS)
    _grad_windows(named, [2, 4])
    named.add({"iteration": 6, "loss": 1.0, "train_error": 0.5})  # no norms: no rows
    unnamed = RunSeries("run-b", "cifar-plain8")
    unnamed.add({"iteration": 2, "epoch": 0.2, "loss": 1.0, "grad_norms": [0.5, None]})
    path = tmp_path / "grads.csv"
    assert write_grad_norms_csv(path, [named, unnamed]) == 2 * 4 + 2
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == GRAD_NORM_COLUMNS
    assert [(r["iteration"], r["layer"], r["depth"], float(r["grad_norm"])) for r in rows[4:8]] == [
        ("4", "conv1", "1", 4.0), ("4", "layer1.0.conv1", "2", 4.1),
        ("4", "layer2.0.downsample.0", "", 4.2), ("4", "fc", "3", 4.3)]
    # an unknown layer list: depth by position, no name; a non-finite norm is empty
    assert [(r["run"], r["layer"], r["depth"], r["grad_norm"]) for r in rows[8:]] == [
        ("run-b", "", "1", "0.5"), ("run-b", "", "2", "")]
