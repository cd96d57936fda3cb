"""Context menus and Copy for the item views, made in one place: each view says what its rows
are (:class:`Item` lists), :class:`ViewMenu` turns them into the right-click menu and the keys.

The same keys everywhere, taken only while the view has focus (a ``ShortcutOverride`` the view
accepts), so they never clash with the main window's shortcuts:

* Ctrl+C copies the selection as text: a table's rows tab-separated, its visible columns in the
  order shown; the JSON viewer copies the node's value. Ctrl+Shift+C copies the row's identifier
  (run id, step index, JSON pointer, rule id, reason code).
* Ctrl+F opens the view's find bar where it has one (the step table, the JSON viewer). Anywhere
  else Ctrl+F stays View → Find Run, the runs list's search box; that menu item reaches it from
  the step table and the JSON viewer too.
* The Menu key or Shift+F10 opens the context menu at the current row.

Copies are bounded, so a huge selection or payload never freezes the window: at most
:data:`MAX_COPY_ROWS` rows, only rows already read (a step table of a million rows is never
walked, and nothing is read for a copy), and at most :data:`MAX_COPY_CHARS` characters. What was
left out is said in the status bar (a ``QStatusTipEvent``, which reaches the window's status bar
from any view).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence, QStatusTipEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QMenu, QTableView, QTreeView

from inspector.jsondoc import bounded_json, scalar_text, text_without_surrogates
from inspector.model import RunSummary, StepRow
from ui.format import shorten

__all__ = [
    "Copied",
    "Entry",
    "FindTarget",
    "Item",
    "MAX_COPY_CHARS",
    "MAX_COPY_ROWS",
    "RunViews",
    "ViewMenu",
    "copy_json",
    "copy_text",
    "finding_items",
    "install_run_menus",
    "json_items",
    "json_value_copy",
    "menu_of",
    "record_items",
    "reason_items",
    "record_json",
    "run_items",
    "selection_text",
    "step_items",
    "visible_columns",
]

#: Rows a copy takes at most (the rest are named in the status bar).
MAX_COPY_ROWS = 10_000
#: Characters a copy puts on the clipboard at most: the detail view's raw-text limit. Writing a
#: value's JSON costs about 0.2 s per million characters on the GUI thread: no more than that.
MAX_COPY_CHARS = 1_000_000
_CELL = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
_COPY_ID = "Ctrl+Shift+C"


@dataclass(frozen=True, slots=True)
class Copied:
    """What a copy gives: the text (None: nothing goes to the clipboard) and what to tell the user."""

    text: str | None
    note: str


@dataclass(frozen=True, slots=True)
class Item:
    """A menu entry: ``copy`` gives what goes to the clipboard, or ``do`` does something. ``keys``
    work while the view has focus (and show in the menu)."""

    text: str
    do: Callable[[], object] | None = None
    copy: Callable[[], str | Copied] | None = None
    keys: QKeySequence.StandardKey | str | None = None
    enabled: bool = True
    tip: str = ""
    name: str = ""


#: A menu entry: ours, a shared window action (its own shortcut, state and tooltip), or a separator.
Entry = Item | QAction | None


class FindTarget(Protocol):
    """A view's find bar, as the menu and the keys need it."""

    @property
    def active(self) -> bool: ...
    def open(self) -> None: ...
    def next(self) -> None: ...
    def previous(self) -> None: ...


def copy_text(text: str, what: str) -> Copied:
    """A string as it is, unless it is over :data:`MAX_COPY_CHARS`; a lone surrogate (which the
    clipboard would drop without a word) is written as its ``\\uXXXX`` escape, and the note says so."""
    if len(text) > MAX_COPY_CHARS:
        return Copied(None, f"Not copied: {what} is {len(text):,} characters, over the {MAX_COPY_CHARS:,} a copy "
                            "takes (Save to file… writes a whole payload)")
    text, escaped = text_without_surrogates(text)
    if escaped:
        return Copied(text, f"Copied {what} ({escaped:,} lone surrogate{'s' if escaped != 1 else ''} "
                            "written as \\u escapes)")
    return Copied(text, f"Copied {what}")


def copy_json(value: Any, what: str) -> Copied:
    """A value as indented JSON, unless its text is over :data:`MAX_COPY_CHARS` (found without
    writing more than that)."""
    text, complete = bounded_json(value, MAX_COPY_CHARS)
    if not complete:
        return Copied(None, f"Not copied: {what} is over {MAX_COPY_CHARS:,} characters as JSON (Save to file… "
                            "writes a whole payload)")
    return Copied(text, f"Copied {what} as JSON")


def record_json(record: Any) -> Any:
    """A table row's record as JSON: its own ``as_json``/``to_json`` where it has one, a
    dataclass by its fields, a dict as it is."""
    for name in ("as_json", "to_json"):
        method = getattr(record, name, None)
        if callable(method):
            return method()
    from inspector.serialize import logs_to_json

    return logs_to_json(record)


# -- selections as text ---------------------------------------------------------------------------


def visible_columns(view: QAbstractItemView) -> list[int]:
    """The model columns the view shows, in the order shown."""
    model = view.model()
    header = view.horizontalHeader() if isinstance(view, QTableView) else (
        view.header() if isinstance(view, QTreeView) else None)
    if header is None:
        return [getattr(view, "modelColumn", lambda: 0)()]
    return [c for c in (header.logicalIndex(v) for v in range(header.count()))
            if c >= 0 and not header.isSectionHidden(c) and c < model.columnCount()]


def _path(index: QModelIndex) -> tuple[int, ...]:
    rows = []
    while index.isValid():
        rows.append(index.row())
        index = index.parent()
    return tuple(reversed(rows))


def _selected_spans(view: QAbstractItemView) -> list[tuple[QModelIndex, int, int]]:
    """(parent, first row, last row) of the selected rows, merged, in the order the view lists
    them; the current row when nothing is selected. Made from the selection's ranges: a million
    selected rows are one range, never a million indexes."""
    sm = view.selectionModel()
    spans: dict[tuple[int, ...], tuple[QModelIndex, list[tuple[int, int]]]] = {}
    if sm is not None:
        for r in sm.selection():
            parent = r.parent()
            key = _path(parent)
            spans.setdefault(key, (QModelIndex(parent), []))[1].append((r.top(), r.bottom()))
    if not spans:
        current = view.currentIndex()
        if not current.isValid():
            return []
        return [(current.parent(), current.row(), current.row())]
    out = []
    for key in sorted(spans):
        parent, ranges = spans[key]
        ranges.sort()
        merged: list[list[int]] = []
        for top, bottom in ranges:
            if merged and top <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], bottom)
            else:
                merged.append([top, bottom])
        out.extend((parent, a, b) for a, b in merged)
    return out


def selection_text(view: QAbstractItemView, loaded: Callable[[int], bool] | None = None, *,
                   max_rows: int = MAX_COPY_ROWS, max_chars: int = MAX_COPY_CHARS) -> Copied:
    """The selected rows as tab-separated text (visible columns, in the order shown): at most
    ``max_rows`` of them looked at and ``max_chars`` characters; rows ``loaded`` says are not read
    yet are left out (a lazy model is never asked to read a row for a copy)."""
    model = view.model()
    spans = _selected_spans(view)
    if model is None or not spans:
        return Copied(None, "Nothing selected to copy")
    columns = visible_columns(view)
    total = sum(b - a + 1 for _, a, b in spans)
    lines: list[str] = []
    looked = skipped = size = 0
    cut = False
    display = Qt.ItemDataRole.DisplayRole
    for parent, first, last in spans:
        for row in range(first, last + 1):
            if looked >= max_rows or cut:
                break
            looked += 1
            if loaded is not None and not parent.isValid() and not loaded(row):
                skipped += 1
                continue
            cells = []
            for c in columns:
                value = model.data(model.index(row, c, parent), display)
                cells.append("" if value is None else str(value).translate(_CELL))
            line = "\t".join(cells)
            if size + len(line) > max_chars:
                cut = True
                break
            lines.append(line)
            size += len(line) + 1
    if not lines:
        why = "the selected rows are not read yet" if skipped else "the row is longer than a copy takes"
        return Copied(None, f"Nothing copied: {why}")
    n = len(lines)
    note = f"Copied {n:,} row{'s' if n != 1 else ''}"
    extra = []
    if looked < total and not cut:
        extra.append(f"the first {looked:,} of {total:,} selected")
    if skipped:
        extra.append(f"{skipped:,} not read yet left out")
    if cut:
        extra.append(f"stopped at {max_chars:,} characters")
    if extra:
        note += " (" + "; ".join(extra) + ")"
    return Copied("\n".join(lines), note)


# -- the menu and the keys ------------------------------------------------------------------------


def _matches(event: QKeyEvent, keys: QKeySequence.StandardKey | str) -> bool:
    if isinstance(keys, QKeySequence.StandardKey):
        return event.matches(keys)
    return QKeySequence(keys).matches(QKeySequence(event.keyCombination())) == QKeySequence.SequenceMatch.ExactMatch


def _is_menu_key(event: QKeyEvent) -> bool:
    return event.key() == Qt.Key.Key_Menu or (
        event.key() == Qt.Key.Key_F10 and event.modifiers() == Qt.KeyboardModifier.ShiftModifier)


_NEEDS_ENTRIES = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier


class ViewMenu(QObject):
    """The context menu and keys of one item view. ``entries(index)`` lists what the menu holds
    for the row at ``index`` (an invalid index: the empty space below the rows); the default is
    :meth:`copy_items`. ``loaded(row)`` says whether a row of a lazy model is read; ``find`` is the
    view's find bar. :meth:`menu_for` builds the menu without showing it (tests, screenshots)."""

    #: What a copy did (also sent to the window's status bar).
    said = Signal(str)

    def __init__(self, view: QAbstractItemView, entries: Callable[[QModelIndex], Sequence[Entry]] | None = None, *,
                 loaded: Callable[[int], bool] | None = None, find: FindTarget | None = None) -> None:
        super().__init__(view)
        self.setObjectName("viewMenu")
        self.view = view
        self._entries = entries or self.copy_items
        self._loaded = loaded
        self.find = find
        #: Window actions shown at the end of every menu (Find in Run…).
        self.extra: list[Entry] = []
        self.last_note = ""
        #: The menu shown last (it deletes itself when closed).
        self.shown: QMenu | None = None
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self.popup)
        view.installEventFilter(self)

    def set_entries(self, entries: Callable[[QModelIndex], Sequence[Entry]]) -> None:
        self._entries = entries

    # -- what the menu holds -------------------------------------------------------------------

    def copy_items(self, index: QModelIndex) -> list[Entry]:
        """Copy Row(s) (Ctrl+C: the selection) and, in a table of several columns, Copy Cell."""
        spans = _selected_spans(self.view)
        rows = sum(b - a + 1 for _, a, b in spans)
        items: list[Entry] = [Item("Copy Rows" if rows > 1 else "Copy Row", copy=self.copy_selection,
                                   keys=QKeySequence.StandardKey.Copy, enabled=rows > 0, name="copy",
                                   tip="The selected rows, tab-separated, as the columns show them")]
        if index.isValid() and len(visible_columns(self.view)) > 1:
            readable = self._loaded is None or index.parent().isValid() or self._loaded(index.row())
            value = index.data(Qt.ItemDataRole.DisplayRole) if readable else None
            items.append(Item("Copy Cell", copy=lambda: Copied("" if value is None else str(value), "Copied the cell"),
                              enabled=readable, name="copy_cell"))
        return items

    def entries_for(self, index: QModelIndex) -> list[Entry]:
        out = list(self._entries(index))
        tail: list[Entry] = []
        if self.find is not None:
            tail.append(Item("Find…", self.find.open, keys=QKeySequence.StandardKey.Find, name="find",
                             tip="Find text in this view (Esc closes the find bar)"))
            if self.find.active:
                tail += [Item("Find Next", self.find.next, keys="F3", name="find_next"),
                         Item("Find Previous", self.find.previous, keys="Shift+F3", name="find_previous")]
        tail += self.extra
        if tail:
            out += [None, *tail]
        return out

    def menu_for(self, index: QModelIndex) -> QMenu:
        """The context menu for the row at ``index`` (not shown; the caller owns it)."""
        menu = QMenu(self.view)
        menu.setObjectName("contextMenu")
        menu.setToolTipsVisible(True)
        last_separator = True
        for entry in self.entries_for(index):
            if entry is None:
                if not last_separator:
                    menu.addSeparator()
                last_separator = True
                continue
            last_separator = False
            menu.addAction(entry if isinstance(entry, QAction) else self._action(entry, menu))
        actions = menu.actions()
        if actions and actions[-1].isSeparator():
            menu.removeAction(actions[-1])
        return menu

    def _action(self, item: Item, menu: QMenu) -> QAction:
        action = QAction(item.text, menu)
        if item.name:
            action.setObjectName(f"context_{item.name}")
        if item.keys is not None:
            action.setShortcut(QKeySequence(item.keys))
            # Shown, and working only while the menu is open: the view's own filter does the rest.
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.setShortcutVisibleInContextMenu(True)
        action.setEnabled(item.enabled)
        if item.tip:
            action.setToolTip(item.tip)
        action.triggered.connect(lambda _=False, it=item: self.run(it))
        return action

    def popup(self, pos: QPoint) -> QMenu:
        """Show the menu for the row at ``pos`` (viewport coordinates)."""
        menu = self.menu_for(self.view.indexAt(pos))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.shown = menu
        menu.popup(self.view.viewport().mapToGlobal(pos))
        return menu

    def popup_at_current(self) -> QMenu:
        current = self.view.currentIndex()
        rect = self.view.visualRect(current) if current.isValid() else None
        pos = QPoint(rect.left() + 8, rect.bottom()) if rect is not None and not rect.isEmpty() else QPoint(8, 8)
        return self.popup(pos)

    # -- doing ---------------------------------------------------------------------------------

    def run(self, item: Item) -> None:
        if not item.enabled:
            return
        if item.copy is not None:
            self.put(item.copy())
        elif item.do is not None:
            item.do()

    def put(self, copied: str | Copied) -> None:
        """Put a copy on the clipboard and say what it was."""
        if isinstance(copied, str):
            copied = Copied(copied, "Copied")
        if copied.text is not None:
            QGuiApplication.clipboard().setText(copied.text)
        self.say(copied.note)

    def say(self, note: str) -> None:
        self.last_note = note
        self.said.emit(note)
        QApplication.sendEvent(self.view, QStatusTipEvent(note))

    def copy_selection(self) -> Copied:
        return selection_text(self.view, self._loaded)

    def _keyed(self, event: QKeyEvent) -> Item | None:
        """The entry of the current row whose keys these are (entries are listed for key
        presses with Ctrl, Alt or a function key only: typing to jump to a row costs nothing)."""
        if not (event.modifiers() & _NEEDS_ENTRIES) and not Qt.Key.Key_F1 <= event.key() <= Qt.Key.Key_F35:
            return None
        for entry in self.entries_for(self.view.currentIndex()):
            if isinstance(entry, Item) and entry.keys is not None and entry.enabled and _matches(event, entry.keys):
                return entry
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if _is_menu_key(event) or self._keyed(event) is not None:
                event.accept()  # ours while the view has focus: no window shortcut takes it
                return True
        elif kind == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if _is_menu_key(event):
                self.popup_at_current()
                return True
            item = self._keyed(event)
            if item is not None:
                self.run(item)
                return True
        return False


def menu_of(view: QAbstractItemView) -> ViewMenu | None:
    """The :class:`ViewMenu` of a view (the record tables' factory gives every table one)."""
    return view.findChild(ViewMenu, "viewMenu")


# -- the runs: the runs list, the run tree, the step table ---------------------------------------------

#: The Run menu's actions on the selected run, in the context menus of the runs.
_RUN_ACTIONS = (("compare_original", "compare_with", "replay_check", "idempotency"), ("export_run", "export_filtered"))


def run_items(run: RunSummary | None, copies: Sequence[Entry] = ()) -> list[Entry]:
    """Copy Run ID (Ctrl+Shift+C), Copy Trace ID (Postgres), then ``copies`` (the view's Copy
    Row, Copy Cell), then Copy as JSON."""
    if run is None:
        return list(copies)
    from inspector.serialize import run_summary_to_json

    items: list[Entry] = [Item("Copy Run ID", copy=lambda: copy_text(run.run_id, f"run id {run.run_id}"),
                               keys=_COPY_ID, name="copy_run_id")]
    if run.trace_id:
        items.append(Item("Copy Trace ID", copy=lambda: copy_text(run.trace_id or "", f"trace id {run.trace_id}"),
                          name="copy_trace_id"))
    return [*items, *copies, Item("Copy as JSON", copy=lambda: copy_json(run_summary_to_json(run), f"run {run.run_id}"),
                                  name="copy_json")]


class RunViews(Protocol):
    """What the runs' menus need of the main window."""

    runs_view: QTableView
    run_tree_view: QTreeView
    actions_by_name: dict[str, QAction]

    def current_run(self) -> RunSummary | None: ...
    def select_run(self, key: str) -> bool: ...


def install_run_menus(w: RunViews) -> tuple[ViewMenu, ViewMenu]:
    """The context menus of the runs list and the run tree: copies, and the Run menu's own
    actions (their state and tooltips are the menu's: Compare With Original says why it is off)."""
    from ui.qt.models.run_tree import NODE_ROLE

    actions = w.actions_by_name
    run_actions: list[Entry] = []
    for group in _RUN_ACTIONS:
        run_actions += [None, *(actions[n] for n in group)]
    runs_model = w.runs_view.model()
    runs_menu = ViewMenu(w.runs_view, loaded=lambda row: runs_model.run_at(row, request=False) is not None)

    def runs_entries(index: QModelIndex) -> list[Entry]:
        run = runs_model.run_at(index.row(), request=False) if index.isValid() else None
        return [*run_items(run, runs_menu.copy_items(index)), *run_actions]

    runs_menu.set_entries(runs_entries)
    tree_menu = ViewMenu(w.run_tree_view)

    def tree_entries(index: QModelIndex) -> list[Entry]:
        run = index.data(NODE_ROLE) if index.isValid() else None
        entries = run_items(run, tree_menu.copy_items(index))
        if run is None:
            return entries
        current = w.current_run()
        if current is not None and current.key == run.key:
            return entries + run_actions
        listed = runs_model.row_of(run.key) is not None
        return entries + [None, Item(
            "Show in Runs List", lambda: w.select_run(run.key), enabled=listed, name="show_in_list",
            tip="Select it in the runs list: the Run menu then acts on it" if listed
            else "Not in the runs list as filtered (Show All Runs lists it)")]

    tree_menu.set_entries(tree_entries)
    return runs_menu, tree_menu


# -- steps, JSON nodes, findings, reasons, records ---------------------------------------------------


def step_items(step: StepRow | None, step_index: Any, copies: Sequence[Entry] = ()) -> list[Entry]:
    """Copy Step Index (Ctrl+Shift+C; known before the row is read), ``copies``, and for a read
    row Copy as JSON."""
    items: list[Entry] = []
    if step_index is not None:
        items.append(Item("Copy Step Index", copy=lambda: Copied(str(step_index), f"Copied step index {step_index}"),
                          keys=_COPY_ID, name="copy_step_id"))
    items += copies
    if step is not None:
        from inspector.serialize import step_row_to_json

        items.append(Item("Copy as JSON", copy=lambda: copy_json(step_row_to_json(step), f"step {step.step_index}"),
                          name="copy_json", tip="The step's fields (its payloads are in the detail panel)"))
    return items


def json_value_copy(value: Any, what: str) -> Copied:
    """Copy Value: a string as itself, any other value as JSON writes it."""
    if isinstance(value, str):
        return copy_text(value, what)
    if isinstance(value, (dict, list)):
        return copy_json(value, what)
    return Copied(scalar_text(value), f"Copied {what}")


def json_items(node: tuple[str, Any, str] | None) -> list[Entry]:
    """A JSON node ``(key, value, pointer)``: Copy Value (Ctrl+C), Copy Key, Copy JSON Pointer
    (Ctrl+Shift+C, RFC 6901), Copy as JSON."""
    if node is None:
        return []
    key, value, pointer = node
    # Notes and tooltips name a key or pointer shortened: either can be megabytes long.
    shown = shorten(pointer or "/", 120)
    return [
        Item("Copy Value", copy=lambda: json_value_copy(value, f"the value of {shown}"),
             keys=QKeySequence.StandardKey.Copy, name="copy_value",
             tip="A string as it is; anything else as JSON"),
        Item("Copy Key", copy=lambda: copy_text(key, f"the key {shorten(repr(key), 120)}"), name="copy_key"),
        Item("Copy JSON Pointer", copy=lambda: copy_text(pointer, f"the JSON pointer {shown}"), keys=_COPY_ID,
             name="copy_pointer", tip=f"RFC 6901: {shown} (\"\" is the whole document)"),
        Item("Copy as JSON", copy=lambda: copy_json(value, f"the value of {shown}"), name="copy_json"),
    ]


def record_items(record: Any, name: str = "the row") -> list[Entry]:
    """Copy as JSON for a table row's record (see :func:`record_json`)."""
    if record is None:
        return []
    return [Item("Copy as JSON", copy=lambda: copy_json(record_json(record), name), name="copy_json")]


def reason_items(reason: Any) -> list[Entry]:
    """A grade's reason (``inspector.evidence.Reason``): Copy Message (Ctrl+C), Copy Code
    (Ctrl+Shift+C), Copy as JSON."""
    if reason is None:
        return []
    return [
        Item("Copy Message", copy=lambda: copy_text(reason.message, "the reason's message"),
             keys=QKeySequence.StandardKey.Copy, name="copy_message"),
        Item("Copy Code", copy=lambda: Copied(reason.code, f"Copied reason code {reason.code}"), keys=_COPY_ID,
             name="copy_code"),
        *record_items(reason, f"reason {reason.code}"),
    ]


def finding_items(rule_id: str | None, record: Any, copies: Sequence[Entry] = ()) -> list[Entry]:
    """A consistency finding: Copy Rule ID (Ctrl+Shift+C), ``copies``, Copy as JSON."""
    if rule_id is None:
        return list(copies)
    return [Item("Copy Rule ID", copy=lambda: Copied(rule_id, f"Copied rule id {rule_id}"), keys=_COPY_ID,
                 name="copy_rule_id"), *copies, *record_items(record, f"finding {rule_id}")]
