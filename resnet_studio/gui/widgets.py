"""Small shared pieces: number formats, palette-aware colours, the app icon, dialogs.

Colours are derived from the current QPalette rather than hard-coded, so a dark
desktop theme gets readable text and plots without a separate theme switch.
"""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QVBoxLayout, QWidget

PAPER_CITATION = (
    "Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. "
    "Deep Residual Learning for Image Recognition. CVPR 2016, pp. 770-778. arXiv:1512.03385"
)


def format_int(value: int) -> str:
    """Thousands separators, as users compare counts like 853,018 vs 1,730,714."""
    return f"{value:,}"


def flops_unit(total_macs: int) -> tuple[str, float]:
    """GFLOPs for ImageNet nets (Table 1: 3.6 to 11.3 billion), MFLOPs below one billion
    (the CIFAR nets), so no column is a row of 0.000s."""
    return ("GFLOPs", 1e9) if total_macs >= 1e9 else ("MFLOPs", 1e6)


def format_flops(macs: int, scale: float) -> str:
    value = macs / scale
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def flops_text(total_macs: int) -> tuple[str, str]:
    """('125.5', 'MFLOPs') or ('4.09', 'GFLOPs'); FLOPs counted as multiply-adds."""
    unit, scale = flops_unit(total_macs)
    return format_flops(total_macs, scale), unit


def format_millions(value: int) -> str:
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value / 1e3:.1f} k"


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether the window background is dark (follows the desktop's light/dark theme)."""
    palette = palette or QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_color(kind: str, palette: QPalette | None = None) -> QColor:
    """Text colour for 'error', 'ok' or 'info' messages that stays readable in both themes."""
    dark = is_dark(palette)
    colors = {
        "error": ("#ff8a80", "#b3261e"),
        "ok": ("#81c995", "#1e7b34"),
        "info": ("#8ab4f8", "#1a5fb4"),
    }
    light_text, dark_text = colors.get(kind, colors["info"])
    return QColor(light_text if dark else dark_text)


def plot_colors(palette: QPalette | None = None) -> dict[str, QColor]:
    """Background, foreground and grid colours for pyqtgraph plots from the palette."""
    palette = palette or QApplication.palette()
    foreground = palette.color(QPalette.ColorRole.Text)
    grid = QColor(foreground)
    grid.setAlpha(60)
    return {"background": palette.color(QPalette.ColorRole.Base), "foreground": foreground, "grid": grid}


def configure_plots(palette: QPalette | None = None) -> None:
    """Point pyqtgraph's defaults at the palette; call again when the palette changes.

    PySide6 must be imported before pyqtgraph so pyqtgraph binds to it; this module
    already imported PySide6, so the import below is safe.
    """
    import pyqtgraph as pg

    colors = plot_colors(palette)
    pg.setConfigOptions(
        background=colors["background"], foreground=colors["foreground"], antialias=True
    )


def app_icon() -> QIcon:
    """The window icon drawn in resources/icon.svg (a residual block with its shortcut)."""
    path = resources.files("resnet_studio") / "resources" / "icon.svg"
    with resources.as_file(path) as file:
        return QIcon(str(file))


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    """A modal error dialog; `details` (a traceback) goes behind 'Show Details…'."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def bold_caption(text: str) -> QLabel:
    """A bold heading above a table or tree, with a little space above it."""
    label = QLabel(f"<b>{text}</b>")
    label.setContentsMargins(0, 6, 0, 0)
    return label


def big_figure(small: QLabel, value: QLabel) -> QWidget:
    """A big number (`value`, selectable) with a small caption under it."""
    font = value.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setBold(True)
    value.setFont(font)
    value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    small.setEnabled(False)
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 4, 24, 4)
    layout.setSpacing(0)
    layout.addWidget(value)
    layout.addWidget(small)
    return box
