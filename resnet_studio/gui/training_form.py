"""The training panel's settings: dataset, recipe fields, hardware, the nets to compare.

The recipe form is generated from `Recipe`'s fields and converts text with core's
`parse_field`, the very function behind the CLI's flags, so the GUI accepts what the
CLI accepts (`32000,48000`, `1e-4`, `none`) and a new field needs one line here.
Choosing a recipe fills the form with its values; edits become overrides.
`JobBar` is the Start / Pause / Stop row and the status line below the form.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.errors import StudioError
from resnet_studio.core.recipes import RECIPES, Recipe, get_recipe, parse_field
from resnet_studio.gui import settings
from resnet_studio.gui.widgets import status_color

FIGURE6_MODELS = ("cifar-plain20", "cifar-plain56", "cifar-resnet20", "cifar-resnet56")
FIGURE6_RECIPE = "figure6"  # real CIFAR-10, minutes on a CPU (core/recipes.py)
DATASETS = (  # (label, spec kind)
    ("Synthetic (built in, offline; not CIFAR-10)", "synthetic"),
    ("CIFAR-10", "cifar10"),
    ("CIFAR-100", "cifar100"),
    ("Image folder", "folder"),
    ("Zip of an image folder", "zip"),
)
# (field, label, tooltip): the compact form over Recipe's fields.
RECIPE_FIELDS = (
    ("batch_size", "Batch size", "images per iteration"),
    ("lr", "Learning rate", "initial SGD learning rate (paper: 0.1)"),
    ("iterations", "Iterations", "the run's length; 'none' to use epochs"),
    ("epochs", "Epochs", "alternative to iterations ('none' to use iterations)"),
    ("milestones", "LR milestones", "iterations where the lr is divided by 10, e.g. 32000,48000"),
    ("weight_decay", "Weight decay", "L2 penalty (paper: 1e-4)"),
    ("image_size", "Image size", "px; 'none' keeps the dataset's own size"),
    ("val_size", "Validation images", "carved from the training split (paper: 5000)"),
    ("train_size", "Training images", "a fixed class-balanced subset of the training split; 'none': all"),
    ("test_size", "Test images", "a fixed class-balanced subset of the test split; 'none': all"),
    ("eval_every", "Evaluate every", "iterations between validation/test evaluations"),
    ("log_every", "Log every", "iterations between metric points (the one host sync)"),
    ("checkpoint_every", "Checkpoint every", "iterations between checkpoints"),
    ("seed", "Seed", "same seed: same initial weights and batch order for every net"),
)


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class TrainingForm(QWidget):
    """Settings of the next comparison. `recipe()` and `models()` read them; both raise
    StudioError with a message for the user when a field does not parse."""

    add_current_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._edits: dict[str, QLineEdit] = {}
        self._build()
        self._on_recipe_changed(self.recipe_combo.currentText())
        self._on_dataset_changed()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_models())
        layout.addWidget(self._build_dataset())
        layout.addWidget(self._build_recipe())
        layout.addWidget(self._build_hardware())
        layout.addStretch(1)

    def _build_models(self) -> QGroupBox:
        box = QGroupBox("Compare")
        self.model_list = QListWidget()
        self.model_list.setMaximumHeight(96)
        self.model_list.setToolTip("Nets trained side by side on the same batches; "
                                   "double-click a name to edit it")  # fmt: skip
        self.set_models(FIGURE6_MODELS)
        figure6 = QPushButton("Figure 6")
        figure6.setToolTip("plain-20/56 vs ResNet-20/56 (the paper's Figure 6) on the real CIFAR-10: "
                           "the 'figure6' recipe, with the CIFAR-10 zip or folder chosen under "
                           "Dataset, else torchvision's download")  # fmt: skip
        figure6.clicked.connect(self.choose_figure6)
        add_current = QPushButton("Add current")
        add_current.setToolTip("Add the network chosen in the Model panel")
        add_current.clicked.connect(self.add_current_requested)
        add = QPushButton("Add…")
        add.setToolTip("Add a zoo name to type in, e.g. cifar-resnet110")
        add.clicked.connect(self._on_add_clicked)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._on_remove_clicked)
        buttons = QHBoxLayout()
        for button in (figure6, add_current, add, remove):
            buttons.addWidget(button)
        inner = QVBoxLayout(box)
        inner.addWidget(self.model_list)
        inner.addLayout(buttons)
        return box

    def _build_dataset(self) -> QGroupBox:
        box = QGroupBox("Dataset")
        form = QFormLayout(box)
        self.dataset_combo = QComboBox()
        for label, kind in DATASETS:
            self.dataset_combo.addItem(label, kind)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("default data folder")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        self.download_check = QCheckBox("Download if missing")
        self.download_check.setToolTip("Let torchvision download CIFAR into the folder")
        form.addRow("Data", self.dataset_combo)
        form.addRow("Folder", row)
        form.addRow("", self.download_check)
        self._path_label = form.labelForField(row)
        return box

    def _build_recipe(self) -> QGroupBox:
        box = QGroupBox("Recipe")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.recipe_combo = QComboBox()
        self.recipe_combo.addItems(list(RECIPES))
        self.recipe_combo.setCurrentText(FIGURE6_RECIPE)
        self.recipe_combo.setToolTip("figure6: Figure 6 on CIFAR-10 in minutes on a CPU; quick: the "
                                     "same on synthetic data, offline; paper-cifar: section 4.2; "
                                     "paper-imagenet: section 3.4")  # fmt: skip
        self.recipe_combo.currentTextChanged.connect(self._on_recipe_changed)
        form.addRow("Recipe", self.recipe_combo)
        for name, label, tip in RECIPE_FIELDS:
            edit = QLineEdit()
            edit.setToolTip(tip)
            edit.textEdited.connect(self._on_field_edited)
            self._edits[name] = edit
            form.addRow(label, edit)
        return box

    def _build_hardware(self) -> QGroupBox:
        box = QGroupBox("Hardware")
        form = QFormLayout(box)
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.amp_check = QCheckBox("bf16 autocast (AMP)")
        self.amp_check.setTristate(True)
        self.amp_check.setCheckState(Qt.CheckState.PartiallyChecked)
        self.amp_check.setToolTip("Half-ticked: automatic: on where bf16 runs in hardware "
                                  "(CUDA; CPUs with AVX-512 BF16 or AMX), off elsewhere")
        self.compile_check = QCheckBox("torch.compile")
        self.compile_check.setToolTip("Compile each net first: slower start, faster steps on GPUs")
        form.addRow("Device", self.device_combo)
        form.addRow("", self.amp_check)
        form.addRow("", self.compile_check)
        return box

    # ------------------------------------------------------------------ models
    def models(self) -> list[str]:
        """The zoo names in the list, checked against the registry."""
        from resnet_studio.core.models import parse_name

        names = [self.model_list.item(i).text().strip() for i in range(self.model_list.count())]
        names = [n for n in names if n]
        if not names:
            raise StudioError("Add at least one network to compare (e.g. the Figure 6 set).")
        for name in names:
            parse_name(name)  # ModelNameError says what names look like
        return names

    def choose_figure6(self) -> None:
        """The paper's Figure 6 set and recipe, on real CIFAR-10: the zip or folder the
        user chose under Dataset if any (a CIFAR-10 copy), else CIFAR-10 itself,
        downloaded on first use."""
        self.set_models(FIGURE6_MODELS)
        kind = self.dataset_combo.currentData()
        keep = kind in ("folder", "zip") and self.path_edit.text().strip()
        self.recipe_combo.setCurrentText(FIGURE6_RECIPE)
        self._on_recipe_changed(FIGURE6_RECIPE)  # refill even when it was chosen already
        if keep:
            self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(kind))

    def use_synthetic(self) -> None:
        """The offline fallback: the same recipe on the built-in synthetic data."""
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData("synthetic"))

    def set_models(self, names) -> None:
        self.model_list.clear()
        for name in names:
            self.add_model(name)

    def add_model(self, name: str) -> QListWidgetItem:
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.model_list.addItem(item)
        return item

    # ------------------------------------------------------------------ recipe
    def recipe(self) -> Recipe:
        """The chosen recipe with the form's fields and data/hardware choices applied."""
        values = get_recipe(self.recipe_combo.currentText()).to_dict()
        for name, edit in self._edits.items():
            try:
                values[name] = parse_field(name, edit.text().strip())
            except StudioError:
                raise StudioError(f"{self._label(name)}: cannot read {edit.text()!r}.") from None
        if values["iterations"] is None and values["epochs"] is None:
            raise StudioError("Set either Iterations or Epochs.")
        if values["iterations"] is not None:
            values["epochs"] = None  # iterations win, as with the CLI's flags
        amp = self.amp_check.checkState()
        values.update(
            dataset=self.dataset_spec(),
            data_root=self._data_root(),
            download=self.download_check.isChecked(),
            device=self.device(),
            amp=None if amp == Qt.CheckState.PartiallyChecked else amp == Qt.CheckState.Checked,
            compile=self.compile_check.isChecked(),
        )
        return Recipe.from_dict(values)

    def show_recipe(self, recipe: Recipe) -> None:
        """Fill the form with `recipe` (e.g. what --demo trains), so it tells the truth."""
        self.recipe_combo.setCurrentText(recipe.name)
        for name, edit in self._edits.items():
            edit.setText(_text(getattr(recipe, name)))

    def device(self) -> str:
        """The device chosen under Hardware ("auto", "cpu" or "cuda"); resumed runs
        train on it too."""
        return self.device_combo.currentText()

    def dataset_spec(self) -> str:
        kind = self.dataset_combo.currentData()
        if kind in ("folder", "zip"):
            path = self.path_edit.text().strip()
            if not path:
                raise StudioError(f"Choose the {'folder' if kind == 'folder' else 'zip file'} "
                                  "of images first (Browse…).")  # fmt: skip
            return f"{kind}:{path}"
        return kind

    def _data_root(self) -> str | None:
        if self.dataset_combo.currentData() in ("cifar10", "cifar100"):
            return self.path_edit.text().strip() or None
        return None

    def _label(self, name: str) -> str:
        return next(label for field, label, _ in RECIPE_FIELDS if field == name)

    # ------------------------------------------------------------------ slots
    @Slot(str)
    def _on_recipe_changed(self, name: str) -> None:
        recipe = get_recipe(name)
        for field, edit in self._edits.items():
            edit.setText(_text(getattr(recipe, field)))
            edit.setStyleSheet("")
        index = self.dataset_combo.findData(recipe.dataset.partition(":")[0])
        if index >= 0 and recipe.dataset in ("synthetic", "cifar10", "cifar100"):
            self.dataset_combo.setCurrentIndex(index)
            self.download_check.setChecked(recipe.download)

    @Slot()
    def _on_field_edited(self) -> None:
        edit = self.sender()
        name = next((n for n, e in self._edits.items() if e is edit), None)
        if name is None:
            return
        try:
            parse_field(name, edit.text().strip())
        except StudioError as exc:
            edit.setStyleSheet(f"color: {status_color('error').name()}")
            edit.setToolTip(str(exc))
        else:
            edit.setStyleSheet("")
            edit.setToolTip(dict((f, t) for f, _, t in RECIPE_FIELDS)[name])

    @Slot()
    def _on_dataset_changed(self) -> None:
        kind = self.dataset_combo.currentData()
        needs_path = kind != "synthetic"
        self.path_edit.setEnabled(needs_path)
        self.browse_button.setEnabled(needs_path)
        self.download_check.setEnabled(kind in ("cifar10", "cifar100"))
        if self._path_label is not None:
            self._path_label.setText("File" if kind == "zip" else "Folder")
        self.path_edit.setPlaceholderText(
            {"synthetic": "not needed", "folder": "an ImageFolder tree", "zip": "a .zip of one"}
            .get(kind, "default data folder")
        )

    @Slot()
    def _on_browse_clicked(self) -> None:
        kind = self.dataset_combo.currentData()
        start = settings.last_folder("data")
        if kind == "zip":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a zip of images", start, "Zip files (*.zip)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose a data folder", start)
        if path:
            self.path_edit.setText(path)
            settings.remember_folder("data", Path(path))

    @Slot()
    def _on_add_clicked(self) -> None:
        item = self.add_model("cifar-resnet110")
        self.model_list.setCurrentItem(item)
        self.model_list.editItem(item)

    @Slot()
    def _on_remove_clicked(self) -> None:
        for item in self.model_list.selectedItems():
            self.model_list.takeItem(self.model_list.row(item))

    def set_running(self, running: bool) -> None:
        """The settings belong to the next start; lock them while one trains."""
        for box in self.findChildren(QGroupBox):
            box.setEnabled(not running)


class JobBar(QWidget):
    """Start / Pause / Stop and the status line under the settings. Signals:
    `start_clicked()`, `pause_toggled(paused)`, `stop_clicked()`; the panel runs the
    job and calls `set_running` and `show_message`."""

    start_clicked = Signal()
    pause_toggled = Signal(bool)
    stop_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train the listed nets side by side on the same batches")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; runs keep a checkpoint and "
                                    "can be resumed from the runs table")  # fmt: skip
        self.start_button.clicked.connect(self.start_clicked)
        self.pause_button.toggled.connect(self._on_pause_button_toggled)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.message_label = QLabel("Ready")
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        """Start while idle, Pause and Stop while a job trains (a job's end un-pauses)."""
        if not running:
            self.pause_button.setChecked(False)
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setChecked(paused)

    def show_message(self, text: str, kind: str = "", details: str = "") -> None:
        """The status line; `kind` "ok" or "error" colours it, `details` (a traceback)
        is its tooltip."""
        self.message_label.setText(text)
        self.message_label.setToolTip(details)
        color = status_color(kind).name() if kind else ""
        self.message_label.setStyleSheet(f"color: {color}" if color else "")

    def message(self) -> str:
        return self.message_label.text()

    @Slot(bool)
    def _on_pause_button_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_toggled.emit(paused)
