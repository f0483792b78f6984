"""A dark theme that reads well: neutral greys, one accent, clear selection."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor("#4fa3e0")
BG = QColor("#1e2024")
PANEL = QColor("#26292e")
LANE = QColor("#2c3036")
TEXT = QColor("#dfe3e8")
DIM = QColor("#8b939e")
PLAYHEAD = QColor("#f2c14e")
WARN = QColor("#e0834f")
SELECT = QColor(79, 163, 224, 70)


def apply(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    for role, color in ((QPalette.Window, BG), (QPalette.WindowText, TEXT), (QPalette.Base, PANEL),
                        (QPalette.AlternateBase, LANE), (QPalette.Text, TEXT), (QPalette.Button, PANEL),
                        (QPalette.ButtonText, TEXT), (QPalette.Highlight, ACCENT),
                        (QPalette.HighlightedText, QColor("#0b0d10")), (QPalette.ToolTipBase, PANEL),
                        (QPalette.ToolTipText, TEXT), (QPalette.PlaceholderText, DIM)):
        pal.setColor(role, color)
    # disabled controls must look disabled: dim text, flatter buttons
    for role, color in ((QPalette.WindowText, DIM.darker(140)), (QPalette.Text, DIM.darker(140)),
                        (QPalette.ButtonText, DIM.darker(150)), (QPalette.Button, BG)):
        pal.setColor(QPalette.Disabled, role, color)
    app.setPalette(pal)
    app.setStyleSheet("QToolTip { border: 1px solid #4fa3e0; padding: 4px; }"
                      "QDockWidget::title { background: #26292e; padding: 4px; }"
                      "QProgressBar { border: 1px solid #3a3f46; border-radius: 3px; text-align: center; }"
                      "QProgressBar::chunk { background: #4fa3e0; }")
