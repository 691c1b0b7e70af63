"""The run-store side of the Training panel: the runs table, the curves of ticked runs,
and the watch on the folder that other processes write.

The panel trains; this binds what the store holds to what is drawn:
- `refresh` asks for the store's listing, which the next poll brings (in ~0.2 s), and
  fills the table with it (the rows of the panel's own job and of runs trained
  elsewhere then get their live figures again); `when_listed` runs something on
  the rows once they are in;
- ticking a row draws its curves (`show_run`: read from its metrics.jsonl), and
  untick hides them;
- a `RunStoreWatcher` polls the folder off the GUI thread about once a second: new
  runs appear without a click, status changes show, ticked runs grow, a deleted run
  leaves the table and its curves go, and a folder that does not answer is a line in
  the table's header, never a dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Slot

from resnet_studio.app.training.session import TrainingSession
from resnet_studio.app.training.watch import WatchOutcome
from resnet_studio.core.errors import StudioError
from resnet_studio.core.runs import RunSummary, delete_run, open_run
from resnet_studio.gui import settings
from resnet_studio.gui.plots import TrainingPlots
from resnet_studio.gui.run_list import RunsTable
from resnet_studio.gui.run_watcher import RunStoreWatcher


class RunsBinding(QObject):
    """Binds `runs` (the table) and `plots` to the session and the store. Messages go
    to `show_message(text, kind)`; `own_runs()` names the runs of the panel's job
    while it trains (their points come from its events, so they are not polled)."""

    def __init__(self, session: TrainingSession, plots: TrainingPlots, runs: RunsTable,
                 show_message: Callable[..., None], own_runs: Callable[[], Iterable[str]],
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session, self.plots, self.runs = session, plots, runs
        self._show_message = show_message
        self.watcher = RunStoreWatcher(session, plots.run_names, own_runs, runs.isVisible, self)
        self.watcher.outcome_ready.connect(self._on_watcher_outcome_ready)
        self.watcher.waiting.connect(self._on_watcher_waiting)
        runs.overlay_toggled.connect(self._on_runs_overlay_toggled)
        runs.refresh_requested.connect(self._on_runs_refresh_requested)
        self._after_listing: list[Callable[[Sequence[RunSummary]], None]] = []

    def set_folder(self, folder: str | Path) -> None:
        """Show and watch another runs folder."""
        self.session.runs_dir = Path(folder)
        self.watcher.set_folder(folder)
        self.runs.show_problem("")
        self.runs.load([])  # the rows of the previous folder; the next listing fills it

    def shutdown(self) -> None:
        self.watcher.stop()

    def refresh(self) -> None:
        """List the run store again, in the watcher's worker: even a cheap listing
        (config.json + status.json per run) blocks for as long as a hard network
        mount does not answer, and the window must not. A folder that cannot be
        read keeps the rows shown and says so in the table's header."""
        self.session.table_stale = False
        self.watcher.request_listing()

    def when_listed(self, action: Callable[[Sequence[RunSummary]], None]) -> None:
        """Run ``action(summaries)`` once the next listing is in the table."""
        self._after_listing.append(action)

    def listing_due(self) -> bool:
        """Whether the table waits for a listing (asked for, not in yet)."""
        return bool(self._after_listing) or self.watcher.listing_due()

    def _load(self, summaries: Iterable[RunSummary]) -> None:
        summaries = list(summaries)
        listed = {s.name for s in summaries}
        for name in self.plots.run_names():
            if name not in listed and name not in self.session.live:
                self._gone(name)  # deleted by another process (or by hand)
        shown = self.plots.run_names()
        self.runs.load(summaries, checked=shown,
                       colors={name: self.plots.color_of(name) for name in shown})  # fmt: skip
        self.session.touch_live()  # the rows were rebuilt from the store: refill them
        for name, live in self.watcher.watch.external.items():
            self.runs.set_live(name, live)
        for name, live in self.session.live.items():
            if name not in shown and live.shown:
                self.show_run(name)

    def delete(self, names: list[str]) -> None:
        """Delete without asking (the dialog is the panel's job)."""
        for name in names:
            self.hide_run(name)
            self.session.forget(name)
            try:
                delete_run(name, self.session.runs_dir)
            except (StudioError, OSError) as exc:
                self._show_message(str(exc), "error")
        self.refresh()

    # ------------------------------------------------------------------ overlays
    def show_run(self, name: str) -> bool:
        """Draw a run's curves; a past run's points come from its metrics.jsonl."""
        try:
            series = self.session.series_for(name)
        except (StudioError, OSError) as exc:
            self._show_message(str(exc), "error")
            return False
        self.session.set_shown(name, True)
        color = self.plots.add_run(series)
        self.runs.set_color(name, color)
        self.runs.set_checked(name, True)
        return True

    def show_newest_comparison(self, summaries: Sequence[RunSummary]) -> None:
        """Draw the runs of the newest run's comparison (one run per net it names),
        found among ``summaries`` (a listing, newest first)."""
        if not summaries:
            return
        wanted = open_run(summaries[0].name, self.session.runs_dir).config.get("comparison") or []
        for label in wanted:
            match = next((r for r in summaries if r.model == label or r.name.endswith(label)), None)
            if match is not None:
                self.show_run(match.name)

    def hide_run(self, name: str) -> None:
        self.plots.remove_run(name)
        self.runs.set_color(name, None)
        self.runs.set_checked(name, False)
        self.session.set_shown(name, False)

    def restore_overlays(self) -> None:
        """Tick again the runs that were ticked when the app last closed."""
        names = settings.app_settings().value("training/overlays", [], type=list) or []
        for name in names:
            if name in self.runs.names():
                self.show_run(name)

    def save_overlays(self) -> None:
        settings.app_settings().setValue("training/overlays", self.runs.checked_names())

    # ------------------------------------------------------------------ slots
    @Slot(str, bool)
    def _on_runs_overlay_toggled(self, name: str, shown: bool) -> None:
        if not shown:
            self.hide_run(name)
        elif not self.show_run(name):
            self.runs.set_checked(name, False)

    @Slot()
    def _on_runs_refresh_requested(self) -> None:
        self.refresh()
        self.watcher.poll_soon()

    @Slot(object)
    def _on_watcher_outcome_ready(self, outcome: WatchOutcome) -> None:
        for name in outcome.removed:
            if name not in self.session.live:
                self._gone(name)
        if outcome.listing is not None:
            self._load(outcome.listing)
            actions, self._after_listing = self._after_listing, []
            for action in actions:
                action(outcome.listing)
        for name, live in outcome.live.items():
            self.runs.set_live(name, live)
        if outcome.problem is not None:
            self.runs.show_problem(outcome.problem)
        for note in outcome.notes:
            self._show_message(note, "error")

    def _gone(self, name: str) -> None:
        """A run left the store: its curves go too (its row is gone, so they could not
        be unticked), with a line saying why."""
        if name in self.plots.run_names():
            self.hide_run(name)
            self._show_message(f"Run {name} was deleted from {self.session.runs_dir}; "
                               "its curves are gone.")  # fmt: skip
        self.session.forget(name)

    @Slot(str)
    def _on_watcher_waiting(self, text: str) -> None:
        self.runs.show_problem(text)
