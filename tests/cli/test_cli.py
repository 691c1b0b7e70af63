"""The command line: models, predict, runs, and its error manners."""

import json

import pytest
import torch
from PIL import Image

from resnet_studio.cli import main
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, save_weights


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_the_zoo_with_exact_params(capsys):
    code, out, _ = run(capsys, "models", "cifar-resnet")
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith("cifar-resnet56 "))
    assert "853,018" in line and "cifar" in line


def test_models_json_has_every_field(capsys):
    code, out, _ = run(capsys, "models", "resnet50-v1d", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows[0]["name"] == "resnet50-v1d"
    assert rows[0]["params"] == 25_576_264 and rows[0]["stages"][1]["name"] == "layer1"


@pytest.fixture
def cifar_weights(tmp_path):
    torch.manual_seed(0)
    model = create_model("cifar-resnet20")
    path = tmp_path / "cifar.safetensors"
    save_weights(model, path, {"model": "cifar-resnet20", "class_names": list(CIFAR10_CLASSES)})
    return path


@pytest.fixture
def images(tmp_path):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 128, 255)]):
        path = tmp_path / f"image{i}.png"
        Image.new("RGB", (40, 30), colour).save(path)
        paths.append(str(path))
    return paths


def test_predict_prints_topk_with_class_names(capsys, cifar_weights, images):
    code, out, err = run(capsys, "predict", *images, "--model", "cifar-resnet20",
                         "--weights", str(cifar_weights), "--topk", "3", "--json", "--device", "cpu")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "random" not in err
    assert [row["image"] for row in rows] == images
    for row in rows:
        assert len(row["top"]) == 3 and all(t["class"] in CIFAR10_CLASSES for t in row["top"])
        probabilities = [t["probability"] for t in row["top"]]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_predict_with_random_weights_warns(capsys, images):
    code, out, err = run(capsys, "predict", images[0], "--model", "cifar-resnet20", "--weights", "random",
                         "--device", "cpu")  # fmt: skip
    assert code == 0 and "random weights" in err and "class " in out
    code, out, err = run(capsys, "predict", images[0], "--model", "cifar-resnet56", "--device", "cpu")
    assert code == 0 and "random weights" in err  # nothing shipped for it


def test_predict_reports_a_bad_image_and_exits_2(capsys, tmp_path, images):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    code, out, err = run(capsys, "predict", str(bad), images[0], "--model", "cifar-resnet20")
    assert code == 2 and "notes.jpg" in err
    assert images[0] in out  # the good image is still classified


def test_user_errors_print_one_line_and_exit_2(capsys):
    code, _, err = run(capsys, "predict", "x.png", "--model", "resnet19")
    assert code == 2 and err.count("\n") == 1 and "depths" in err


def test_weights_for_another_network_fail_cleanly(capsys, cifar_weights, images):
    code, _, err = run(capsys, "predict", images[0], "--model", "cifar-resnet32",
                       "--weights", str(cifar_weights))
    assert code == 2 and "missing" in err.lower()


def test_runs_lists_a_finished_run(capsys, tmp_path):
    code, _, _ = run(capsys, "train", "--model", "cifar-resnet8", "--image-size", "8",
                     "--batch-size", "32", "--val-size", "128", "--iters", "4", "--log-every", "2",
                     "--eval-every", "4", "--runs-dir", str(tmp_path))
    assert code == 0
    code, out, _ = run(capsys, "runs", "--runs-dir", str(tmp_path))
    assert code == 0 and "cifar-resnet8" in out and "finished" in out and "4/4" in out
    code, out, _ = run(capsys, "runs", "--runs-dir", str(tmp_path), "--json")
    assert json.loads(out.splitlines()[0])["status"] == "finished"


def test_runs_exports_the_gradient_norms_of_each_window_and_layer(capsys, tmp_path):
    import csv

    from resnet_studio.core.runs import list_runs, open_run

    tiny = ["--image-size", "8", "--batch-size", "32", "--val-size", "128", "--iters", "4",
            "--log-every", "2", "--eval-every", "4", "--runs-dir", str(tmp_path)]
    assert run(capsys, "train", "--model", "cifar-plain8", "--compare", "cifar-resnet8", *tiny)[0] == 0
    assert run(capsys, "train", "--model", "cifar-resnet8", "--grad-norms", "false", *tiny)[0] == 0
    out_csv = tmp_path / "grads.csv"
    code, out, _ = run(capsys, "runs", "--runs-dir", str(tmp_path), "--export-grad-norms", str(out_csv))
    assert code == 0
    # 2 runs with norms x 2 windows x 8 layers (7 convs + fc); the third recorded none
    assert "wrote 32 rows (2 of 3 runs)" in out and "no gradient norms recorded in" in out
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    for summary in list_runs(tmp_path):
        records = open_run(summary.name, tmp_path).read_metrics()
        mine = [r for r in rows if r["run"] == summary.name]
        expected = [(str(r["iteration"]), norm) for r in records for norm in r.get("grad_norms", [])]
        assert [(r["iteration"], float(r["grad_norm"])) for r in mine] == expected
        if mine:
            assert [r["layer"] for r in mine[:8]][::7] == ["conv1", "fc"]
            assert [r["depth"] for r in mine[:8]] == [str(d) for d in range(1, 9)]
    # one run by name; names without the export are refused with what to do
    code, out, _ = run(capsys, "runs", "--runs-dir", str(tmp_path), "--export-grad-norms",
                       str(out_csv), rows[0]["run"])  # fmt: skip
    assert code == 0 and "wrote 16 rows (1 of 1 runs)" in out
    code, _, err = run(capsys, "runs", "--runs-dir", str(tmp_path), rows[0]["run"])
    assert code == 2 and "--export-grad-norms" in err


def test_no_subcommand_help_is_instant_and_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("models", "predict", "train", "runs"):
        assert command in out


def test_python_m_is_safe_to_reimport_in_a_spawned_process(monkeypatch):
    """multiprocessing's spawn re-imports `python -m resnet_studio`'s main module as
    __mp_main__ in the training process: that must not run the CLI (or open a window)."""
    import runpy

    from resnet_studio import cli

    calls = []
    monkeypatch.setattr(cli, "main", lambda *a, **k: calls.append(a) or 0)
    runpy.run_module("resnet_studio.__main__", run_name="__mp_main__")
    assert calls == []
    with pytest.raises(SystemExit):
        runpy.run_module("resnet_studio.__main__", run_name="__main__")
    assert len(calls) == 1


def test_train_json_prints_one_typed_event_per_line(capsys, tmp_path):
    from resnet_studio.core import training_events as ev

    code, out, _ = run(capsys, "train", "--model", "cifar-resnet8", "--image-size", "8",
                       "--batch-size", "32", "--val-size", "128", "--iters", "4",
                       "--log-every", "2", "--eval-every", "4", "--runs-dir", str(tmp_path),
                       "--json")  # fmt: skip
    assert code == 0
    events = [ev.event_from_json(json.loads(line)) for line in out.splitlines()]
    runs = [e for e in events if not isinstance(e, ev.Loading)]
    assert isinstance(runs[0], ev.RunStarted) and runs[0].model == "cifar-resnet8"
    assert [e.iteration for e in runs if isinstance(e, ev.Progressed)] == [2, 4]
    [evaluated] = [e for e in runs if isinstance(e, ev.Evaluated)]
    assert evaluated.iteration == 4 and evaluated.test_error is not None
    assert isinstance(runs[-1], ev.RunFinished) and runs[-1].iteration == 4


def test_the_progress_printer_shows_windows_evaluations_and_endings():
    import io

    from resnet_studio.cli_training import ProgressPrinter
    from resnet_studio.core import training_events as ev

    stream = io.StringIO()  # not a terminal: whole lines, no redrawing
    printer = ProgressPrinter(stream, interval_s=0.0)
    printer(ev.Loading("synthetic", 1, 2))
    printer(ev.RunStarted(run="r1", model="cifar-resnet8", path=None, total_iterations=4,
                          iteration=0, batches_per_epoch=2))  # fmt: skip
    printer(ev.Progressed(run="r1", iteration=2, epoch=1.0, loss=2.5, train_error=0.75, lr=0.1,
                          images_per_s=90.0, wall_time=0.5, eta_s=None, total_iterations=4))  # fmt: skip
    printer(ev.Progressed(run="r1", iteration=4, epoch=2.0, loss=2.25, train_error=0.5, lr=0.1,
                          images_per_s=100.0, wall_time=1.0, eta_s=0.0, total_iterations=4))  # fmt: skip
    printer(ev.Evaluated(run="r1", iteration=4, epoch=2.0, val_error=0.25, test_error=0.125))
    printer(ev.RunDiverged(run="r1", iteration=4, reason="try a lower --lr"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "cifar-resnet8          starting at iteration 0"
    assert "2/4  loss 2.500" in lines[1] and lines[1].endswith("ETA estimating…")
    assert "4/4  loss 2.250" in lines[2] and "test" not in lines[2] and lines[2].endswith("ETA 0:00")
    assert "val 25.00%  test 12.50%" in lines[3]
    assert lines[4].endswith("[diverged: try a lower --lr]") and "test 12.50%" in lines[4]


def test_ctrl_c_stops_a_training_with_a_checkpoint_that_resumes(tmp_path):
    """Ctrl+C in a terminal acts as the window's Stop: the run ends "cancelled" after
    the current step with a checkpoint there, and --resume continues from it."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from resnet_studio.core.runs import list_runs, open_run

    cmd = [sys.executable, "-m", "resnet_studio", "train", "--model", "cifar-resnet8", "--image-size", "8",
           "--batch-size", "16", "--val-size", "64", "--iters", "100000", "--log-every", "2",
           "--checkpoint-every", "100000", "--eval-every", "0", "--runs-dir", str(tmp_path), "--json"]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    for line in process.stdout:  # wait for the first training window
        if json.loads(line).get("event") == "progressed":
            break
    process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.returncode == 1, process.stderr.read()  # not finished, but not a crash
    [summary] = list_runs(tmp_path)
    run = open_run(summary.name, tmp_path)
    assert summary.status == "cancelled"
    stopped_at = run.latest_checkpoint()
    assert stopped_at is not None  # the checkpoint of the step it stopped at
    code = subprocess.run([sys.executable, "-m", "resnet_studio", "train", "--resume", summary.name,
                           "--iters", str(summary.iterations + 4), "--runs-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300).returncode  # fmt: skip
    assert code == 0 and list_runs(tmp_path)[0].status == "finished"
