"""The start page: what the window shows while no source is open - the recent sources, Open…,
Connect to Postgres…, Open demo, and that a file can be dropped on the window. Its buttons are
the File menu's own actions (one enabled state, one shortcut, one tooltip)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.qt.theme import muted, title_font

__all__ = ["StartPage"]

_DROP_TEXT = ("Or drop a <b>traces.db</b>, a trace <b>JSON</b> file or an export bundle (<b>.zip</b>) "
              "anywhere on this window. Sources open read-only: nothing you open here is written to.")


class _RecentList(QListWidget):
    """Recent sources; Enter or a double click opens one."""

    chosen = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("recentSources")
        self.itemActivated.connect(lambda item: self.chosen.emit(item.data(Qt.ItemDataRole.UserRole)))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem() is not None:
            self.chosen.emit(self.currentItem().data(Qt.ItemDataRole.UserRole))
            return
        super().keyPressEvent(event)


class StartPage(QWidget):
    """Shown in place of the runs and steps while no source is open. ``recent`` gives the recent
    sources (newest first); ``refresh_recent`` is called when they change. Nothing here touches
    the disk: a recent file that has gone is reported by the open, like any other bad input."""

    open_requested = Signal(str)

    def __init__(self, actions: dict[str, QAction], recent: Callable[[], list[str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        self._recent = recent
        title = QLabel("AOS Trace Inspector")
        title.setFont(title_font(self.font()))
        intro = QLabel("Open an AOS trace database, a Postgres server or an export bundle to see its runs, "
                       "their steps, evidence and integrity grade.")
        intro.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for name in ("open", "connect", "demo"):
            self.buttons[name] = button = _action_button(actions[name])
            row.addWidget(button)
        row.addStretch(1)
        self.recent_title = QLabel("Recent sources")
        bold = QFont(self.font())
        bold.setBold(True)
        self.recent_title.setFont(bold)
        self.recent_list = _RecentList()
        self.recent_list.chosen.connect(self.open_requested)
        self.no_recent = QLabel("None yet: the sources you open are listed here.")
        muted(self.no_recent)
        drop = QLabel(_DROP_TEXT)
        drop.setWordWrap(True)
        drop.setObjectName("dropHint")
        muted(drop)

        column = QFrame()
        column.setMaximumWidth(760)
        inner = QVBoxLayout(column)
        inner.setSpacing(10)
        inner.addWidget(title)
        inner.addWidget(intro)
        inner.addLayout(row)
        inner.addSpacing(12)
        inner.addWidget(self.recent_title)
        inner.addWidget(self.recent_list)
        inner.addWidget(self.no_recent)
        inner.addSpacing(8)
        inner.addWidget(drop)
        inner.addStretch(1)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(32, 56, 32, 24)
        outer.addStretch(1)
        outer.addWidget(column, 6)
        outer.addStretch(1)
        self.refresh_recent()

    def refresh_recent(self) -> None:
        items = self._recent()
        self.recent_list.clear()
        for location in items:
            item = QListWidgetItem(location)
            item.setData(Qt.ItemDataRole.UserRole, location)
            item.setToolTip(f"Open {location}")
            self.recent_list.addItem(item)
        if items:
            self.recent_list.setCurrentRow(0)
            # As tall as its items (at most MAX_RECENT): the page reads top to bottom, no gaps.
            rows = sum(self.recent_list.sizeHintForRow(i) for i in range(len(items)))
            self.recent_list.setFixedHeight(rows + 2 * self.recent_list.frameWidth() + 4)
        self.recent_list.setVisible(bool(items))
        self.no_recent.setVisible(not items)

    def recent_locations(self) -> list[str]:
        return [self.recent_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.recent_list.count())]


def _action_button(action: QAction) -> QPushButton:
    """A button that triggers ``action`` and follows its text, tooltip and enabled state."""
    button = QPushButton()
    button.setObjectName(f"start_{action.objectName().removeprefix('action_')}")

    def sync() -> None:
        text = action.text()
        keys = action.shortcut().toString(action.shortcut().SequenceFormat.NativeText)
        button.setText(text)
        button.setToolTip(f"{action.statusTip()} ({keys})" if keys else action.statusTip())
        button.setEnabled(action.isEnabled())

    sync()
    action.changed.connect(sync)
    button.clicked.connect(action.trigger)
    return button

