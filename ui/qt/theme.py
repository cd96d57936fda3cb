"""Colours and fonts. No application-wide style sheet: Qt then routes every widget, item views
included, through its style-sheet style, which cost ~40 ms building the main window and a third
of every page paint. The palette covers the views; the few coloured banners get their own
small style sheet."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

__all__ = ["apply_theme", "muted", "placeholder_label", "set_invalid", "set_severity", "title_font"]

_SEVERITY = {
    "error": "background: #fdecea; border-bottom: 1px solid #e6a29a;",
    "warning": "background: #fff6e0; border-bottom: 1px solid #e8c66d;",
    "payload-warning": "background: #fff3cd; color: #6b4e00; padding: 4px 6px; border-radius: 3px;",
    "payload-info": "background: #e8f1fb; color: #1d3f63; padding: 4px 6px; border-radius: 3px;",
}


def apply_theme(app: QApplication) -> None:
    pal = app.palette()
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#cfe3fb"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#111111"))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#f6f8fa"))
    app.setPalette(pal)


def set_severity(widget: QWidget, severity: str) -> None:
    """Colour a banner: ``error``, ``warning``, ``payload-warning``, ``payload-info``."""
    widget.setStyleSheet(f"{type(widget).__name__} {{ {_SEVERITY[severity]} }}")
    widget.setProperty("severity", severity)


def set_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    widget.setStyleSheet("QLineEdit { border: 1px solid #c0392b; background: #fdecea; }" if invalid else "")


def title_font(base: QFont) -> QFont:
    f = QFont(base)
    f.setPointSizeF(base.pointSizeF() * 1.3)
    f.setBold(True)
    return f


def muted(label: QLabel) -> None:
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, QColor("#707070"))
    label.setPalette(pal)


def placeholder_label(name: str = "") -> QLabel:
    """The muted, centred, wrapping text shown where a table has nothing to show yet."""
    label = QLabel()
    if name:
        label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    muted(label)
    return label
