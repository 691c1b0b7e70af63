"""The runs table: every run of the run store, the live ones with their progress.

One table rather than a "this session" list plus a "history" list: a run started now is
simply the newest row of the store, and ticking a row overlays its curves whether it
is training or finished a month ago. Rows come from `list_runs` (config.json and
status.json per run, never metrics files), so opening a folder of hundreds of runs
is instant; metrics are read only for rows that get ticked (and, by the panel's
watcher, the newest lines of runs that another process is training).

The progress column is painted by a delegate instead of a QProgressBar per row, so a
table of hundreds of runs stays one widget, and live updates are plain item changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.training.session import LiveRun
from resnet_studio.core.catalog import (
    DAMAGED,
    FAILED_STATUSES,
    RESUMABLE_STATUSES,
    STALE,
    UNKNOWN,
)
from resnet_studio.core.eta import format_eta
from resnet_studio.gui.widgets import status_color

COLUMNS = ("Run", "Status", "Progress", "Images/s", "ETA", "Test error", "Created", "Folder")
RUN, STATUS, PROGRESS, SPEED, ETA, TEST, CREATED, FOLDER = range(len(COLUMNS))
NAME_ROLE = Qt.ItemDataRole.UserRole
FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def color_icon(color: QColor, size: int = 12) -> QIcon:
    """A filled square in the run's colour: the row's key to its curves."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(color)
    painter.setPen(color.darker(130))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 2, 2)
    painter.end()
    return QIcon(pixmap)


class ProgressDelegate(QStyledItemDelegate):
    """Paints FRACTION_ROLE as a progress bar with the cell's text on it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:  # fmt: skip
        fraction = index.data(FRACTION_ROLE)
        if fraction is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect).adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class RunsTable(QWidget):
    """The run store as a table. Signals: `overlay_toggled(name, shown)` when a row is
    ticked or unticked; `resume_requested(names)`, `delete_requested(names)`,
    `refresh_requested()` from the buttons. The panel does the work; this only shows."""

    overlay_toggled = Signal(str, bool)
    resume_requested = Signal(list)
    delete_requested = Signal(list)
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, int] = {}
        self._status: dict[str, str] = {}
        self._live: set[str] = set()
        self._checked: set[str] = set()
        self._updating = False
        self._busy = False
        self._count_text = ""
        self._problem = ""
        self._build()

    def _build(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setItemDelegateForColumn(PROGRESS, ProgressDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((RUN, 170), (STATUS, 110), (PROGRESS, 130), (SPEED, 70),
                              (ETA, 56), (TEST, 76), (CREATED, 118)):  # fmt: skip
            self.table.setColumnWidth(column, width)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)

        self.count_label = QLabel()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the run store again now (it is also read about "
                                       "once a second, for runs written by other processes)")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected cancelled, failed or stale runs "
                                      "from their last checkpoints")  # fmt: skip
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected runs' folders (asks first)")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        for button in (self.refresh_button, self.resume_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        self._on_table_selection_changed()

    # ------------------------------------------------------------------ rows
    def names(self) -> list[str]:
        return list(self._rows)

    def status_of(self, name: str) -> str | None:
        return self._status.get(name)

    def is_checked(self, name: str) -> bool:
        row = self._rows.get(name)
        return row is not None and self.table.item(row, RUN).checkState() == Qt.CheckState.Checked

    def checked_names(self) -> list[str]:
        return [name for name in self._rows if self.is_checked(name)]

    def selected_names(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.table.item(row, RUN).data(NAME_ROLE) for row in rows]

    def select(self, names: Iterable[str]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for name in names:
            if name in self._rows:
                self.table.selectRow(self._rows[name])
        self.table.setSelectionMode(mode)

    def load(self, summaries: Iterable[Any], checked: Iterable[str] = (),
             colors: dict[str, QColor] | None = None) -> None:  # fmt: skip
        """Fill the table from `list_runs` summaries (newest first); `checked` rows are
        ticked without emitting `overlay_toggled` (their curves are already shown)."""
        checked, colors = set(checked), colors or {}
        summaries = list(summaries)
        selected = self.selected_names()  # a reload (a poll saw a change) keeps them
        self._updating = True
        self.table.setUpdatesEnabled(False)
        try:
            self.table.clearContents()
            self.table.setRowCount(len(summaries))
            self._rows.clear()
            self._status.clear()
            self._live.clear()  # the rows still training get `set_live` again
            self._checked = {s.name for s in summaries if s.name in checked}
            for row, summary in enumerate(summaries):
                self._rows[summary.name] = row
                self._fill_row(row, summary, summary.name in checked, colors.get(summary.name))
        finally:
            self.table.setUpdatesEnabled(True)
            self._updating = False
        total = len(summaries)
        self._count_text = f"{total} run{'s' if total != 1 else ''} in the store"
        self.show_problem(self._problem)
        self.select(selected)
        self._on_table_selection_changed()

    def show_problem(self, text: str) -> None:
        """Say above the table that the runs folder does not answer ("" when it does
        again): the rows shown are then the last ones read."""
        self._problem = text
        self.count_label.setText(text or self._count_text)
        self.count_label.setToolTip(text)
        self.count_label.setWordWrap(bool(text))
        color = status_color("error").name() if text else ""
        self.count_label.setStyleSheet(f"color: {color}" if color else "")

    def problem(self) -> str:
        return self._problem

    def _fill_row(self, row: int, summary: Any, checked: bool, color: QColor | None) -> None:
        status = STALE if summary.stale else summary.status
        self._status[summary.name] = status
        first = QTableWidgetItem(summary.model or "?")
        first.setData(NAME_ROLE, summary.name)
        first.setFlags(first.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        first.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        first.setToolTip(f"{summary.name}\nTick to show its curves")
        if color is not None:
            first.setIcon(color_icon(color))
        self.table.setItem(row, RUN, first)
        done, total = summary.iterations, summary.total_iterations
        created = summary.created.astimezone().strftime("%Y-%m-%d %H:%M") if summary.created else ""
        texts = {
            PROGRESS: f"{done or 0:,} / {total:,}" if total else "",
            TEST: _percent(summary.best_test_error if summary.best_test_error is not None
                           else summary.final_test_error),  # fmt: skip
            CREATED: created,
            FOLDER: summary.name,
        }
        for column in range(1, len(COLUMNS)):
            self.table.setItem(row, column, QTableWidgetItem(texts.get(column, "")))
        self.table.item(row, FOLDER).setToolTip(str(summary.path))
        if total:
            self.table.item(row, PROGRESS).setData(FRACTION_ROLE, (done or 0) / total)
        self._set_status_cell(row, status, summary.reason)

    def _set_status_cell(self, row: int, status: str, reason: str = "") -> None:
        item = self.table.item(row, STATUS)
        labels = {STALE: "stale (not running)", "running": "running"}
        item.setText(labels.get(status, status) + (f": {reason}" if reason and status != "finished" else ""))
        item.setToolTip(reason or status)  # a damaged run: which file, what is wrong, what to do
        bad = status in FAILED_STATUSES or status in (DAMAGED, UNKNOWN)
        kind = "error" if bad else "ok" if status == "finished" else None
        item.setForeground(status_color(kind) if kind else self.palette().text())

    def set_color(self, name: str, color: QColor | None) -> None:
        row = self._rows.get(name)
        if row is not None:
            self._updating = True
            try:
                self.table.item(row, RUN).setIcon(color_icon(color) if color is not None else QIcon())
            finally:
                self._updating = False

    def set_checked(self, name: str, checked: bool) -> None:
        """Tick or untick without emitting `overlay_toggled`."""
        row = self._rows.get(name)
        if row is None:
            return
        self._updating = True
        try:
            state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
            self._remember_checked(name, checked)
            self.table.item(row, RUN).setCheckState(state)
        finally:
            self._updating = False

    def set_live(self, name: str, live: LiveRun) -> None:
        """Update a row of the current job (from the panel's redraw timer, not per event)."""
        row = self._rows.get(name)
        if row is None:
            return
        running = live.status == "running"
        self._updating = True
        try:
            if running:
                self._live.add(name)
            else:
                self._live.discard(name)
            self._status[name] = live.status
            self._set_status_cell(row, live.status, live.reason)
            progress = self.table.item(row, PROGRESS)
            total = live.total
            progress.setText(f"{live.iteration:,} / {total:,}" if total else "")
            progress.setData(FRACTION_ROLE, live.iteration / total if total else None)
            speed = f"{live.images_per_s:,.0f}" if live.images_per_s else ""
            self.table.item(row, SPEED).setText(speed if running else "")
            self.table.item(row, ETA).setText(format_eta(live.eta_s) if running else "")
            if live.test_error is not None:
                self.table.item(row, TEST).setText(_percent(live.test_error))
        finally:
            self._updating = False
        self._on_table_selection_changed()

    def set_busy(self, busy: bool) -> None:
        """While a job trains, resume and delete wait (one device, one writer per run)."""
        self._busy = busy
        self._on_table_selection_changed()

    # ------------------------------------------------------------------ slots
    @Slot(QTableWidgetItem)
    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if self._updating or item.column() != RUN:
            return
        name, checked = item.data(NAME_ROLE), item.checkState() == Qt.CheckState.Checked
        if checked != (name in self._checked):  # not an icon or text change
            self._remember_checked(name, checked)
            self.overlay_toggled.emit(name, checked)

    def _remember_checked(self, name: str, checked: bool) -> None:
        if checked:
            self._checked.add(name)
        else:
            self._checked.discard(name)

    @Slot()
    def _on_table_selection_changed(self) -> None:
        names = self.selected_names()
        busy = self._busy
        self.resume_button.setEnabled(
            bool(names) and not busy and all(self._status.get(n) in RESUMABLE_STATUSES for n in names)
        )
        live = set(names) & self._live  # trained here or by another process
        self.delete_button.setEnabled(bool(names) and not busy and not live)

    @Slot()
    def _on_resume_clicked(self) -> None:
        self.resume_requested.emit(self.selected_names())

    @Slot()
    def _on_delete_clicked(self) -> None:
        self.delete_requested.emit(self.selected_names())
