"""A collapsible JSON tree whose nodes are made only when their parent is expanded, so a
multi-megabyte payload costs nothing until someone opens it."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt

from inspector.jsondoc import pointer_token
from ui.format import shorten
from ui.qt.models.fast import SELECTABLE, MultiDataMixin

__all__ = ["JsonTreeModel", "PATH_ROLE"]

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
_Index = QModelIndex | QPersistentModelIndex


class _JNode:
    __slots__ = ("id", "parent_id", "row", "key", "value", "children", "path")

    def __init__(self, id_: int, parent_id: int, row: int, key: str, value: Any, path: str) -> None:
        self.id = id_
        self.parent_id = parent_id
        self.row = row
        self.key = key
        self.value = value
        self.children: list[_JNode] | None = None
        self.path = path

    @property
    def is_container(self) -> bool:
        return isinstance(self.value, (dict, list))

    @property
    def size(self) -> int:
        return len(self.value) if self.is_container else 0


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return f"object · {len(value):,} keys"
    if isinstance(value, list):
        return f"array · {len(value):,} items"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return f"string · {len(value):,} chars"


def _preview(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    if isinstance(value, list):
        return "[…]" if value else "[]"
    if isinstance(value, str):
        return shorten(json.dumps(value, ensure_ascii=False), 300)
    return json.dumps(value)


class JsonTreeModel(MultiDataMixin, QAbstractItemModel):
    """Columns: key, value, type. ``PATH_ROLE`` gives the node's JSON pointer (``/a/0/b``)."""

    HEADERS = ("Key", "Value", "Type")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._nodes: dict[int, _JNode] = {}
        self._root = _JNode(0, -1, 0, "", None, "")
        self._root.children = []
        self._nodes[0] = self._root
        self._next = 1

    def set_value(self, value: Any, *, label: str = "(root)", present: bool = True) -> None:
        self.beginResetModel()
        self._nodes = {0: self._root}
        self._root.children = []
        self._next = 1
        if present:
            top = _JNode(self._next, 0, 0, label, value, "")
            self._next += 1
            self._nodes[top.id] = top
            self._root.children.append(top)
        self.endResetModel()

    def clear(self) -> None:
        self.set_value(None, present=False)

    @property
    def document(self) -> tuple[bool, Any]:
        """``(present, value)``: the value shown (the top node's)."""
        top = self._root.children
        return (True, top[0].value) if top else (False, None)

    def item_at(self, index: _Index) -> tuple[str, Any, str] | None:
        """``(key, value, JSON pointer)`` of the node at ``index`` (the top node's key is its label)."""
        node = self._node(index) if index.isValid() else None
        if node is None or node is self._root:
            return None
        return node.key, node.value, node.path

    def rows_of(self, index: _Index) -> tuple[int, ...]:
        """The node's rows under each ancestor below the top node (``()`` for the top node), in
        the order :class:`~inspector.jsondoc.JsonSearch` gives them."""
        rows = []
        while index.isValid():
            rows.append(index.row())
            index = index.parent()
        return tuple(reversed(rows[:-1]))

    def has_children_made(self, rows: tuple[int, ...]) -> bool:
        """Whether the node at ``rows`` below the top node has its children made (it was
        expanded, or a jump went through it), without making any."""
        node = self._root.children[0] if self._root.children else None
        for row in rows:
            if node is None or node.children is None or not 0 <= row < len(node.children):
                return False
            node = node.children[row]
        return node is not None and node.children is not None

    def index_at(self, rows: tuple[int, ...]) -> QModelIndex:
        """The index of the node at ``rows`` below the top node (its ancestors' children are made
        on the way, as expanding them would)."""
        index = self.index(0, 0)
        for row in rows:
            if not index.isValid():
                break
            index = self.index(row, 0, index)
        return index

    def _children(self, node: _JNode) -> list[_JNode]:
        if node.children is None:
            kids: list[_JNode] = []
            items = node.value.items() if isinstance(node.value, dict) else enumerate(node.value)
            for row, (key, val) in enumerate(items):
                kid = _JNode(self._next, node.id, row, str(key), val, f"{node.path}/{pointer_token(key)}")
                self._next += 1
                self._nodes[kid.id] = kid
                kids.append(kid)
            node.children = kids
        return node.children

    def _node(self, index: _Index) -> _JNode | None:
        if not index.isValid():
            return self._root
        parent = self._nodes.get(index.internalId())
        if parent is None or parent.children is None:
            return None
        return parent.children[index.row()] if index.row() < len(parent.children) else None

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:
        node = self._node(parent)
        if node is None or column < 0 or column >= 3 or row < 0:
            return QModelIndex()
        kids = node.children if node is self._root else (self._children(node) if node.is_container else [])
        if kids is None or row >= len(kids):
            return QModelIndex()
        return self.createIndex(row, column, node.id)

    def parent(self, index: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent = self._nodes.get(index.internalId())
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent.parent_id)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        node = self._node(parent)
        if node is None:
            return 0
        if node is self._root:
            return len(node.children or [])
        return node.size

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 3

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 3:
            return self.HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return SELECTABLE

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self._node(index)
        if node is None or node is self._root:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return node.key
            if col == 1:
                return _preview(node.value)
            return _type_name(node.value)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1 and isinstance(node.value, str) and len(node.value) > 80:
                return shorten(node.value, 2000)
            return node.path or "/"
        if role == PATH_ROLE:
            return node.path
        return None
