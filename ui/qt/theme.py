"""Colours and fonts. No application-wide style sheet: Qt then routes every widget, item views
included, through its style-sheet style, which cost ~40 ms building the main window and a third
of every page paint. The palette covers the views; the few coloured banners get their own
small style sheet."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from inspector.integrity import IntegrityGrade

__all__ = [
    "GRADE_COLORS",
    "apply_theme",
    "badge_style",
    "grade_color",
    "muted",
    "placeholder_label",
    "set_invalid",
    "set_severity",
    "title_font",
]

#: Integrity grades: (strong colour for text and borders, light tint for a badge's background).
GRADE_COLORS = {
    IntegrityGrade.PASS: ("#1e7e34", "#e3f4e8"),
    IntegrityGrade.WARN: ("#8a5a00", "#fff1c9"),
    IntegrityGrade.FAIL: ("#b03a2e", "#fde3e0"),
}
#: Solid badge colours (the Evidence panel's big badge): background, text.
_SOLID_GRADE = {
    IntegrityGrade.PASS: ("#1e8449", "#ffffff"),
    IntegrityGrade.WARN: ("#d68910", "#ffffff"),
    IntegrityGrade.FAIL: ("#c0392b", "#ffffff"),
}

_SEVERITY = {
    "error": "background: #fdecea; border-bottom: 1px solid #e6a29a;",
    "warning": "background: #fff6e0; border-bottom: 1px solid #e8c66d;",
    "payload-warning": "background: #fff3cd; color: #6b4e00; padding: 4px 6px; border-radius: 3px;",
    "payload-info": "background: #e8f1fb; color: #1d3f63; padding: 4px 6px; border-radius: 3px;",
    # The verification banner of an export bundle: verified by a trusted key, verified by a key
    # not (yet) trusted, untrusted (failed verification, opened on request).
    "verified": "background: #e3f4e8; color: #14532d; border-bottom: 2px solid #1e8449;",
    "verified-unknown": "background: #fff6e0; color: #5c3d00; border-bottom: 2px solid #d68910;",
    "untrusted": "background: #fdecea; color: #7a1c12; border-bottom: 3px solid #c0392b;",
}


def apply_theme(app: QApplication) -> None:
    pal = app.palette()
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#cfe3fb"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#111111"))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#f6f8fa"))
    app.setPalette(pal)


def set_severity(widget: QWidget, severity: str) -> None:
    """Colour a banner: ``error``, ``warning``, ``payload-warning``, ``payload-info``, and the
    bundle banner's ``verified``, ``verified-unknown`` and ``untrusted``."""
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


def grade_color(grade: IntegrityGrade) -> QColor:
    return QColor(GRADE_COLORS[grade][0])


def badge_style(grade: IntegrityGrade | None) -> str:
    """The style sheet of a QLabel shown as a solid grade badge (grey without a grade)."""
    bg, fg = _SOLID_GRADE.get(grade, ("#9e9e9e", "#ffffff")) if grade is not None else ("#9e9e9e", "#ffffff")
    return (f"QLabel {{ background: {bg}; color: {fg}; border-radius: 4px; padding: 3px 10px; "
            "font-weight: bold; }")
