"""Damaged run folders: every file of a run is checked when read, and a damaged one
gives one message naming the file, what is wrong and what to do, through the listing
(`list_runs`, `resnet-studio runs`), `train --resume` and the engine's `resume`, with
every byte of the run left as it was. The Training panel's side is in
tests/gui/test_training_panel.py, over the same table (`CASES`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from resnet_studio.cli import main
from resnet_studio.core.catalog import DAMAGED
from resnet_studio.core.errors import RunDamagedError
from resnet_studio.core.models import create_model
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import list_runs, open_run
from resnet_studio.core.runs import run as run_module
from resnet_studio.core.train import resume, train

# The 8-layer CIFAR net on 8-px synthetic images: 20 iterations, checkpoints at 10
# and 20 (both kept, so that --from-checkpoint 10 has something to go back to).
TINY = dict(image_size=8, batch_size=16, val_size=64, iterations=20, milestones=(15,),
            eval_every=10, log_every=5, checkpoint_every=10, seed=2)  # fmt: skip
MODEL = "cifar-resnet8"
LATEST = "checkpoints/iter-00000020"


def make_template(root: Path) -> Path:
    """A finished run with two kept checkpoints, to copy for each case."""
    patch = pytest.MonkeyPatch()
    patch.setattr(run_module, "prune_checkpoints", lambda *a, **k: None)
    try:
        [result] = train([MODEL], get_recipe("quick").with_overrides(**TINY), runs_dir=root)
    finally:
        patch.undo()
    assert result.status == "finished"
    return Path(result.path)


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    """Change a JSON object in place (what `change` returns is ignored: dict.pop)."""
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def other_architecture(run: Path) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(create_model("cifar-resnet20", 10).state_dict(), str(run / LATEST / "model.safetensors"))


def other_optimizer(run: Path) -> None:
    net = create_model("cifar-resnet20", 10)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    torch.save({"optimizer": optimizer.state_dict()}, run / LATEST / "state.pt")


def garbage_mid_metrics(run: Path) -> None:
    lines = (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    (run / "metrics.jsonl").write_bytes(b"".join([lines[0], b"#!garbage{\n", *lines[1:]]))


@dataclass(frozen=True)
class Case:
    id: str
    damage: Callable[[Path], None]
    file: str  # the file the message must name
    says: str  # what the message must say
    listed: bool  # the listing (config.json + status.json only) sees it
    tensors: bool = False  # found when the tensors load (in the engine's process)


CASES = [
    Case("config-without-recipe", lambda r: edit_json(r / "config.json", lambda d: d.pop("recipe")),
         "config.json", "it has no recipe", listed=True),
    Case("recipe-field-of-wrong-type",
         lambda r: edit_json(r / "config.json", lambda d: d["recipe"].update(batch_size="x")),
         "config.json", "recipe field batch_size is 'x', not an integer", listed=True),
    Case("recipe-negative-seed",
         lambda r: edit_json(r / "config.json", lambda d: d["recipe"].update(seed=-1)),
         "config.json", "recipe field seed is -1, not an integer >= 0", listed=True),
    Case("config-without-model", lambda r: edit_json(r / "config.json", lambda d: d.pop("model")),
         "config.json", "it names no model", listed=True),
    Case("config-not-json", lambda r: (r / "config.json").write_text('{"model": '),
         "config.json", "it is not JSON", listed=True),
    Case("model-not-in-the-zoo",
         lambda r: edit_json(r / "config.json", lambda d: d["model"].update(name="cifar-resnet7")),
         "config.json", "its model:", listed=False),
    Case("status-is-a-list", lambda r: (r / "status.json").write_text('["finished"]'),
         "status.json", "it holds a JSON list, not an object", listed=True),
    Case("status-unknown", lambda r: edit_json(r / "status.json", lambda d: d.update(status="done")),
         "status.json", "its status 'done' is not one of", listed=True),
    Case("trainer-iteration-abc",
         lambda r: edit_json(r / LATEST / "trainer.json", lambda d: d.update(iteration="abc")),
         "trainer.json", "its iteration is 'abc', not an integer >= 0", listed=False),
    Case("trainer-iteration-negative",
         lambda r: edit_json(r / LATEST / "trainer.json", lambda d: d.update(iteration=-5)),
         "trainer.json", "its iteration is -5, not an integer >= 0", listed=False),
    Case("trainer-iteration-not-its-folder",
         lambda r: edit_json(r / LATEST / "trainer.json", lambda d: d.update(iteration=7)),
         "trainer.json", "is not that of its folder iter-00000020", listed=False),
    Case("trainer-lr-scale-negative",
         lambda r: edit_json(r / LATEST / "trainer.json", lambda d: d.update(lr_scale=-1)),
         "trainer.json", "its lr_scale is -1, not a number > 0", listed=False),
    Case("metrics-garbage-mid-file", garbage_mid_metrics,
         "metrics.jsonl", "line 2 is not JSON", listed=False),
    Case("pointer-escapes-the-run",
         lambda r: edit_json(r / "checkpoint.json", lambda d: d.update(folder="../../x")),
         "checkpoint.json", "it names '../../x', which is not a checkpoint folder", listed=False),
    Case("pointer-to-a-sibling-run",
         lambda r: edit_json(r / "checkpoint.json",
                             lambda d: d.update(folder="../../other/checkpoints/iter-00000020")),
         "checkpoint.json", "which is not a checkpoint folder", listed=False),
    Case("checkpoint-of-another-architecture", other_architecture,
         "model.safetensors", "holds the weights of another network than cifar-resnet8",
         listed=False, tensors=True),
    Case("weights-not-safetensors", lambda r: (r / LATEST / "model.safetensors").write_bytes(b"\0" * 64),
         "model.safetensors", "weights cannot be read", listed=False, tensors=True),
    Case("optimizer-state-of-another-network", other_optimizer,
         "state.pt", "optimizer state does not fit", listed=False, tensors=True),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes (the writer's lock excepted: it holds no data)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_template(tmp_path_factory.mktemp("template"))


def damaged_copy(template: Path, root: Path, case: Case) -> Path:
    run = root / template.name
    shutil.copytree(template, run)
    case.damage(run)
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_damaged_run_is_named_everywhere_and_left_as_it_was(case, template, tmp_path, capsys):
    run = damaged_copy(template, tmp_path, case)
    before = snapshot(run)
    # the listing: the run is there; what config.json and status.json show is named
    [summary] = list_runs(tmp_path)
    if case.listed:
        assert summary.status == DAMAGED
        assert case.file in summary.reason and case.says in summary.reason
        code = main(["runs", "--runs-dir", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 0 and DAMAGED in out and case.says in out
    else:
        assert summary.status == "finished" and summary.iterations == 20
    # the engine: RunDamagedError naming the file
    with pytest.raises(RunDamagedError) as info:
        resume([run.name], runs_dir=tmp_path, overrides={"iterations": 30})
    assert Path(info.value.path).name == case.file and case.says in str(info.value)
    # the CLI: one line, exit 2, no traceback
    code = main(["train", "--resume", run.name, "--runs-dir", str(tmp_path), "--iters", "30"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert case.file in err and case.says in err and "Traceback" not in err
    assert snapshot(run) == before  # nothing rewritten, nothing deleted


def test_the_advice_offers_the_older_checkpoint_and_from_checkpoint_resumes(template, tmp_path):
    run = damaged_copy(template, tmp_path, CASES[[c.id for c in CASES].index("weights-not-safetensors")])
    with pytest.raises(RunDamagedError, match="--from-checkpoint 10") as info:
        resume([run.name], runs_dir=tmp_path)
    assert f"train --resume {run.name} --from-checkpoint 10" in str(info.value)
    [result] = resume([run.name], runs_dir=tmp_path, from_checkpoint=10,
                      overrides={"iterations": 30})  # fmt: skip
    assert result.status == "finished" and result.iterations == 30
    iterations = [r["iteration"] for r in open_run(run).read_metrics()]
    assert iterations == list(range(5, 31, 5))  # the redone iterations logged once


def test_without_an_older_checkpoint_the_advice_is_to_start_again(template, tmp_path):
    run = damaged_copy(template, tmp_path, CASES[[c.id for c in CASES].index("trainer-iteration-abc")])
    shutil.rmtree(run / "checkpoints" / "iter-00000010")
    with pytest.raises(RunDamagedError, match="No other checkpoint was kept"):
        resume([run.name], runs_dir=tmp_path)


def test_a_torn_last_metrics_line_is_normal_and_resume_drops_it(template, tmp_path):
    run = tmp_path / template.name
    shutil.copytree(template, run)
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"iteration": 25, "lo')  # killed mid-write
    assert [r["iteration"] for r in open_run(run).read_metrics()][-1] == 20
    [summary] = list_runs(tmp_path)
    assert summary.status == "finished"
    [result] = resume([run.name], runs_dir=tmp_path, overrides={"iterations": 30})
    assert result.status == "finished"
    assert [r["iteration"] for r in open_run(run).read_metrics()] == list(range(5, 31, 5))


def test_a_deleted_pointer_falls_back_to_the_newest_complete_checkpoint(template, tmp_path):
    run = tmp_path / template.name
    shutil.copytree(template, run)
    (run / "checkpoint.json").unlink()  # what the pointer's message offers
    assert open_run(run).latest_checkpoint().name == "iter-00000020"


def test_a_comparison_with_one_damaged_run_leaves_the_other_untouched(template, tmp_path):
    good = tmp_path / "good"
    shutil.copytree(template, good)
    bad = tmp_path / "bad"
    shutil.copytree(template, bad)
    other_architecture(bad)
    before = snapshot(good)
    with pytest.raises(RunDamagedError, match="another network"):
        resume(["good", "bad"], runs_dir=tmp_path, overrides={"iterations": 30})
    assert snapshot(good) == before  # its metrics were not truncated, its status not set
