"""The four parts of the GPU benchmark (bench/gpu_bench.py drives them; read it first).

(b) and (c) run inside a child process of the driver (`gpu_bench.py --run-part b`), so
a crash, a hang or a poisoned CUDA context in one costs only that part; (a) and (d)
spawn `resnet-studio train` (and torchrun) themselves and read what it prints and
writes. Every part returns a dict of plain numbers for the JSON; a part that fails
raises, and the driver records the error.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.core.runs.layout import CONFIG, METRICS, STATUS
from resnet_studio.core.training_events import (
    Evaluated,
    Progressed,
    RunEnded,
    RunStarted,
    event_from_json,
)

PAPER_ACCURACY = 0.9125  # Table 6: ResNet-20, 8.75 % test error on the original CIFAR-10
CIFAR_NET = "cifar-resnet20"


@dataclass(frozen=True)
class Plan:
    """Sizes of every part: the real ones on a GPU, tiny ones for the CPU smoke mode."""

    smoke: bool
    device: str  # what `train --device` gets for (a): cuda or cpu
    compile_backend: str  # inductor on a GPU; eager (a trace, no codegen) in the smoke
    a_flags: tuple[str, ...]  # train flags beyond the paper-cifar recipe
    data_flags: tuple[str, ...]  # for (a) and (d): a validation split the data can hold
    a_iterations: int
    a_batch: int
    b_images: int
    b_batch: int
    b_steps: int
    b_rounds: int
    b_workers: int
    c_model: str
    c_batch: int
    c_size: int
    c_warmup: int
    c_steps: int
    d_iterations: int
    d_log_every: int
    d_batch: int
    caps: dict[str, float] = field(default_factory=dict)  # seconds each part may take


def make_plan(smoke: bool) -> Plan:
    if smoke:  # about a minute on 2 cores; every code path of the real run
        return Plan(
            smoke=True, device="cpu", compile_backend="eager",
            a_flags=("--iters", "20", "--eval-every", "10", "--log-every", "5",
                     "--batch-size", "16"),
            data_flags=("--val-size", "20"), a_iterations=20, a_batch=16,
            b_images=100, b_batch=16, b_steps=3, b_rounds=1, b_workers=1,
            c_model="resnet50", c_batch=2, c_size=32, c_warmup=1, c_steps=2,
            d_iterations=10, d_log_every=5, d_batch=16,
            caps={"b": 150, "a": 150, "c": 150, "d": 150})
    # (a) is section 4.2 as the paper-cifar recipe has it: 64k iterations of batch 128,
    # 45k/5k split, evaluated every 1000 iterations.
    return Plan(
        smoke=False, device="cuda", compile_backend="inductor", a_flags=(), data_flags=(),
        a_iterations=64_000, a_batch=128,
        b_images=5000, b_batch=128, b_steps=100, b_rounds=3, b_workers=4,
        c_model="resnet50", c_batch=256, c_size=224, c_warmup=5, c_steps=30,
        d_iterations=400, d_log_every=20, d_batch=128,
        caps={"b": 150, "a": 330, "c": 160, "d": 120})


def choose_compile(iterations: int, batch: int, eager_ips: float, compiled_ips: float,
                   compile_s: float) -> tuple[bool, str]:
    """Compile (a) when (b)'s figures predict a shorter run counting the compile time,
    by more than 5 % (the prediction's own noise)."""
    eager = iterations * batch / eager_ips
    compiled = compile_s + iterations * batch / compiled_ips
    use = compiled < 0.95 * eager
    return use, (f"(b) predicts {compiled:.0f} s compiled ({compile_s:.0f} s of it compiling) "
                 f"against {eager:.0f} s eager for {iterations} iterations")


# --------------------------------------------------------------------------- (b), (c)


def part_b(plan: Plan, data: Path, work: Path) -> dict[str, Any]:
    """Our trainer against the usual DataLoader loop (bench_train.measure), and our
    trainer compiled, which also decides whether (a) compiles."""
    import bench_train
    import torch

    from resnet_studio.core.device import resolve_device

    device = resolve_device(plan.device)
    folder = bench_train.extract_subset(data / "train.zip", plan.b_images // 10, work)
    kwargs = dict(batch=plan.b_batch, steps=plan.b_steps, rounds=plan.b_rounds,
                  workers=plan.b_workers)  # fmt: skip
    compile_error = None
    try:
        found = bench_train.measure(CIFAR_NET, folder, work, device,
                                    compile_backend=plan.compile_backend, **kwargs)
    except Exception as exc:  # noqa: BLE001 (the compiled phase broke: keep the others)
        compile_error = f"{type(exc).__name__}: {exc}"[:2000]
        found = bench_train.measure(CIFAR_NET, folder, work, device, **kwargs)
    median = found.median
    result: dict[str, Any] = {
        "model": CIFAR_NET, "batch": plan.b_batch, "images": plan.b_images,
        "steps": plan.b_steps, "rounds": plan.b_rounds, "usual_workers": plan.b_workers,
        "amp": found.amp, "channels_last": found.channels_last,
        "images_per_s": {k: round(v, 1) for k, v in median.items()},
        "per_round": {k: [round(v, 1) for v in vs] for k, vs in found.rounds.items()},
        "ours_over_usual": median["ours"] / median["usual"],
        "ours_over_bare": median["ours"] / median["bare"],
        "compile_backend": plan.compile_backend, "compile_s": found.compile_s,
        "compile_error": compile_error, "torch_threads": torch.get_num_threads(),
    }
    if "ours_compiled" in median:
        result["compiled_over_ours"] = median["ours_compiled"] / median["ours"]
    return result


def part_c(plan: Plan, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """ResNet-50 training images/s on synthetic images, bf16 autocast + channels_last,
    eager and compiled; the compile time is measured apart and excluded. `save` gets
    the eager figures before the compile starts, so a compile stopped at the part's
    cap still leaves them."""
    import torch
    from bench_train import images_per_second, sync
    from torch import nn

    from resnet_studio.core.device import resolve_device
    from resnet_studio.core.models import create_model

    device = resolve_device(plan.device)
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    torch.manual_seed(0)
    model = create_model(plan.c_model).to(device).to(memory_format=torch.channels_last)
    x = torch.randn(plan.c_batch, 3, plan.c_size, plan.c_size, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (plan.c_batch,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def stepper(forward: Any) -> Any:
        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(forward(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return step

    def timed(step: Any) -> float:
        for _ in range(plan.c_warmup):
            step()
        return images_per_second(step, plan.c_steps, plan.c_batch, device)

    eager = timed(stepper(model))
    result: dict[str, Any] = {
        "model": plan.c_model, "batch": plan.c_batch, "image_size": plan.c_size,
        "steps": plan.c_steps, "warmup": plan.c_warmup, "amp": "bf16", "channels_last": True,
        "cudnn_benchmark": True, "compile_backend": plan.compile_backend,
        "images_per_s": {"eager": round(eager, 1)}, "compile_s": None, "compile_error": None,
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    save(result)
    try:
        compiled = stepper(torch.compile(model, backend=plan.compile_backend))
        sync(device)
        started = time.perf_counter()
        compiled()  # traces and compiles forward and backward: measured apart
        sync(device)
        first = time.perf_counter() - started
        rate = timed(compiled)
        result["images_per_s"]["compiled"] = round(rate, 1)
        result["compile_s"] = max(first - plan.c_batch / rate, 0.0)
        result["compiled_over_eager"] = rate / eager
    except Exception as exc:  # noqa: BLE001 (eager figures stand; the JSON says why)
        result["compile_error"] = f"{type(exc).__name__}: {exc}"[:2000]
    return result


# --------------------------------------------------------------------------- (a), (d)


@dataclass
class Spawned:
    """What a child process did: exit code, whether its cap stopped it, its stdout lines
    with the second each arrived, and the tail of its stderr."""

    returncode: int | None
    timed_out: bool
    lines: list[tuple[float, str]]
    wall_s: float
    stderr_tail: str


def spawn(command: list[str], env: dict[str, str], cap_s: float, log: Path) -> Spawned:
    """Run `command` in its own process group, reading stdout as it comes; past `cap_s`
    the group gets SIGTERM (train stops after its step, with a checkpoint), then SIGKILL."""
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with open(log, "w") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                env=env, start_new_session=True)

        def read() -> None:
            for line in proc.stdout:
                lines.append((time.monotonic() - started, line))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=max(cap_s, 1))
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        reader.join(timeout=10)
    lines_err = log.read_text(errors="replace").splitlines()
    # the CLI's own messages first ("error: ..." from every rank), then the last lines
    said = list(dict.fromkeys(line for line in lines_err if line.startswith("error: ")))
    tail = "\n".join(said + lines_err[-20:])
    return Spawned(proc.returncode, timed_out, lines, time.monotonic() - started, tail)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(proc.pid, sig)  # the group this call started (torchrun and its ranks)


def events_of(spawned: Spawned) -> list[tuple[float, Any]]:
    """The training events among the lines (train --json), with their arrival times."""
    found = []
    for at, line in spawned.lines:
        try:
            found.append((at, event_from_json(json.loads(line))))
        except ValueError:  # not an event (a warning on stdout): not ours to judge
            continue
    return found


def train_args(plan: Plan, data: Path, runs: Path, *flags: str) -> list[str]:
    """`-m resnet_studio train ...` for ResNet-20 on the zips: what python and torchrun take."""
    return ["-m", "resnet_studio", "train", "--model", CIFAR_NET, "--recipe", "paper-cifar",
            "--dataset", f"zip:{data / 'train.zip'}", "--runs-dir", str(runs), "--json",
            *plan.data_flags, *flags]


def part_a(plan: Plan, data: Path, work: Path, env: dict[str, str], cap_s: float,
           compile_on: bool) -> dict[str, Any]:
    """The paper's ResNet-20 recipe through `resnet-studio train`, timed from the launch."""
    runs = work / "runs-a"
    command = [sys.executable, *train_args(plan, data, runs, "--device", plan.device,
                                           "--compile", str(compile_on).lower(), *plan.a_flags)]
    spawned = spawn(command, env, cap_s, work / "a-stderr.log")
    events = events_of(spawned)
    started = [at for at, e in events if isinstance(e, RunStarted)]
    windows = [e for _, e in events if isinstance(e, Progressed)]
    evals = [e for _, e in events if isinstance(e, Evaluated) and e.test_error is not None]
    ended = [e for _, e in events if isinstance(e, RunEnded)]
    steps = [b.wall_time - a.wall_time for a, b in zip(windows, windows[1:], strict=False)]
    result: dict[str, Any] = {
        "command": " ".join(command), "model": CIFAR_NET, "recipe": "paper-cifar",
        "planned_iterations": plan.a_iterations, "batch": plan.a_batch, "compile": compile_on,
        "wall_s": spawned.wall_s, "timed_out": spawned.timed_out, "exit_code": spawned.returncode,
        "startup_s": started[0] if started else None,  # launch, imports, data, model
            "train_s": windows[-1].wall_time if windows else None,  # inside the steps only
        "iterations": windows[-1].iteration if windows else 0,
        "status": ended[-1].status if ended else None,
        "images_per_s_median": statistics.median(e.images_per_s for e in windows) if windows else None,
        # the first window holds the compile (and cuDNN's first calls): beyond a steady one
        "first_window_extra_s": max(windows[0].wall_time - statistics.median(steps), 0.0)
        if steps else None,
        "test_accuracy": 1 - evals[-1].test_error if evals else None,
        "best_test_accuracy": 1 - min(e.test_error for e in evals) if evals else None,
        "paper_accuracy": PAPER_ACCURACY,
    }
    if windows and result["startup_s"] is not None and windows[-1].iteration < plan.a_iterations:
        rate = windows[-1].iteration / max(windows[-1].wall_time, 1e-9)
        result["projected_wall_s"] = result["startup_s"] + plan.a_iterations / rate
    folders = run_folders(runs)
    result["run"] = str(folders[0]) if folders else None
    if spawned.returncode != 0 or result["status"] != "finished" or not evals:
        reason = ended[-1].reason if ended else ""
        cap = f"stopped at its cap of {cap_s:.0f} s; " if spawned.timed_out else ""
        ending = (f"the run ended {result['status']}" if ended
                  else "train exited before the run ended")
        raise PartFailed(f"{cap}{ending} (exit {spawned.returncode}){': ' + reason if reason else ''}"
                         f"\n{spawned.stderr_tail}", result)
    return result


def run_folders(runs: Path) -> list[Path]:
    return sorted(p.parent for p in runs.glob(f"*/{CONFIG}")) if runs.is_dir() else []


def part_d(plan: Plan, data: Path, work: Path, env: dict[str, str], cap_s: float,
           gpus: int) -> dict[str, Any]:
    """Two DDP ranks through torchrun, as the README launches them; then the run store
    must hold one run, written once (rank 0), with sane metrics."""
    if plan.device == "cpu":
        device, backend, why = "cpu", "gloo", "the CPU smoke: two CPU processes, gloo"
    elif gpus >= 2:
        device, backend, why = "cuda", "nccl", "two GPUs: one rank each, NCCL"
    else:  # NCCL refuses two ranks on one GPU ("Duplicate GPU detected")
        device, backend, why = "cuda:0", "gloo", (
            "one GPU: both ranks on cuda:0; an explicit cuda:N makes core.distributed choose "
            "gloo, which all-reduces CUDA tensors through the host, where NCCL refuses a "
            "GPU shared by two ranks")
    runs = work / "runs-d"
    n, every = plan.d_iterations, plan.d_log_every
    flags = ("--device", device, "--iters", str(n), "--log-every", str(every),
             "--eval-every", str(n), "--batch-size", str(plan.d_batch))
    # torchrun's own module, so the ranks run this very interpreter (the README's
    # `torchrun` is the same entry point); --standalone picks a free port
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", *train_args(plan, data, runs, *flags)]
    spawned = spawn(command, env, cap_s, work / "d-stderr.log")
    events = [e for _, e in events_of(spawned)]
    folders = run_folders(runs)
    config = json.loads((folders[0] / CONFIG).read_text()) if len(folders) == 1 else {}
    status = json.loads((folders[0] / STATUS).read_text()) if len(folders) == 1 else {}
    records = ([json.loads(line) for line in (folders[0] / METRICS).read_text().splitlines()]
               if len(folders) == 1 and (folders[0] / METRICS).exists() else [])
    iterations = [r["iteration"] for r in records]
    tests = [r["test_error"] for r in records if "test_error" in r]
    checks = {
        "launch_exit_0": spawned.returncode == 0 and not spawned.timed_out,
        "one_run_folder": len(folders) == 1,
        "world_size_2": config.get("world_size") == 2,
        "status_finished": status.get("status") == "finished",
        "records_once_each": iterations == list(range(every, n + 1, every)),
        "one_started_event": sum(isinstance(e, RunStarted) for e in events) == 1,
        "losses_finite": bool(records) and all(math.isfinite(r["loss"]) for r in records),
        "errors_in_0_1": bool(tests) and all(0 <= r["train_error"] <= 1 for r in records)
        and all(0 <= t <= 1 for t in tests),
    }
    result = {
        "command": " ".join(command), "device": device, "backend": backend, "why": why,
        "gpus": gpus, "ranks": config.get("world_size"), "run_folders": len(folders),
        "metrics_iterations": iterations, "status": status.get("status"),
        "final_loss": records[-1]["loss"] if records else None,
        "test_accuracy": 1 - tests[-1] if tests else None,
        "images_per_s_median": statistics.median(r["images_per_s"] for r in records)
        if records else None,
        "wall_s": spawned.wall_s, "checks": checks,
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise PartFailed(f"checks failed: {', '.join(failed)} (exit {spawned.returncode})\n"
                         f"{spawned.stderr_tail}", result)
    return result


class PartFailed(Exception):
    """A part ran but its outcome is wrong: the message says how, `result` holds what
    was measured anyway (it goes into the JSON beside the error)."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result
