"""The one-shot GPU benchmark (issue 13, item 5): four parts, one JSON file, one table.

    bash bench/gpu.sh [--out FILE] [--data DIR] [--parts b,a,c,d] [--a-compile auto]
    bash bench/gpu.sh --smoke --out /tmp/gpu.json    # the same code paths on the CPU, ~1 min

- (a) paper-cifar ResNet-20 on the CIFAR-10 JPEG zips, all 64,000 iterations, through
  `python -m resnet_studio train --device cuda --json` (core.train / RunTrainer):
  wall time from the launch (imports, decoding the 60k JPEGs into the device tensor,
  the compile if any, evaluations every 1000 iterations), test accuracy against the
  paper's 91.25 %. On CUDA the trainer already uses bf16 autocast and channels_last.
  Compile: ResNet-20 at batch 128 is ~40 MFLOPs an image, so a step is bound by kernel
  launches and Python, which inductor's fusions (BN, ReLU, the residual add) cut; it
  also costs tens of seconds up front. With `--a-compile auto` (b) measures our
  trainer eager and compiled, compile time apart, and (a) compiles only when that
  predicts a shorter run counting the compile (gpu_parts.choose_compile); the JSON
  says which and why. (a)'s compile runs with a cold inductor cache of its own and is
  counted in its wall time.
- (b) our trainer against the usual DataLoader loop, images/s, same model and batch:
  bench_train.measure (5,000 JPEGs of train.zip; the usual loop with 4 workers).
- (c) ResNet-50 training images/s at batch 256, bf16 autocast + channels_last,
  synthetic 224 px images, torch.compile off and on; compile time reported apart.
- (d) two DDP ranks through torchrun, as the README launches them: with one GPU both
  ranks on cuda:0 with gloo (NCCL refuses two ranks on one GPU), with two GPUs one rank
  each with NCCL; checks that the launch succeeds and that the run store holds one run,
  written once by rank 0, with sane metrics.

Order b, a, c, d: (b) decides (a)'s compile, and (a) is the long one. The whole stays
within `--budget-s` (480 s): each part has a cap (gpu_parts.make_plan), shortened so
that the later parts keep their minimum; a part past its cap is stopped (SIGTERM: a
training run checkpoints and ends "cancelled") and the JSON says so, with what it
measured until then ((a): a projected wall time). Every part's error is recorded in
the JSON and the other parts still run: (b) and (c) run in child processes of this
script, (a) and (d) are `train` processes. Exit status 0 only when every part is ok.

On the device machine (no package registry; torch, torchvision, numpy, Pillow and
safetensors are there; the checkout runs from PYTHONPATH, nothing is installed). The
working tree that travels is at most 64 MiB, carried paths included: the tracked
files are 3,742,395 bytes (`git ls-files -z | xargs -0 du -cb`, 2026-12-02) and the
zips 51,842,361 + 10,350,750 bytes, 65,935,506 bytes in all = 62.9 MiB of 64 MiB, so
carry nothing else (no .venv) and keep `git status` free of untracked files:

    mkdir -p .gpu-data && cp ../shared/data/cifar10-jpeg/{train,test}.zip .gpu-data/
    run(command="bash bench/gpu.sh --out $OUT/gpu.json", carry=[".gpu-data"], timeout_s=570)

`.gpu-data/` is git-ignored; `--data` defaults to it, else ../shared/data/cifar10-jpeg.
A rerun of single parts: `--parts c,d`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))  # bench_train, gpu_parts: scripts, not a package

import gpu_parts  # noqa: E402
from gpu_parts import PAPER_ACCURACY, PartFailed, Plan, make_plan  # noqa: E402

PARTS = ("b", "a", "c", "d")
MINIMUM_S = {"b": 40, "a": 60, "c": 90, "d": 45}  # kept for a later part when capping
TARGETS = {"a_wall_s": 180, "b_ours_over_usual": 3.0, "c_images_per_s": 3000}  # H100 class
SCHEMA = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (CI)")
    parser.add_argument("--out", help="the JSON file (default: $OUT/gpu.json if $OUT is set, "
                        "else bench/gpu-results.json)")
    parser.add_argument("--data", help="folder with train.zip and test.zip (default: "
                        ".gpu-data/ of the checkout, else ../shared/data/cifar10-jpeg)")
    parser.add_argument("--work", help="scratch folder: run stores, logs, caches (default: a temp dir)")
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts, in this order")
    parser.add_argument("--budget-s", type=float, help="the whole run's limit (default 480; smoke 300)")
    parser.add_argument("--a-compile", choices=["auto", "true", "false"], default="auto")
    parser.add_argument("--run-part", choices=["b", "c"], help=argparse.SUPPRESS)
    parser.add_argument("--part-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def data_folder(given: str | None) -> Path:
    candidates = [Path(given)] if given else [REPO / ".gpu-data",
                                              REPO / ".." / "shared" / "data" / "cifar10-jpeg"]
    for folder in candidates:
        if (folder / "train.zip").is_file() and (folder / "test.zip").is_file():
            return folder.resolve()
    raise SystemExit(f"gpu_bench: no train.zip and test.zip in {' or '.join(map(str, candidates))}; "
                     "copy the CIFAR-10 JPEG zips there or pass --data DIR")


def out_file(given: str | None) -> Path:
    if given:
        return Path(given)
    return Path(os.environ["OUT"]) / "gpu.json" if os.environ.get("OUT") else REPO / "bench" / "gpu-results.json"


def machine() -> dict[str, Any]:
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "gpus": gpus,
            "gpu_names": [torch.cuda.get_device_name(i) for i in range(gpus)],
            "cpu_count": os.cpu_count(), "platform": platform.platform()}


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Atomically, after every part: a driver killed later still leaves the parts done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the parts


def child_part(args: argparse.Namespace) -> int:
    """`--run-part b|c`: one in-process part; its result or traceback goes to --part-out."""
    plan, work, out = make_plan(args.smoke), Path(args.work), Path(args.part_out)
    work.mkdir(parents=True, exist_ok=True)

    def save(partial: dict[str, Any]) -> None:  # what a part has measured so far
        write_json(out, {"result": partial, "partial": True})

    try:
        if args.run_part == "b":
            payload = {"result": gpu_parts.part_b(plan, Path(args.data), work)}
        else:
            payload = {"result": gpu_parts.part_c(plan, save)}
    except Exception:  # noqa: BLE001 (recorded, the driver goes on)
        payload = {"error": traceback.format_exc()[-4000:]}
    write_json(out, payload)
    return 0


def in_child(part: str, plan: Plan, data: Path, work: Path, env: dict[str, str],
             cap_s: float) -> dict[str, Any]:
    out = work / f"{part}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--run-part", part,
               "--part-out", str(out), "--data", str(data), "--work", str(work / part)]
    command += ["--smoke"] if plan.smoke else []
    spawned = gpu_parts.spawn(command, env, cap_s, work / f"{part}-stderr.log")
    payload = json.loads(out.read_text()) if out.is_file() else {}
    if "result" in payload and not payload.get("partial"):
        return payload["result"]
    if "error" in payload:
        raise PartFailed(payload["error"], {})
    why = f"stopped at its cap of {cap_s:.0f} s" if spawned.timed_out else f"exit {spawned.returncode}"
    raise PartFailed(f"the part's process ended before its end ({why}); the figures are what it "
                     f"measured until then\n{spawned.stderr_tail}", payload.get("result", {}))


def compile_choice(args: argparse.Namespace, plan: Plan, b: dict[str, Any] | None) -> tuple[bool, str]:
    if args.a_compile != "auto":
        return args.a_compile == "true", f"--a-compile {args.a_compile}"
    if not b or not b.get("ok") or "ours_compiled" not in b.get("images_per_s", {}):
        return False, "eager: (b) measured no compiled trainer" + (
            f" ({b['compile_error'].splitlines()[0]})" if b and b.get("compile_error") else "")
    rates = b["images_per_s"]
    use, why = gpu_parts.choose_compile(plan.a_iterations, plan.a_batch, rates["ours"],
                                        rates["ours_compiled"], b["compile_s"])
    if plan.smoke:  # inductor's C++ code generation takes minutes on 2 cores
        return False, f"smoke: eager (on a GPU this would be {'compiled' if use else 'eager'}: {why})"
    return use, ("compiled: " if use else "eager: ") + why


def run_one(part: str, args: argparse.Namespace, plan: Plan, data: Path, work: Path,
            cap_s: float, report: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RESNET_STUDIO_DATA": str(work / "data"),
           # a cold compile cache per part, so every compile time is a first user's
           "TORCHINDUCTOR_CACHE_DIR": str(work / f"inductor-{part}")}
    started = time.monotonic()
    try:
        if part in ("b", "c"):
            result = in_child(part, plan, data, work, env, cap_s)
        elif part == "a":
            use, why = compile_choice(args, plan, report["parts"].get("b"))
            result = gpu_parts.part_a(plan, data, work, env, cap_s, use)
            result["compile_decision"] = why
        else:
            result = gpu_parts.part_d(plan, data, work, env, cap_s, report["machine"]["gpus"])
        result, error = {"ok": True, "error": None, **result}, None
    except PartFailed as exc:
        result, error = {"ok": False, **exc.result}, str(exc)
    except Exception:  # noqa: BLE001 (one part's bug must not cost the others)
        result, error = {"ok": False}, traceback.format_exc()[-4000:]
    result["error"] = error
    result["seconds"] = round(time.monotonic() - started, 2)
    result["cap_s"] = round(cap_s)
    result["target_met"] = None if plan.smoke else target_met(part, result)
    return result


def target_met(part: str, result: dict[str, Any]) -> bool | None:
    if not result.get("ok"):
        return False
    if part == "a":
        return result["wall_s"] <= TARGETS["a_wall_s"]
    if part == "b":
        return result["ours_over_usual"] >= TARGETS["b_ours_over_usual"]
    if part == "c":
        return max(result["images_per_s"].values()) >= TARGETS["c_images_per_s"]
    return True


# --------------------------------------------------------------------------- the table


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} img/s"


def summary_line(part: str, r: dict[str, Any]) -> str:
    if part == "a":
        acc = r.get("test_accuracy")
        acc_text = "-" if acc is None else f"{acc:.2%}"
        projected = f", projected {r['projected_wall_s']:.0f} s" if r.get("projected_wall_s") else ""
        return (f"ResNet-20 paper-cifar {r.get('iterations', 0)}/{r.get('planned_iterations')} it, "
                f"compile {r.get('compile')}: wall {r.get('wall_s', 0):.0f} s{projected} "
                f"(startup {r.get('startup_s') or 0:.0f} s, steps {r.get('train_s') or 0:.0f} s); "
                f"test acc {acc_text} vs paper {PAPER_ACCURACY:.2%} on the original CIFAR-10 "
                "(the JPEG copy costs published nets ~10 points; see its README)")
    if part == "b":
        rates = r.get("images_per_s", {})
        compiled = (f", ours compiled {_rate(rates['ours_compiled'])} "
                    f"(compile {r['compile_s']:.0f} s)") if "ours_compiled" in rates else ""
        return (f"ours {_rate(rates.get('ours'))} vs usual {_rate(rates.get('usual'))} = "
                f"{r.get('ours_over_usual', 0):.2f}x (bare {_rate(rates.get('bare'))}){compiled}")
    if part == "c":
        rates = r.get("images_per_s", {})
        compile_s = f" (compile {r['compile_s']:.0f} s)" if r.get("compile_s") is not None else ""
        return (f"{r.get('model')} b{r.get('batch')} {r.get('image_size')} px bf16+CL: eager "
                f"{_rate(rates.get('eager'))}, compiled {_rate(rates.get('compiled'))}{compile_s}")
    checks = r.get("checks", {})
    return (f"{r.get('ranks')} ranks on {r.get('device')} ({r.get('backend')}): "
            f"{sum(checks.values())}/{len(checks)} checks, {r.get('run_folders')} run folder, "
            f"records at {r.get('metrics_iterations')}")


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    where = ", ".join(m["gpu_names"]) or f"CPU ({m['cpu_count']} cores)"
    lines = [f"GPU benchmark, {report['mode']} mode: {where}, torch {m['torch']}, "
             f"{report.get('wall_s', 0):.0f} s; JSON: {report['out']}",
             f"{'part':<5} {'ok':<5} {'target':<24} result"]
    targets = {"a": "<= 180 s (H100 class)", "b": ">= 3x", "c": ">= 3,000 img/s",
               "d": "launch + metrics"}
    for part, r in report["parts"].items():
        met = {True: "met", False: "missed", None: "-"}[r.get("target_met")]
        measured = set(r) - {"ok", "error", "seconds", "cap_s", "target_met"}
        lines.append(f"({part})   {'yes' if r['ok'] else 'NO':<5} {targets[part] + ' ' + met:<24} "
                     f"{summary_line(part, r) if measured else '-'}")
        if r["error"]:
            lines.append("      error: " + r["error"].strip().splitlines()[-1][:300])
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run_part:
        return child_part(args)
    t0 = time.monotonic()
    plan, data, out = make_plan(args.smoke), data_folder(args.data), out_file(args.out)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    budget = args.budget_s or (300.0 if args.smoke else 480.0)
    order = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := [p for p in order if p not in PARTS]:
        raise SystemExit(f"gpu_bench: unknown part(s) {unknown}; choose from {','.join(PARTS)}")
    report: dict[str, Any] = {
        "schema": SCHEMA, "mode": "smoke" if args.smoke else "gpu",
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv, "out": str(out), "work": str(work),
        "data": {"dir": str(data), **{z: (data / z).stat().st_size for z in ("train.zip", "test.zip")}},
        "budget_s": budget, "targets": TARGETS, "plan": dataclasses.asdict(plan), "machine": machine(),
        "error": None, "parts": {},
    }
    if not args.smoke and report["machine"]["gpus"] == 0:
        report["error"] = "no CUDA GPU is visible (torch.cuda.is_available() is False); on a CPU run --smoke"
    for i, part in enumerate(order):
        if report["error"]:
            report["parts"][part] = {"ok": False, "error": f"skipped: {report['error']}", "target_met": False}
            continue
        left = budget - (time.monotonic() - t0) - sum(MINIMUM_S[p] for p in order[i + 1:])
        cap = min(plan.caps[part], left)
        if cap < 15:
            report["parts"][part] = {"ok": False, "target_met": False,
                                     "error": f"skipped: {left:.0f} s of the {budget:.0f} s budget left"}
        else:
            print(f"gpu_bench: part ({part}), at most {cap:.0f} s ...", file=sys.stderr, flush=True)
            report["parts"][part] = run_one(part, args, plan, data, work, cap, report)
        report["wall_s"] = time.monotonic() - t0
        write_json(out, report)
    report["wall_s"] = time.monotonic() - t0
    write_json(out, report)
    print(table(report))
    return 0 if not report["error"] and all(r["ok"] for r in report["parts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
