"""How soon training starts after Start (issue 13, item 2: "Training starts at once").

    python bench/training_start.py [--rounds 3] [--images 10000]

In one process that has imported the engine already, as the window has, alternating
cold and standby rounds so the machine's state hits both alike:

- cold: `run_in_process` spawns the engine child with its job (today's path before
  the standby: an interpreter start and a torch import);
- standby: an `EnginePool` child booted beforehand (the window boots it when idle;
  its boot is not part of the wait and is printed apart) takes the job.

Each round trains cifar-resnet8 for a few iterations on a zip of CIFAR-10 test JPEGs
(`--images`, decoded anew each round: a fresh data_root, so no decode cache) and
times, from "start requested": the first `Loading` event (the engine is up and reads
the data), `RunStarted` (the data is in memory, the model built) and the first
`Progressed` (log_every 1: the first iteration has run). "data" is what the same
`load_dataset` takes in this process (a fresh cache each round, timed between the
two rounds), what the data costs either way; "wait" is the first iteration minus
data, what the engine's start costs. Prints medians and the ratio standby / cold.
Target: first iteration <= 1.5 s after Start, data aside.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CIFAR_TEST_ZIP = Path("/work/shared/data/cifar10-jpeg/test.zip")


def write_zip(path: Path, images: int) -> Path:
    """`images` CIFAR-10 test JPEGs, balanced over the classes, as an ImageFolder zip."""
    per_class, counts = images // 10, {}
    with zipfile.ZipFile(CIFAR_TEST_ZIP) as source, zipfile.ZipFile(path, "w") as target:
        for name in sorted(source.namelist()):
            parts = name.split("/")
            if len(parts) == 3 and parts[2] and counts.get(parts[1], 0) < per_class:
                counts[parts[1]] = counts.get(parts[1], 0) + 1
                target.writestr(f"train/{parts[1]}/{parts[2]}", source.read(name))
    return path


def one_round(pool, data: Path, root: Path) -> dict[str, float]:
    from resnet_studio.core.recipes import get_recipe
    from resnet_studio.core.training_events import Loading, Progressed, RunStarted
    from resnet_studio.core.training_process import run_in_process

    recipe = get_recipe("quick").with_overrides(
        dataset=f"zip:{data}", data_root=str(root / "data"), image_size=8, batch_size=32,
        val_size=100, iterations=3, milestones=(2,), eval_every=3, log_every=1,
        checkpoint_every=3, seed=0)  # fmt: skip
    times: dict[str, float] = {}
    start = time.perf_counter()

    def on_event(event) -> None:
        now = time.perf_counter() - start
        for kind, key in ((Loading, "loading"), (RunStarted, "started"), (Progressed, "first")):
            if isinstance(event, kind):
                times.setdefault(key, now)

    [result] = run_in_process("train", ["cifar-resnet8"], recipe=recipe, runs_dir=str(root / "runs"),
                              on_event=on_event, pool=pool)  # fmt: skip
    assert result.status == "finished", result
    return times


def data_seconds(data: Path, root: Path) -> float:
    """The dataset as the rounds load it, in this process, decoded anew."""
    from resnet_studio.core.data import load_dataset

    start = time.perf_counter()
    load_dataset(f"zip:{data}", root=root, val_size=100, seed=0, image_size=8)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    if not CIFAR_TEST_ZIP.is_file():
        sys.exit(f"needs {CIFAR_TEST_ZIP}")

    import resnet_studio.core.train  # noqa: F401 - the window has the engine imported
    from resnet_studio.core.engine_standby import EnginePool

    pool = EnginePool()
    rows: dict[str, list[dict[str, float]]] = {"cold": [], "standby": []}
    boots: list[float] = []
    datas: list[float] = []
    with tempfile.TemporaryDirectory(prefix="training-start-") as tmp:
        data = write_zip(Path(tmp) / "small.zip", args.images)
        try:
            for i in range(args.rounds):
                rows["cold"].append(one_round(None, data, Path(tmp) / f"cold{i}"))
                datas.append(data_seconds(data, Path(tmp) / f"data{i}"))
                booted = time.perf_counter()
                pool.warm()
                while pool.state() != "ready":  # the window does this while idle
                    time.sleep(0.01)
                boots.append(time.perf_counter() - booted)
                rows["standby"].append(one_round(pool, data, Path(tmp) / f"standby{i}"))
        finally:
            pool.close()
    data_s = statistics.median(datas)
    for mode_rows in rows.values():
        for r in mode_rows:
            r["data"], r["wait"] = data_s, r["first"] - data_s

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[mode])

    print(f"start requested -> event, median of {args.rounds} rounds, {args.images:,} JPEGs "
          f"decoded per round (s):")  # fmt: skip
    print(f"{'':<9}{'Loading':>9}{'RunStarted':>12}{'1st iter':>10}{'data':>8}{'wait':>8}")
    for mode in rows:
        print(f"{mode:<9}{median(mode, 'loading'):>9.2f}{median(mode, 'started'):>12.2f}"
              f"{median(mode, 'first'):>10.2f}{median(mode, 'data'):>8.2f}{median(mode, 'wait'):>8.2f}")
    for key, label in (("loading", "to Loading"), ("first", "to the 1st iteration"),
                       ("wait", "wait (1st iteration minus data)")):  # fmt: skip
        print(f"standby / cold, {label}: {median('standby', key) / median('cold', key):.2f}")
    print(f"standby boot (while idle, not waited for): median {statistics.median(boots):.2f} s")
    print("rounds:", {mode: [round(r["first"], 2) for r in rs] for mode, rs in rows.items()})


if __name__ == "__main__":
    main()
