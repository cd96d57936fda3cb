"""The aligned rows of a comparison (``inspector.compare.Comparison``) as one table model: the left
run's columns, a marker column, the right run's columns. Two views share it (each hides the other
side's columns) and its selection model, so a row selected on one side is selected on the other.

Cells are computed when a view asks for them, from the comparison's rows, steps and hashes: a
100k-row comparison costs no Python object beyond what ``compare_runs`` already made. A streamed
comparison (``inspector.compare_stream``) holds compact columns (about 17 bytes a row, plus each
run's ~70-byte-a-step digest) and builds a row, a step or its hashes when a cell asks: the model
keeps every aligned row browsable without keeping a million objects.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QFontDatabase

from inspector.compare import AlignedRow, Comparison, RowKind
from ui.qt.models.fast import SELECTABLE, MultiDataMixin
from ui.qt.theme import colours

__all__ = [
    "KIND_COLORS",
    "KIND_MARKERS",
    "LEFT_COLUMNS",
    "MARKER_COLUMN",
    "RIGHT_COLUMNS",
    "ROW_ROLE",
    "RULE_COLOR",
    "RULE_MARKER",
    "SIDE_COLUMNS",
    "CompareTableModel",
    "difference_rows",
    "kind_label",
]

ROW_ROLE = Qt.ItemDataRole.UserRole + 1

#: Columns shown for each side, in order.
SIDE_COLUMNS = ("Step", "Skill", "Status", "Code", "Det. hash", "Out hash")
_N = len(SIDE_COLUMNS)
LEFT_COLUMNS = tuple(range(_N))
MARKER_COLUMN = _N
RIGHT_COLUMNS = tuple(range(_N + 1, 2 * _N + 1))
_STEP, _SKILL, _STATUS, _CODE, _DET, _OUT = range(_N)
_SHORT_HASH = 10

#: Marker text per row kind; ``≈`` is an equal row that a rule made equal.
KIND_MARKERS = {RowKind.EQUAL: "=", RowKind.CHANGED: "≠", RowKind.ONLY_LEFT: "−", RowKind.ONLY_RIGHT: "+"}
RULE_MARKER = "≈"
#: (row background, marker background) per kind, as ``ui.qt.theme`` roles; the equal row keeps
#: the view's own background. Markers are drawn in ``marker_text``; the cells that differ within
#: a changed row in ``changed_cell_bg``; the empty side of a one-sided row in ``absent_bg``.
KIND_COLORS = {
    RowKind.EQUAL: (None, "marker_equal"),
    RowKind.CHANGED: ("changed_bg", "marker_changed"),
    RowKind.ONLY_LEFT: ("left_bg", "marker_left"),
    RowKind.ONLY_RIGHT: ("right_bg", "marker_right"),
}
RULE_COLOR = "marker_rule"

_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_FONT = Qt.ItemDataRole.FontRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_RIGHT_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTER = int(Qt.AlignmentFlag.AlignCenter)

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def kind_label(row: AlignedRow, left_name: str = "original", right_name: str = "replay") -> str:
    """What a row's marker means, in words."""
    if row.kind is RowKind.ONLY_LEFT:
        return f"only in the {left_name} (no aligned step in the {right_name})"
    if row.kind is RowKind.ONLY_RIGHT:
        return f"only in the {right_name} (no aligned step in the {left_name})"
    if row.kind is RowKind.CHANGED:
        n = len(row.differences)
        return f"changed: {n} difference{'s' if n != 1 else ''}"
    return "equal"


def difference_rows(cmp: Comparison) -> list[int]:
    """The positions of every row that is not equal, ascending (for next/previous difference).
    One pass over the rows: made on the worker with the comparison, not in the view."""
    streamed = getattr(cmp, "difference_rows", None)
    if streamed is not None:  # a streamed comparison knows them without building every row
        return streamed()
    equal = RowKind.EQUAL
    return [i for i, r in enumerate(cmp.rows) if r.kind is not equal]


class CompareTableModel(MultiDataMixin, QAbstractTableModel):
    """``ROW_ROLE`` on any cell gives the row's :class:`AlignedRow`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cmp: Comparison | None = None
        self._rows: Sequence[AlignedRow] = ()
        self._diffs: list[int] = []
        self._names = ("original", "replay")
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._bold = QFont()
        self._bold.setBold(True)
        self._mono_bold = QFont(self._mono)
        self._mono_bold.setBold(True)

    # -- content -------------------------------------------------------------------------------

    def set_comparison(self, cmp: Comparison | None, diffs: Sequence[int] | None = None,
                       names: tuple[str, str] = ("original", "replay")) -> None:
        """Show a comparison; ``diffs`` are its :func:`difference_rows` when already computed."""
        self.beginResetModel()
        self._cmp = cmp
        self._rows = cmp.rows if cmp is not None else ()
        self._diffs = list(diffs) if diffs is not None else (difference_rows(cmp) if cmp is not None else [])
        self._names = names
        self.endResetModel()

    @property
    def comparison(self) -> Comparison | None:
        return self._cmp

    def row_at(self, row: int) -> AlignedRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    @property
    def differences(self) -> list[int]:
        return self._diffs

    def next_difference(self, after: int) -> int | None:
        """The first non-equal row after ``after`` (-1: from the top), or None."""
        i = bisect.bisect_right(self._diffs, after)
        return self._diffs[i] if i < len(self._diffs) else None

    def previous_difference(self, before: int) -> int | None:
        i = bisect.bisect_left(self._diffs, before)
        return self._diffs[i - 1] if i > 0 else None

    # -- Qt model ------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else 2 * _N + 1

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return SELECTABLE if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == _DISPLAY:
            if section == MARKER_COLUMN:
                return ""
            return SIDE_COLUMNS[section % (_N + 1)]
        if role == _TOOLTIP:
            if section == MARKER_COLUMN:
                return "= equal · ≈ equal by a rule · ≠ changed · − only on the left · + only on the right"
            name = SIDE_COLUMNS[section % (_N + 1)]
            side = self._names[0] if section < MARKER_COLUMN else self._names[1]
            return {
                "Det. hash": f"The {side} step's determinism hash (upstream TraceStep.determinism_hash, 16 hex)",
                "Out hash": f"The {side} step's replay hash_output of outcome_data (16 hex)",
            }.get(name, f"{name} of the {side} step")
        return None

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        r = index.row()
        cmp = self._cmp
        if cmp is None or not 0 <= r < len(self._rows):
            return None
        row = self._rows[r]
        col = index.column()
        if role == ROW_ROLE:
            return row
        if col == MARKER_COLUMN:
            return self._marker_data(row, role)
        left = col < MARKER_COLUMN
        pos = row.left if left else row.right
        field = col if left else col - _N - 1
        if pos is None:
            if role == _BACKGROUND:
                return colours().absent_bg
            if role == _TOOLTIP:
                return kind_label(row, *self._names)
            if role == _DISPLAY and field == _SKILL:
                return "—"
            if role == _FOREGROUND:
                return colours().muted
            return None
        doc = (cmp.left if left else cmp.right)[pos]
        if role == _DISPLAY:
            if field == _STEP:
                return str(doc.step_index)
            if field == _SKILL:
                return doc.skill_name or ""
            if field == _STATUS:
                return "" if doc.status is None else str(getattr(doc.status, "value", doc.status))
            if field == _CODE:
                return doc.outcome_code or ""
            h = (cmp.left_hashes if left else cmp.right_hashes)[pos]
            return (h.determinism if field == _DET else h.output)[:_SHORT_HASH]
        if role == _BACKGROUND:
            if row.kind is RowKind.CHANGED and self._cell_differs(row, field):
                return colours().changed_cell_bg
            background = KIND_COLORS[row.kind][0]
            return None if background is None else getattr(colours(), background)
        if role == _FONT:
            hashed = field in (_DET, _OUT)
            if row.kind is RowKind.CHANGED and self._cell_differs(row, field):
                return self._mono_bold if hashed else self._bold
            return self._mono if hashed else None
        if role == _ALIGN:
            return _RIGHT_ALIGN if field == _STEP else None
        if role == _TOOLTIP:
            if field in (_DET, _OUT):
                h = (cmp.left_hashes if left else cmp.right_hashes)[pos]
                if field == _DET:
                    return f"determinism hash {h.determinism}"
                stored = f"\nSDK stored output_hash {h.stored_output}" if h.stored_output else ""
                return f"replay hash_output {h.output}{stored}"
            if field == _SKILL:
                return doc.skill_name
            return None
        return None

    def _marker_data(self, row: AlignedRow, role: int) -> Any:
        ruled = row.kind is RowKind.EQUAL and bool(row.absorbed)
        if role == _DISPLAY:
            return RULE_MARKER if ruled else KIND_MARKERS[row.kind]
        if role == _BACKGROUND:
            return getattr(colours(), RULE_COLOR if ruled else KIND_COLORS[row.kind][1])
        if role == _FOREGROUND:
            return colours().marker_text
        if role == _ALIGN:
            return _CENTER
        if role == _FONT:
            return self._bold
        if role == _TOOLTIP:
            text = kind_label(row, *self._names)
            if row.absorbed:
                verb = "equal by" if row.kind is RowKind.EQUAL else "also absorbed by"
                text += f"\n{verb}: " + "; ".join(row.equal_by)
            return text
        return None

    def _cell_differs(self, row: AlignedRow, field: int) -> bool:
        cmp = self._cmp
        if cmp is None or row.left is None or row.right is None:
            return False
        if field in (_DET, _OUT):
            a, b = cmp.left_hashes[row.left], cmp.right_hashes[row.right]
            return (a.determinism != b.determinism) if field == _DET else (a.output != b.output)
        name = ("step_index", "skill_name", "status", "outcome_code")[field]
        return getattr(cmp.left[row.left], name) != getattr(cmp.right[row.right], name)
