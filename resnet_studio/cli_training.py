"""`resnet-studio train` and `resnet-studio runs`: options, progress and tables."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from resnet_studio.core.eta import format_eta
from resnet_studio.core.recipes import RECIPES, Recipe
from resnet_studio.core.training_events import (
    Evaluated,
    Loading,
    Progressed,
    RunEnded,
    RunStarted,
    TrainingEvent,
)

# Recipe fields with a short flag of their own in the issue's spelling.
_ALIASES = {"iterations": ["--iters", "--iterations"]}


def add_train_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    train = commands.add_parser(
        "train",
        help="train one network or a comparison",
        description="Train on the CPU or GPU; runs are kept in the run store "
        "(`resnet-studio runs`). Under `torchrun --nproc_per_node=N` it trains with DDP.",
    )
    train.add_argument("--model", help="zoo name, e.g. cifar-resnet56")
    train.add_argument("--compare", nargs="+", default=[], metavar="NAME",
                       help="more networks trained on the same batches, interleaved")
    train.add_argument("--shortcut", choices=["A", "B", "C"],
                       help="shortcut option of the residual nets (Table 3)")
    train.add_argument("--zero-init-residual", action="store_true")
    train.add_argument("--recipe", default="quick", choices=list(RECIPES))
    train.add_argument("--resume", nargs="+", metavar="RUN",
                       help="continue runs (folder or name) from their last checkpoint")
    train.add_argument("--from-checkpoint", type=int, metavar="ITERATION",
                       help="with --resume: continue from the kept checkpoint of this "
                       "iteration instead of the latest (when the latest is damaged)")
    train.add_argument("--runs-dir", help="where runs are stored (default: "
                       "$RESNET_STUDIO_RUNS_DIR or the user data folder)")
    train.add_argument("--json", action="store_true", help="print one JSON event per line")
    fields = train.add_argument_group("recipe fields (override the recipe's values)")
    for field in dataclasses.fields(Recipe):
        if field.name == "name":
            continue
        flags = _ALIASES.get(field.name, [f"--{field.name.replace('_', '-')}"])
        fields.add_argument(*flags, dest=f"recipe_{field.name}", metavar="VALUE", default=None,
                            help=_field_help(field))
    train.set_defaults(run=run_train)
    return train


def _field_help(field: dataclasses.Field) -> str:
    default = getattr(RECIPES["quick"], field.name)
    return f"quick: {default}"


def recipe_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from resnet_studio.core.recipes import parse_field

    overrides = {}
    for field in dataclasses.fields(Recipe):
        text = getattr(args, f"recipe_{field.name}", None)
        if text is not None:
            overrides[field.name] = parse_field(field.name, text)
    return overrides


def run_train(args: argparse.Namespace) -> int:
    from resnet_studio.core.train import TrainControl

    overrides = recipe_overrides(args)
    printer = JsonPrinter() if args.json else ProgressPrinter(sys.stderr)
    control = TrainControl()
    with stop_on_interrupt(control):
        results = _train_or_resume(args, overrides, printer, control)
    if not args.json:
        printer.close()
        print_results_table(results, sys.stdout)
    return 0 if all(r.status == "finished" for r in results) else 1


@contextlib.contextmanager
def stop_on_interrupt(control: Any) -> Iterator[None]:
    """Ctrl+C (or SIGTERM) stops after the current step, as the window's Stop does:
    every run ends "cancelled" with a checkpoint, ready for --resume. A second Ctrl+C
    aborts at once (the runs keep their last periodic checkpoint)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if control.stopped:
            raise KeyboardInterrupt
        print("\nstopping after this step, with a checkpoint (Ctrl+C again aborts)…",
              file=sys.stderr, flush=True)  # fmt: skip
        control.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _train_or_resume(args: argparse.Namespace, overrides: dict, printer: Any, control: Any) -> list:
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.models import parse_name
    from resnet_studio.core.recipes import get_recipe
    from resnet_studio.core.train import ModelChoice, resume, train

    if args.resume:
        results = resume(args.resume, runs_dir=args.runs_dir, overrides=overrides,
                         on_event=printer, from_checkpoint=args.from_checkpoint, control=control)  # fmt: skip
    else:
        if args.from_checkpoint is not None:
            raise StudioError("--from-checkpoint goes with --resume RUN")
        if not args.model:
            raise StudioError("train needs --model NAME (or --resume RUN)")
        recipe = get_recipe(args.recipe).with_overrides(**overrides)
        choices = [ModelChoice(name, shortcut=None if parse_name(name).plain else args.shortcut,
                               zero_init_residual=args.zero_init_residual)
                   for name in [args.model, *args.compare]]
        results = train(choices, recipe, runs_dir=args.runs_dir, on_event=printer, control=control)
    return results


class JsonPrinter:
    """`train --json`: each event as one JSON object a line (`TrainingEvent.to_json`)."""

    def __call__(self, event: TrainingEvent) -> None:
        print(json.dumps(event.to_json()), flush=True)


class ProgressPrinter:
    """One progress line per run: redrawn in place on a terminal, else printed
    every few seconds so logs stay readable."""

    def __init__(self, stream: TextIO, interval_s: float = 5.0) -> None:
        self.stream, self.interval_s = stream, interval_s
        self.tty = stream.isatty()
        self.lines: dict[str, str] = {}
        self._drawn = 0
        self._last_print: dict[str, float] = {}
        self._windows: dict[str, Progressed] = {}  # each run's last training window
        self._dataset = ""

    def __call__(self, event: TrainingEvent) -> None:
        match event:
            case Loading():
                self._say(event.describe(), transient=True)
            case RunStarted():
                if event.dataset and event.dataset != self._dataset:  # once per comparison
                    self._dataset = event.dataset
                    self._say(f"data: {event.dataset}")
                self.lines[event.run] = f"{event.model:<22} starting at iteration {event.iteration}"
                self._redraw(event.run, force=True)
            case Progressed():
                self._windows[event.run] = event
                self.lines[event.run] = _progress_line(event)
                self._redraw(event.run)
            case Evaluated() if event.run in self._windows:
                # the errors join the line of the window they were measured after
                self.lines[event.run] = _progress_line(self._windows[event.run], event)
                self._redraw(event.run)
            case RunEnded():
                line = self.lines.get(event.run, event.run)
                reason = f": {event.reason}" if event.reason else ""
                self.lines[event.run] = f"{line}  [{event.status}{reason}]"
                self._redraw(event.run, force=True)

    def _say(self, text: str, transient: bool = False) -> None:
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}" if transient else f"{text}\n")
            self.stream.flush()
        elif not transient:
            print(text, file=self.stream, flush=True)

    def _redraw(self, run: str, force: bool = False) -> None:
        if not self.tty:
            now = time.monotonic()
            if force or now - self._last_print.get(run, 0.0) >= self.interval_s:
                self._last_print[run] = now
                print(self.lines[run], file=self.stream, flush=True)
            return
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        self.stream.write("\r\x1b[K")
        for line in self.lines.values():
            self.stream.write(f"\x1b[K{line}\n")
        self._drawn = len(self.lines)
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _progress_line(window: Progressed, evaluated: Evaluated | None = None) -> str:
    done, total = window.iteration, window.total_iterations
    width = 24
    filled = int(width * done / max(total, 1))
    bar = "#" * filled + "-" * (width - filled)
    errors = (("val", evaluated.val_error), ("test", evaluated.test_error)) if evaluated else ()
    evals = "".join(f"  {label} {error:6.2%}" for label, error in errors if error is not None)
    return (f"{window.run:<34} [{bar}] {done}/{total}  loss {window.loss:.3f}  "
            f"train err {window.train_error:6.2%}{evals}  {window.images_per_s:7.0f} img/s  "
            f"ETA {format_eta(window.eta_s)}")


def print_results_table(results: list, stream: TextIO) -> None:
    print(f"\n{'run':<36} {'model':<22} {'status':<10} {'iters':>7} {'loss':>7} "
          f"{'train err':>9} {'val err':>8} {'test err':>8}", file=stream)
    for r in results:
        last = r.last
        print(f"{r.name:<36} {r.model:<22} {r.status:<10} {r.iterations:>7} "
              f"{_number(last.get('loss'), '.3f'):>7} {_number(last.get('train_error'), '.2%'):>9} "
              f"{_number(last.get('val_error'), '.2%'):>8} {_number(last.get('test_error'), '.2%'):>8}",
              file=stream)
        if r.reason:
            print(f"    {r.reason}", file=stream)


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def add_runs_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    runs = commands.add_parser("runs", help="list the runs in the run store")
    runs.add_argument("--runs-dir", help="default: $RESNET_STUDIO_RUNS_DIR or the user data folder")
    runs.add_argument("--json", action="store_true", help="one JSON object per run")
    runs.add_argument("names", nargs="*", metavar="RUN",
                      help="with --export-grad-norms: the runs to export (default: every run)")
    runs.add_argument("--export-grad-norms", metavar="OUT.csv",
                      help="write the runs' gradient norms by layer and window as CSV "
                      "(run, model, iteration, epoch, layer, depth, grad_norm)")
    runs.set_defaults(run=run_runs)
    return runs


def run_runs(args: argparse.Namespace) -> int:
    from resnet_studio.core.runs import default_runs_dir, list_runs

    if args.export_grad_norms:
        return export_grad_norms(args.names, args.export_grad_norms, args.runs_dir)
    if args.names:
        from resnet_studio.core.errors import StudioError

        raise StudioError("run names go with --export-grad-norms OUT.csv; `runs` alone lists them all")
    summaries = list_runs(args.runs_dir)
    if args.json:
        for s in summaries:
            row = dataclasses.asdict(s)
            row["path"] = str(s.path)
            for key in ("created", "updated"):
                row[key] = row[key].isoformat() if row[key] else None
            print(json.dumps(row))
        return 0
    if not summaries:
        print(f"no runs in {args.runs_dir or default_runs_dir()}")
        return 0
    print(f"{'run':<36} {'model':<18} {'dataset':<10} {'status':<10} {'iters':>13} "
          f"{'best val':>8} {'best test':>9} {'final train':>11}")
    for s in summaries:
        status = "killed" if s.stale else s.status
        iters = f"{s.iterations or 0}/{s.total_iterations or '?'}"
        print(f"{s.name:<36} {s.model or '?':<18} {s.dataset or '?':<10} {status:<10} {iters:>13} "
              f"{_number(s.best_val_error, '.2%'):>8} {_number(s.best_test_error, '.2%'):>9} "
              f"{_number(s.final_train_error, '.2%'):>11}")
        if s.reason:
            print(f"    {s.reason}")
    return 0


def export_grad_norms(names: list[str], out: str, runs_dir: str | None) -> int:
    """`runs --export-grad-norms OUT.csv [RUN ...]`: one CSV row per run, window and
    layer (app.training.write_grad_norms_csv), from the runs' metrics.jsonl."""
    from resnet_studio.app.training import write_grad_norms_csv
    from resnet_studio.app.training.session import stored_series
    from resnet_studio.core.errors import StudioError
    from resnet_studio.core.runs import default_runs_dir, list_runs, open_run

    names = names or [s.name for s in list_runs(runs_dir)]
    if not names:
        raise StudioError(f"no runs to export in {runs_dir or default_runs_dir()}")
    series = [stored_series(open_run(name, runs_dir)) for name in names]
    try:
        rows = write_grad_norms_csv(out, series)
    except OSError as exc:
        raise StudioError(f"could not write {out}: {exc}") from exc
    without = [s.name for s in series if not s.grad_norms]
    print(f"wrote {rows:,} rows ({len(series) - len(without)} of {len(series)} runs) to {out}")
    if without:
        print(f"no gradient norms recorded in: {', '.join(without)} (trained with "
              "--grad-norms false, or before they were recorded)")
    return 0
