"""The find bar of a view (Ctrl+F in the step table and the JSON viewer): a text box, previous and
next, the number of matches; Esc closes it and gives the view its focus back.

Two searches drive it, both bounded on the GUI thread:

* :class:`TableFind` looks in the rows a lazy table has read (the step table keeps at most 64
  pages: 6,400 rows), in the columns it shows, and says so; the whole run is searched by Find in
  Run (``inspector.services.search`` on a worker), which its "Whole Run…" button starts.
* :class:`JsonFind` looks in a JSON document's keys and values with
  :class:`~inspector.jsondoc.JsonSearch`, a few thousand nodes per turn of the event loop, so a
  payload of any size is searched without freezing the window (and without building the tree
  beyond the nodes it shows).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QToolButton, QTreeView, QWidget

from inspector.jsondoc import JsonMatch, JsonSearch
from ui.format import shorten
from ui.qt.context import visible_columns
from ui.qt.theme import muted, set_invalid

__all__ = ["FindBar", "JSON_STEP_NODES", "JUMP_CONTAINER_LIMIT", "JsonFind", "TableFind"]

#: Nodes of a JSON document searched per turn of the event loop (~13 ms).
JSON_STEP_NODES = 5_000
#: A match inside a container of more items than this, not opened yet, is named, not opened.
JUMP_CONTAINER_LIMIT = 10_000

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class FindBar(QWidget):
    """The bar itself; a search (:class:`TableFind`, :class:`JsonFind`) listens to it. Enter or F3:
    next match; Shift+Enter or Shift+F3: previous; Esc: close."""

    changed = Signal(str)
    next_requested = Signal()
    previous_requested = Signal()
    closed = Signal()
    #: "Whole Run…" (when the bar has that button): the text.
    whole_requested = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None, *, whole: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.edit = QLineEdit()
        self.edit.setObjectName("findText")
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(150)
        self.edit.installEventFilter(self)
        self.edit.textChanged.connect(self.changed)
        self.previous_button = QToolButton()
        self.previous_button.setObjectName("findPrevious")
        self.previous_button.setText("▲")
        self.previous_button.setToolTip("Previous match (Shift+Enter, Shift+F3)")
        self.previous_button.clicked.connect(self.previous_requested)
        self.next_button = QToolButton()
        self.next_button.setObjectName("findNext")
        self.next_button.setText("▼")
        self.next_button.setToolTip("Next match (Enter, F3)")
        self.next_button.clicked.connect(self.next_requested)
        self.count = QLabel()
        self.count.setObjectName("findCount")
        muted(self.count)
        self.whole_button: QToolButton | None = None
        close = QToolButton()
        close.setObjectName("findClose")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Close the find bar (Esc)")
        close.clicked.connect(self.close_bar)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(4)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.count)
        if whole is not None:
            self.whole_button = QToolButton()
            self.whole_button.setObjectName("findWhole")
            self.whole_button.setText("Whole Run…")
            self.whole_button.setToolTip(whole)
            self.whole_button.clicked.connect(lambda: self.whole_requested.emit(self.edit.text()))
            layout.addWidget(self.whole_button)
        layout.addWidget(close)
        self.hide()

    @property
    def text(self) -> str:
        return self.edit.text()

    def open(self) -> None:
        """Show the bar with its text selected (typing replaces it); the search runs again."""
        was_hidden = self.isHidden()
        self.show()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()
        if was_hidden and self.edit.text():
            self.changed.emit(self.edit.text())

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    def set_count(self, text: str, *, missing: bool = False) -> None:
        self.count.setText(text)
        set_invalid(self.edit, missing)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) or not isinstance(event, QKeyEvent):
            return False
        key = event.key()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key not in (Qt.Key.Key_Escape, Qt.Key.Key_F3, *_ENTER):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # Esc closes the bar, not the window the bar is in
            return True
        if key == Qt.Key.Key_Escape:
            self.close_bar()
        elif shift:
            self.previous_requested.emit()
        else:
            self.next_requested.emit()
        return True


class TableFind(QObject):
    """Finds text in the rows a table has read, in the columns it shows (case-insensitive).
    ``rows()`` gives ``(row, cell texts by column)`` of the rows read; ``noun`` names them."""

    def __init__(self, view: QAbstractItemView, bar: FindBar, rows: Callable[[], Iterable[tuple[int, Sequence[str]]]],
                 *, noun: str = "rows") -> None:
        super().__init__(bar)
        self.view = view
        self.bar = bar
        self._rows = rows
        self._noun = noun
        self.matches: list[int] = []
        self._loaded = 0
        bar.changed.connect(lambda _text: self.search(jump=True))
        bar.next_requested.connect(self.next)
        bar.previous_requested.connect(self.previous)
        bar.closed.connect(view.setFocus)
        model = view.model()
        model.modelReset.connect(self._reset)
        # Rows read since (a page painted, another run's first page): counted again, once the
        # reads of a scroll have come in.
        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(150)
        self._recount.timeout.connect(lambda: self.active and self.search())
        model.rowsInserted.connect(self._recount.start)
        model.dataChanged.connect(self._recount.start)

    @property
    def active(self) -> bool:
        return not self.bar.isHidden() and bool(self.bar.text)

    def open(self) -> None:
        self.bar.open()

    def _reset(self) -> None:
        self.matches = []
        if not self.bar.isHidden():
            self.bar.set_count("")

    def search(self, *, jump: bool = False) -> list[int]:
        """The rows read that hold the text (looked for again: rows come and go as they are read)."""
        needle = self.bar.text.casefold()
        self.matches = []
        self._loaded = 0
        if needle:
            columns = visible_columns(self.view)
            found = []
            for row, texts in self._rows():
                self._loaded += 1
                if any(needle in texts[c].casefold() for c in columns if c < len(texts)):
                    found.append(row)
            found.sort()
            self.matches = found
            if jump and found:
                current = self.view.currentIndex().row()
                self._go(found[bisect.bisect_left(found, max(current, 0))] if current <= found[-1] else found[0])
        self._show_count()
        return self.matches

    def next(self) -> None:
        self._move(forward=True)

    def previous(self) -> None:
        self._move(forward=False)

    def _move(self, *, forward: bool) -> None:
        if not self.bar.text:
            self.bar.open()
            return
        found = self.search()
        if not found:
            return
        current = self.view.currentIndex().row()
        if forward:
            at = bisect.bisect_right(found, current)
            self._go(found[at] if at < len(found) else found[0])
        else:
            at = bisect.bisect_left(found, current) - 1
            self._go(found[at] if at >= 0 else found[-1])
        self._show_count()

    def _go(self, row: int) -> None:
        model = self.view.model()
        index = model.index(row, max(0, self.view.currentIndex().column()))
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _show_count(self) -> None:
        if not self.bar.text:
            self.bar.set_count("")
            return
        total = self.view.model().rowCount()
        partial = self._loaded < total
        where = f" · {self._loaded:,}/{total:,} {self._noun} read" if partial else ""
        self.bar.count.setToolTip(f"Found in the {self._loaded:,} {self._noun} read so far, of {total:,}: "
                                  "Whole Run… searches them all" if partial else "")
        if not self.matches:
            self.bar.set_count(f"No match{where}", missing=True)
            return
        current = self.view.currentIndex().row()
        at = bisect.bisect_left(self.matches, current)
        pos = f"{at + 1:,}" if at < len(self.matches) and self.matches[at] == current else "–"
        self.bar.set_count(f"{pos} of {len(self.matches):,}{where}")


class JsonFind(QObject):
    """Finds text in the keys and values of a :class:`~ui.qt.models.json_tree.JsonTreeModel`'s
    document, a bounded number of nodes per turn of the event loop; the first match is selected as
    soon as it is found, the count grows as the search goes on."""

    def __init__(self, tree: QTreeView, bar: FindBar, *, step_nodes: int = JSON_STEP_NODES) -> None:
        super().__init__(bar)
        self.tree = tree
        self.bar = bar
        self.model: Any = tree.model()
        self._step_nodes = step_nodes
        self.search: JsonSearch | None = None
        self._jumped = False
        #: Why the last match was not shown (inside a container too big to open), or None.
        self._not_opened: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._tick)
        bar.changed.connect(lambda _text: self.restart())
        bar.next_requested.connect(self.next)
        bar.previous_requested.connect(self.previous)
        bar.closed.connect(self._closed)
        self.model.modelReset.connect(self._document_changed)

    @property
    def active(self) -> bool:
        return not self.bar.isHidden() and bool(self.bar.text)

    @property
    def searching(self) -> bool:
        return self._timer.isActive()

    def open(self) -> None:
        self.bar.open()

    def _closed(self) -> None:
        self._timer.stop()
        self.tree.setFocus()

    def _document_changed(self) -> None:
        """Another payload: searched again if the bar is open."""
        if not self.bar.isHidden() and self.bar.text:
            self.restart()
        else:
            self._timer.stop()
            self.search = None

    def restart(self) -> None:
        self._timer.stop()
        self._jumped = False
        present, value = self.model.document
        text = self.bar.text
        self.search = JsonSearch(value, text) if present and text else None
        if self.search is not None and not self.search.done:
            self._timer.start()
        self._tick_once()

    def _tick(self) -> None:
        if self.search is None or self.search.step(self._step_nodes):
            self._timer.stop()
        self._tick_once()

    def _tick_once(self) -> None:
        search = self.search
        if search is not None and search.matches and not self._jumped:
            self._jumped = True
            self._go(search.matches[0])
        self._show_count()

    def finish(self) -> None:
        """Search to the end at once (tests; a small document)."""
        while self.search is not None and not self.search.done:
            self.search.step(self._step_nodes)
        self._timer.stop()
        self._tick_once()

    def next(self) -> None:
        self._move(forward=True)

    def previous(self) -> None:
        self._move(forward=False)

    def _current_rows(self) -> tuple[int, ...] | None:
        current = self.tree.currentIndex()
        return self.model.rows_of(current) if current.isValid() else None

    def _move(self, *, forward: bool) -> None:
        if not self.bar.text:
            self.bar.open()
            return
        search = self.search
        if search is None or not search.matches:
            return
        keys = [m.rows for m in search.matches]
        current = self._current_rows()
        if current is None:
            match = search.matches[0 if forward else -1]
        elif forward:
            at = bisect.bisect_right(keys, current)
            match = search.matches[at] if at < len(keys) else search.matches[0]
        else:
            at = bisect.bisect_left(keys, current) - 1
            match = search.matches[at] if at >= 0 else search.matches[-1]
        self._jumped = True
        self._go(match)
        self._show_count()

    def _go(self, match: JsonMatch) -> None:
        big = self._big_container(match)
        self._not_opened = None
        if big is not None:
            # Opening it would make and lay out every item on the GUI thread (a million-item array:
            # 21 s): the match is named instead, and expanding the container is the user's call.
            self._not_opened = (f"at {shorten(match.pointer, 120)}, inside {big:,} items: not opened "
                                "(expand it to go there)")
            return
        index = self.model.index_at(match.rows)
        if not index.isValid():
            return
        parent = index.parent()
        while parent.isValid():
            self.tree.expand(parent)
            parent = parent.parent()
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)

    def _big_container(self, match: JsonMatch) -> int | None:
        """The size of the first container on the way to ``match`` with more than
        ``JUMP_CONTAINER_LIMIT`` items whose rows the tree has not made yet, or None."""
        present, value = self.model.document
        rows = ()
        for key in match.keys:
            if not isinstance(value, (dict, list)):
                return None
            if len(value) > JUMP_CONTAINER_LIMIT and not self.model.has_children_made(rows):
                return len(value)
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return None
            rows = match.rows[:len(rows) + 1]
        return None

    def _show_count(self) -> None:
        search = self.search
        if search is None:
            self.bar.set_count("")
            return
        n = len(search.matches)
        if not search.done:
            self.bar.set_count(f"{n:,} so far…")
            return
        if not n:
            where = f" in the first {search.visited:,} nodes" if search.stopped == "nodes" else ""
            self.bar.set_count(f"No match{where}", missing=True)
            return
        current = self._current_rows()
        keys = [m.rows for m in search.matches]
        at = bisect.bisect_left(keys, current) if current is not None else len(keys)
        pos = f"{at + 1:,}" if at < len(keys) and keys[at] == current else "–"
        if search.stopped == "matches":
            text = f"{pos} of the first {n:,} matches"
        elif search.stopped == "nodes":
            text = f"{pos} of {n:,} in the first {search.visited:,} nodes"
        else:
            text = f"{pos} of {n:,}"
        if self._not_opened is not None and pos == "–":
            text += f" · {self._not_opened}"
        self.bar.set_count(text)
