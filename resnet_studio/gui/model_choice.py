"""The controls that pick a network: a name box plus family, depth, variant (the
pre-activation nets of He et al. 2016b are a variant of each family but the
CIFAR-style ImageNet one), plain or residual, shortcut option and number of classes.

Both directions stay in sync: changing a control composes a zoo name, and typing a
name (any `parse_name` accepts, e.g. cifar-resnet62) sets the controls. The name
grammar lives in `core.catalog` (`parse_name`, `compose_name`, the families, variants,
depths and shortcut options); this module only maps it onto widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import QIntValidator, QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from resnet_studio.core.catalog import (
    CIFAR_BOTTLENECK_DEPTHS,
    CIFAR_LISTED_DEPTHS,
    CIFAR_VARIANTS,
    FAMILIES,
    IMAGENET_LAYERS,
    SHORTCUTS,
    VARIANTS,
    ModelChoice,
    ModelSpec,
    compose_name,
    model_names,
    parse_name,
)
from resnet_studio.core.errors import StudioError

# What the controls show; the grammar itself (keys, labels, depths) is the catalog's.
FAMILY_ORDER = ("imagenet", "cifar", "cifar-bottleneck", "imagenet-cifar")
FAMILY_SHORT_LABELS = {"imagenet-cifar": "CIFAR-style ImageNet nets",
                       "cifar-bottleneck": "CIFAR 9n+2 bottleneck"}  # the box is narrow  # fmt: skip
# the depths each family lists, and the tooltip of an editable (any 6n+2 / 9n+2) depth box
FAMILY_DEPTHS = {"imagenet": tuple(IMAGENET_LAYERS), "imagenet-cifar": tuple(IMAGENET_LAYERS),
                 "cifar": CIFAR_LISTED_DEPTHS, "cifar-bottleneck": CIFAR_BOTTLENECK_DEPTHS}  # fmt: skip
DEPTH_TIPS = {"cifar": "Any 6n+2: the paper lists 20, 32, 44, 56, 110 and 1202",
              "cifar-bottleneck": "Any 9n+2: He et al. 2016b use 164 and 1001"}  # fmt: skip
IMAGENET_VARIANTS = tuple(label for label, family in VARIANTS.values() if family == "imagenet")
VARIANT_TIPS = {
    "v1.5": "torchvision's ResNet: stride 2 in the bottleneck's 3x3 conv",
    "v1": "the paper's bottleneck: stride 2 in the first 1x1 conv (50/101/152 only)",
    "v1c": "deep stem: three 3x3 convs instead of the 7x7 (Bag of Tricks, ResNet-C)",
    "v1d": "deep stem and average-pool before projection shortcuts (ResNet-D)",
    "preact": "pre-activation (He et al. 2016b): BN-ReLU before each conv, nothing after the "
    "addition; timm's resnetv2 layout",
}
CIFAR_VARIANT_TEXTS = {"paper": "original (post-activation)", "preact": "pre-activation (2016b)"}
SHORTCUT_LABELS = {
    "A": "A: identity, zero-padded",
    "B": "B: projection where shape changes",
    "C": "C: all projections",
}


class ModelChooser(QWidget):
    """Form of model controls. Emits `choice_changed` with a valid `ModelChoice`, or
    `invalid` with core's message when the name or depth typed is not a network."""

    choice_changed = Signal(object)
    invalid = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = parse_name("cifar-resnet56")
        self._build()
        self._apply_spec(self._spec, classes=self._spec.num_classes, shortcut="A")

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.name_box = QComboBox(editable=True)
        self.name_box.addItems(model_names())
        self.name_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_box.setMaxVisibleItems(20)
        completer = QCompleter(model_names(), self.name_box)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name_box.setCompleter(completer)
        self.name_box.setToolTip("Type any zoo name (e.g. resnet50-v1d, cifar-plain20) or pick one")

        self.family_box = QComboBox()
        for key in FAMILY_ORDER:
            self.family_box.addItem(FAMILY_SHORT_LABELS.get(key, FAMILIES[key]), key)
            self.family_box.setItemData(self.family_box.count() - 1, FAMILIES[key], Qt.ItemDataRole.ToolTipRole)
        self.depth_box = QComboBox()
        self._depth_edit = None  # the line edit of the (CIFAR-only) editable depth box
        self.variant_box = QComboBox()
        self.residual_button = QRadioButton("Residual")
        self.plain_button = QRadioButton("Plain")
        self.plain_button.setToolTip("The same net without shortcuts (the paper's plain baselines)")
        self._kind_group = QButtonGroup(self)
        self._kind_group.addButton(self.residual_button)
        self._kind_group.addButton(self.plain_button)
        kind_row = QHBoxLayout()
        kind_row.setContentsMargins(0, 0, 0, 0)
        kind_row.addWidget(self.residual_button)
        kind_row.addWidget(self.plain_button)
        kind_row.addStretch(1)
        self.shortcut_box = QComboBox()
        for key in SHORTCUTS:
            self.shortcut_box.addItem(SHORTCUT_LABELS[key], key)
        self.shortcut_box.setToolTip("Table 3 of the paper: options A, B and C")
        self.classes_box = QSpinBox()
        self.classes_box.setRange(1, 100_000)
        self.classes_box.setGroupSeparatorShown(True)
        self.classes_box.setToolTip("Outputs of the final fully connected layer")

        for box in (self.name_box, self.family_box, self.depth_box, self.variant_box, self.shortcut_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(14)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Name", self.name_box)
        form.addRow("&Family", self.family_box)
        form.addRow("&Depth", self.depth_box)
        form.addRow("&Variant", self.variant_box)
        form.addRow("Block", kind_row)
        form.addRow("&Shortcut", self.shortcut_box)
        form.addRow("&Classes", self.classes_box)

        self.name_box.activated.connect(self._on_name_activated)
        self.name_box.lineEdit().editingFinished.connect(self._on_name_edited)
        self.family_box.currentIndexChanged.connect(self._on_controls_changed)
        self.depth_box.currentIndexChanged.connect(self._on_controls_changed)
        self.variant_box.currentIndexChanged.connect(self._on_controls_changed)
        self.residual_button.toggled.connect(self._on_controls_changed)
        self.shortcut_box.currentIndexChanged.connect(self._on_controls_changed)
        self.classes_box.valueChanged.connect(self._on_classes_changed)

    # ------------------------------------------------------------------ public
    def choice(self) -> ModelChoice:
        """The (resolved) network the controls describe."""
        shortcut = None if self._spec.plain else self.shortcut_box.currentData()
        return ModelChoice(self._spec.name, self.classes_box.value(), shortcut)

    def set_name(self, name: str) -> bool:
        """Set every control from a zoo name; False (and `invalid`) if it is not one."""
        try:
            spec = parse_name(name)
        except StudioError as exc:
            self.invalid.emit(str(exc))
            return False
        family_changed = spec.family != self._spec.family
        classes = spec.num_classes if family_changed else self.classes_box.value()
        shortcut = spec.default_shortcut if family_changed else self.shortcut_box.currentData()
        self._apply_spec(spec, classes=classes, shortcut=shortcut)
        self._emit()
        return True

    def set_choice(self, choice: ModelChoice) -> bool:
        """Show `choice` (e.g. the architecture of loaded weights)."""
        try:
            choice = choice.resolved()
            spec = parse_name(choice.name)
        except StudioError as exc:
            self.invalid.emit(str(exc))
            return False
        self._apply_spec(spec, classes=choice.num_classes, shortcut=choice.shortcut or "B")
        self._emit()
        return True

    # ------------------------------------------------------------------ syncing
    def _apply_spec(self, spec: ModelSpec, *, classes: int, shortcut: str | None) -> None:
        """Show `spec` in every control without re-entering the change handlers."""
        blockers = [QSignalBlocker(w) for w in self._controls()]
        try:
            self._spec = spec
            self.name_box.setEditText(spec.name)
            self.family_box.setCurrentIndex(self.family_box.findData(spec.family))
            self._fill_depths(spec.family)
            self.depth_box.setCurrentText(str(spec.depth))
            if self.depth_box.findText(str(spec.depth)) >= 0:
                self.depth_box.setCurrentIndex(self.depth_box.findText(str(spec.depth)))
            self._fill_variants(spec)
            self.residual_button.setChecked(not spec.plain)
            self.plain_button.setChecked(spec.plain)
            if shortcut:
                self.shortcut_box.setCurrentIndex(self.shortcut_box.findData(shortcut))
            self.shortcut_box.setEnabled(not spec.plain)
            self.classes_box.setValue(classes)
        finally:
            del blockers

    def _controls(self) -> list[QWidget]:
        return [self.name_box, self.family_box, self.depth_box, self.variant_box,
                self.residual_button, self.plain_button, self.shortcut_box,
                self.classes_box]  # fmt: skip

    def _fill_depths(self, family: str) -> None:
        cifar = family in DEPTH_TIPS  # the CIFAR families take any depth of their form
        depths = FAMILY_DEPTHS[family]
        self.depth_box.clear()
        self.depth_box.addItems([str(d) for d in depths])
        self.depth_box.setEditable(cifar)
        if cifar:
            self.depth_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            self.depth_box.setValidator(QIntValidator(1, 99_999, self.depth_box))
            if self.depth_box.lineEdit() is not self._depth_edit:  # a new one each time
                self._depth_edit = self.depth_box.lineEdit()
                self._depth_edit.editingFinished.connect(self._on_depth_edited)
            self.depth_box.setToolTip(DEPTH_TIPS[family])
        else:
            self.depth_box.setToolTip("Table 1: 18, 34 (basic blocks), 50, 101, 152 (bottlenecks)")

    def _fill_variants(self, spec: ModelSpec) -> None:
        self.variant_box.clear()
        # item data is the catalog's variant label; the text is what users read
        if spec.family == "imagenet":
            for label in IMAGENET_VARIANTS:
                self.variant_box.addItem(label, label)
                tip = VARIANT_TIPS.get(label, "")
                self.variant_box.setItemData(self.variant_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            model = self.variant_box.model()
            if isinstance(model, QStandardItemModel):  # v1 only differs for bottlenecks
                model.item(IMAGENET_VARIANTS.index("v1")).setEnabled(spec.block == "bottleneck")
            self.variant_box.setEnabled(True)
        elif spec.family in ("cifar", "cifar-bottleneck"):
            for label in CIFAR_VARIANTS:
                self.variant_box.addItem(CIFAR_VARIANT_TEXTS[label], label)
            tip = VARIANT_TIPS["preact"]
            self.variant_box.setItemData(CIFAR_VARIANTS.index("preact"), tip, Qt.ItemDataRole.ToolTipRole)
            self.variant_box.setEnabled(True)
        else:
            self.variant_box.addItem("CIFAR stem (3x3, no pool)", None)  # composes no suffix
            self.variant_box.setEnabled(False)
        self.variant_box.setCurrentIndex(max(self.variant_box.findData(spec.variant), 0))

    def _compose_name(self) -> str:
        return compose_name(self.family_box.currentData(), self.depth_box.currentText().strip(),
                            plain=self.plain_button.isChecked(),
                            variant=self.variant_box.currentData() or "")  # fmt: skip

    def _emit(self) -> None:
        self.choice_changed.emit(self.choice())

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_controls_changed(self, *_: object) -> None:
        family_changed = self.family_box.currentData() != self._spec.family
        if family_changed:
            with QSignalBlocker(self.depth_box):
                self._fill_depths(self.family_box.currentData())
                # keep the depth when it exists in the new family, else its first listed one
                index = self.depth_box.findText(str(self._spec.depth))
                self.depth_box.setCurrentIndex(max(index, 0))
        name = self._compose_name()
        if name != self._spec.name:
            self.set_name(name)
        else:
            self._apply_spec(self._spec, classes=self.classes_box.value(),
                             shortcut=self.shortcut_box.currentData())  # fmt: skip
            self._emit()

    @Slot()
    def _on_classes_changed(self, _value: int) -> None:
        self._emit()

    @Slot(int)
    def _on_name_activated(self, index: int) -> None:
        self.set_name(self.name_box.itemText(index))

    @Slot()
    def _on_name_edited(self) -> None:
        text = self.name_box.currentText().strip()
        if text and text.lower() != self._spec.name:
            if not self.set_name(text):
                return
        elif text.lower() == self._spec.name:
            self.name_box.setEditText(self._spec.name)

    @Slot()
    def _on_depth_edited(self) -> None:
        if self.depth_box.isEditable() and self.depth_box.currentText().strip() != str(self._spec.depth):
            self._on_controls_changed()
