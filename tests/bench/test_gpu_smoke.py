"""bench/gpu.sh --smoke: the GPU benchmark's code paths on the CPU, as CI runs them.

The data is made here from the shipped 100-image CIFAR-10 test slice (its tree renamed
train/ for train.zip, the slice itself as test.zip), so nothing beside the checkout is
needed. The smoke run takes about half a minute on 2 cores.
"""

import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from resnet_studio.core.runs.layout import CONFIG, METRICS, STATUS
from resnet_studio.core.samples import cifar10_test_slice

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from gpu_parts import choose_compile  # noqa: E402


def make_zips(folder: Path, per_class: int | None = None) -> Path:
    """train.zip (train/<class>/N.jpg) and test.zip from the shipped test slice."""
    folder.mkdir(parents=True)
    source = cifar10_test_slice()
    (folder / "test.zip").write_bytes(source.read_bytes())
    counts: dict[str, int] = {}
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(folder / "train.zip", "w") as out:
        for name in archive.namelist():
            if not name.endswith(".jpg"):
                continue
            label = name.split("/")[1]
            counts[label] = counts.get(label, 0) + 1
            if per_class is None or counts[label] <= per_class:
                out.writestr(name.replace("test/", "train/", 1), archive.read(name))
    return folder


def run_bench(tmp: Path, data: Path, *flags: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp / "gpu.json"
    command = ["bash", str(REPO / "bench" / "gpu.sh"), "--smoke", "--out", str(out),
               "--data", str(data), "--work", str(tmp / "work"), *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable})
    assert out.is_file(), done.stderr[-3000:]
    return done, json.loads(out.read_text())


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu-smoke")
    done, report = run_bench(tmp, make_zips(tmp / "data"))
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return tmp, done, report


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / METRICS).read_text().splitlines()]


def test_every_part_runs_and_the_json_says_so(smoke):
    tmp, done, report = smoke
    assert report["schema"] == 1 and report["mode"] == "smoke" and report["error"] is None
    assert list(report["parts"]) == ["b", "a", "c", "d"]
    for name, part in report["parts"].items():
        assert part["ok"] is True and part["error"] is None, (name, part)
        assert 0 < part["seconds"] <= part["cap_s"] and part["target_met"] is None
    assert report["data"]["train.zip"] == (tmp / "data" / "train.zip").stat().st_size
    assert 0 < report["wall_s"] < report["budget_s"]
    table = done.stdout.splitlines()
    assert table[0].startswith("GPU benchmark, smoke mode")
    assert [line[:9] for line in table[2:6]] == ["(b)   yes", "(a)   yes", "(c)   yes", "(d)   yes"]


def test_part_a_trains_through_the_cli_and_reports_the_runs_test_accuracy(smoke):
    tmp, _, report = smoke
    a = report["parts"]["a"]
    assert a["status"] == "finished" and a["exit_code"] == 0 and not a["timed_out"]
    assert a["iterations"] == a["planned_iterations"] == 20
    assert a["compile"] is False and a["compile_decision"].startswith("smoke: eager")
    assert 0 < a["startup_s"] < a["wall_s"] and 0 < a["train_s"] < a["wall_s"]
    assert a["images_per_s_median"] > 0 and a["paper_accuracy"] == 0.9125
    # the accuracy is the run store's last test error, read here independently
    written = records(Path(a["run"]))
    assert [r["iteration"] for r in written] == [5, 10, 15, 20]
    assert 0 <= a["test_accuracy"] <= 1
    assert a["test_accuracy"] == pytest.approx(1 - written[-1]["test_error"], abs=1e-12)
    assert Path(a["run"]).parent == tmp / "work" / "runs-a"


def test_part_b_compares_our_trainer_with_the_usual_loop_and_a_compiled_one(smoke):
    b = smoke[2]["parts"]["b"]
    rates = b["images_per_s"]
    assert set(rates) == {"bare", "ours", "usual", "ours_compiled"}
    assert all(v > 0 for v in rates.values())
    assert b["ours_over_usual"] == pytest.approx(rates["ours"] / rates["usual"], rel=1e-3)
    assert b["compile_backend"] == "eager" and b["compile_s"] >= 0 and b["compile_error"] is None
    assert all(len(v) == b["rounds"] == 1 for v in b["per_round"].values())


def test_part_c_measures_resnet50_eager_and_compiled(smoke):
    c = smoke[2]["parts"]["c"]
    assert c["model"] == "resnet50" and c["batch"] == 2 and c["channels_last"] is True
    assert c["images_per_s"]["eager"] > 0 and c["images_per_s"]["compiled"] > 0
    assert c["compile_s"] >= 0 and c["compile_error"] is None


def test_part_d_launches_two_ranks_and_rank_0_writes_the_run_once(smoke):
    tmp, _, report = smoke
    d = report["parts"]["d"]
    assert d["ranks"] == 2 and d["backend"] == "gloo" and d["device"] == "cpu"
    assert all(d["checks"].values()) and len(d["checks"]) == 8
    [run] = [p.parent for p in (tmp / "work" / "runs-d").glob(f"*/{CONFIG}")]
    assert json.loads((run / CONFIG).read_text())["world_size"] == 2
    assert json.loads((run / STATUS).read_text())["status"] == "finished"
    written = records(run)
    assert [r["iteration"] for r in written] == d["metrics_iterations"] == [5, 10]
    assert all(math.isfinite(r["loss"]) for r in written)
    assert d["final_loss"] == written[-1]["loss"]


def test_a_failing_part_is_recorded_and_the_others_still_run(tmp_path):
    """Too few images for one batch: (a) and (d) fail with the trainer's reason in the
    JSON; the run goes on to (d) after (a) fails, and the exit status says so."""
    done, report = run_bench(tmp_path, make_zips(tmp_path / "data", per_class=3),
                             "--parts", "a,d")
    assert done.returncode == 1
    a, d = report["parts"]["a"], report["parts"]["d"]
    assert a["ok"] is False and a["error"].startswith("train exited before the run ended (exit 2)")
    assert "error: the training split has 10 images, fewer than one batch of 16" in a["error"]
    assert a["status"] is None and a["iterations"] == 0 and a["test_accuracy"] is None
    assert d["ok"] is False and d["error"].startswith("checks failed: launch_exit_0")
    assert "fewer than one batch" in d["error"]  # the ranks' own message
    assert "(d)   NO" in done.stdout


@pytest.mark.parametrize(("compiled_ips", "compile_s", "expected"), [
    (2000.0, 10.0, True),  # 10 + 1280 / 2000 s against 1280 / 1000 s eager
    (2000.0, 700.0, False),  # the compile costs more than it saves
    (1000.0, 0.0, False),  # as fast as eager: not worth the risk
])
def test_part_a_compiles_only_when_bs_figures_predict_a_shorter_run(compiled_ips, compile_s, expected):
    use, why = choose_compile(10_000, 128, 1000.0, compiled_ips, compile_s)
    assert use is expected
    assert f"against {10_000 * 128 / 1000:.0f} s eager" in why
