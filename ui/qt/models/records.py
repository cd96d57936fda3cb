"""Tables of immutable records: a column's text made once by a pure function (``texts_for``, run on
a worker: formatting costs more than painting), a model that serves the cached texts in one call
per cell, and the one factory for the read-only table views over it (logs, ledger, evidence,
replay check, idempotency), with their context menu and Ctrl+C."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from ui.qt.models.fast import SELECTABLE, MultiDataMixin

__all__ = ["RECORD_ROLE", "Column", "RecordTableModel", "record_table_view", "texts_for"]

RECORD_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
_DISPLAY = Qt.ItemDataRole.DisplayRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_RIGHT_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
#: Roles a model's ``styler`` is asked about; every other role is answered (or not) by the model.
_PAINTED_ROLES = frozenset({
    Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
})
_STYLED_ROLES = frozenset({
    Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ToolTipRole,
})

@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header, how a record shows in it (pure, so a worker can run it), a width in
    characters, and whether it holds numbers (right-aligned)."""

    header: str
    text: Callable[[Any], str]
    chars: int = 14
    numeric: bool = False
    tip: str | None = None


def texts_for(columns: Sequence[Column], records: Sequence[Any]) -> list[tuple[str, ...]]:
    """Every cell of ``records`` as shown (worker side: formatting costs more than painting)."""
    return [tuple(c.text(r) for c in columns) for r in records]


class RecordTableModel(MultiDataMixin, QAbstractTableModel):
    """A table over a list of immutable records, cells formatted once. ``RECORD_ROLE`` gives the
    record; ``styler(record, column header, role)`` answers decoration, colours, font and tooltips."""

    def __init__(
        self,
        columns: Sequence[Column],
        parent=None,
        *,
        styler: Callable[[Any, str, int], Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self._styler = styler
        self._records: list[Any] = []
        self._texts: list[tuple[str, ...]] = []

    def set_rows(self, records: Sequence[Any], texts: Sequence[tuple[str, ...]] | None = None) -> None:
        self.beginResetModel()
        self._records = list(records)
        self._texts = list(texts) if texts is not None else texts_for(self.columns, self._records)
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([], [])

    def record_at(self, row: int) -> Any:
        return self._records[row] if 0 <= row < len(self._records) else None

    @property
    def records(self) -> list[Any]:
        return list(self._records)

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == _DISPLAY:
            return self.columns[section].header
        if role == _TOOLTIP:
            return self.columns[section].tip
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return SELECTABLE if index.isValid() else Qt.ItemFlag.NoItemFlags

    def multiData(self, index: _Index, roleDataSpan) -> None:
        """One call per painted cell (ui.qt.models.fast): the text from the cache, alignment from
        the column, and only the roles the styler paints (tooltips are asked for on hover)."""
        row, column = index.row(), index.column()
        if not (index.isValid() and 0 <= row < len(self._records) and 0 <= column < len(self.columns)):
            return super().multiData(index, roleDataSpan)
        text = self._texts[row][column]
        numeric = self.columns[column].numeric
        styler, record, header = self._styler, self._records[row], self.columns[column].header
        for role_data in roleDataSpan:
            role = role_data.role()
            if role == _DISPLAY:
                role_data.setData(text)
            elif role == _ALIGN and numeric:
                role_data.setData(_RIGHT_ALIGN)
            elif styler is not None and role in _PAINTED_ROLES:
                value = styler(record, header, role)
                if value is None:
                    role_data.clearData()
                else:
                    role_data.setData(QBrush(value) if role == Qt.ItemDataRole.BackgroundRole else value)
            else:
                role_data.clearData()  # the delegate reuses the span from the previous cell

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if not (0 <= row < len(self._records) and 0 <= column < len(self.columns)):
            return None
        if role == _DISPLAY:
            return self._texts[row][column]
        if role == RECORD_ROLE:
            return self._records[row]
        if role == _ALIGN:
            return _RIGHT_ALIGN if self.columns[column].numeric else None
        if role in _STYLED_ROLES:
            value = self._styler(self._records[row], self.columns[column].header, role) if self._styler is not None else None
            if value is None and role == _TOOLTIP:
                text = self._texts[row][column]
                return text if len(text) > 40 else None
            if isinstance(value, QColor) and role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(value)
            return value
        return None


def record_table_view(model: RecordTableModel, name: str, *, extended: bool = False):
    """A read-only table over a :class:`RecordTableModel`: whole rows selected (one, or several
    with ``extended``), no wrapping, fixed row height, columns sized from their character hints.
    The one factory for the logs, ledger, evidence, replay-check and idempotency tables."""
    from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if extended
                          else QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(22)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    fm = view.fontMetrics()
    digit = fm.horizontalAdvance("0")
    for i, col in enumerate(model.columns):
        view.setColumnWidth(i, max(fm.horizontalAdvance(col.header) + 24, digit * col.chars + 16))
    # Right-click and Ctrl+C: the rows as text, a row's record as JSON (ui.qt.context).
    from ui.qt.context import ViewMenu, record_items

    menu = ViewMenu(view)
    menu.set_entries(lambda index: [*menu.copy_items(index),
                                    *record_items(model.record_at(index.row()) if index.isValid() else None)])
    return view
