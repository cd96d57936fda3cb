"""Help → About (the version, what it runs on, where it keeps its files, the licence) and
Help → Keyboard Shortcuts (every menu action's shortcut, and the step table's and windows' own)."""

from __future__ import annotations

import html
import sys
from collections.abc import Mapping, Sequence

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["LICENCE", "OTHER_SHORTCUTS", "about_dialog", "about_html", "shortcut_rows", "shortcuts_dialog",
           "show_about", "show_shortcuts"]

LICENCE = "Apache License 2.0"

#: Shortcuts that are not menu actions: the step table's jump bar and every secondary window.
OTHER_SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Go to step… (the step table)", "Ctrl+G"),
    ("Next / previous failed step", "F8 / Shift+F8"),
    ("Next / previous retried step", "F7 / Shift+F7"),
    ("Copy the selected rows, tab-separated (any table or tree; a JSON node's value)", "Ctrl+C"),
    ("Copy the row's id: run id, step index, JSON pointer, rule id, reason code", "Ctrl+Shift+C"),
    ("Find in the step table or a JSON view (while it has focus)", "Ctrl+F"),
    ("Next / previous match (find bar)", "Enter / Shift+Enter, F3 / Shift+F3"),
    ("Close the find bar", "Esc"),
    ("Context menu of the current row", "Menu / Shift+F10"),
    ("Close a secondary window (Compare, Replay check, …)", "Esc / Ctrl+W"),
)


def about_html(version: str, *, settings_path: str, demo_path: str | None) -> str:
    def row(name: str, value: str) -> str:
        return f"<tr><td><b>{html.escape(name)}</b>&nbsp;&nbsp;</td><td>{html.escape(value)}</td></tr>"

    rows = [
        row("Version", version),
        row("Python", sys.version.split()[0]),
        row("Qt", f"{qVersion()} (PySide6 {pyside_version})"),
        row("Settings", settings_path),
        row("Demo database", demo_path or "—"),
        row("Licence", LICENCE),
    ]
    return ("<h3>AOS Trace Inspector</h3><p>Reads AOS agent-run trace databases, read-only: runs, steps, "
            "evidence and integrity grades, replays, signed export bundles.</p>"
            f"<table>{''.join(rows)}</table>")


def shortcut_rows(actions: Mapping[str, QAction]) -> list[tuple[str, str]]:
    """(what, keys) for every menu action with a shortcut, in menu order, then the others."""
    rows = []
    for action in actions.values():
        keys = action.shortcut().toString()
        if keys:
            rows.append((action.text().replace("&", ""), keys))
    return rows + list(OTHER_SHORTCUTS)


def _dialog(parent: QWidget | None, title: str, body: QWidget, name: str) -> QDialog:
    dialog = QDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    layout.addWidget(body)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    return dialog


def about_dialog(parent: QWidget | None, version: str, *, settings_path: str, demo_path: str | None) -> QDialog:
    """Help → About."""
    label = QLabel(about_html(version, settings_path=settings_path, demo_path=demo_path))
    label.setObjectName("aboutText")
    label.setWordWrap(True)
    return _dialog(parent, "About AOS Trace Inspector", label, "aboutDialog")


def shortcuts_dialog(parent: QWidget | None, rows: Sequence[tuple[str, str]]) -> QDialog:
    """Help → Keyboard Shortcuts."""
    table = QTableWidget(len(rows), 2)
    table.setObjectName("shortcutsTable")
    table.setHorizontalHeaderLabels(["Action", "Keys"])
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(22)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    for r, (what, keys) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(what))
        table.setItem(r, 1, QTableWidgetItem(keys))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    dialog = _dialog(parent, "Keyboard Shortcuts", table, "shortcutsDialog")
    dialog.resize(560, 520)
    return dialog


def _shown(dialog: QDialog) -> QDialog:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def show_about(window) -> QDialog:
    """Help → About for the main ``window`` (its settings, its demo database)."""
    from inspector.version import package_version

    demo = window.demo_path() if window.demo_path is not None else None
    return _shown(about_dialog(window, package_version(), settings_path=window.settings.fileName(), demo_path=demo))


def show_shortcuts(window) -> QDialog:
    """Help → Keyboard Shortcuts for the main ``window``'s actions."""
    return _shown(shortcuts_dialog(window, shortcut_rows(window.actions_by_name)))
