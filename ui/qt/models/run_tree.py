"""The run tree above the step table: the selected run, its replays (through
``metadata.replay_of``) and, in Postgres, its other traces. Its steps are not in the tree: the
step table (:mod:`ui.qt.models.steps`) shows the steps of the run chosen here, at any size
(spec §1.5: steps have no hierarchy upstream; the tree's depth comes from runs and replays).

Reads go through the :class:`~ui.qt.session.session.SourceSession`; a run shown replaces the
previous one's reads (its scope is renewed), and a closed source empties the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from inspector.model import RunSummary
from inspector.source import TracesPerRun
from ui.format import fmt_count
from ui.qt.icons import run_status_icon, warning_icon
from ui.qt.models.fast import SELECTABLE
from ui.qt.session.session import SourceSession

__all__ = ["NODE_ROLE", "RunTreeModel"]

NODE_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


@dataclass(eq=False)
class _Node:
    id: int
    parent_id: int
    row: int
    kind: str  # "root", "run", "replays", "traces", "orphans"
    run: RunSummary | None = None
    nodes: list[_Node] = field(default_factory=list)


class RunTreeModel(QAbstractItemModel):
    """``NODE_ROLE`` on a run row gives its :class:`RunSummary` (None on a group row)."""

    def __init__(self, session: SourceSession, parent=None) -> None:
        super().__init__(parent)
        self._session = session
        #: The reads of the run shown: renewed when another run (or none) is shown.
        self._reads = session.scope("run tree")
        self._next_id = 1
        self._nodes: dict[int, _Node] = {}
        self._root = self._new_node(0, 0, "root", None)
        session.opened.connect(lambda *_: self.set_run(None))
        session.closed.connect(lambda: self.set_run(None))

    def _new_node(self, parent_id: int, row: int, kind: str, run: RunSummary | None) -> _Node:
        node = _Node(self._next_id if kind != "root" else 0, parent_id, row, kind, run)
        if kind != "root":
            self._next_id += 1
        self._nodes[node.id] = node
        return node

    # -- content -------------------------------------------------------------------------------

    @property
    def current_run(self) -> RunSummary | None:
        return self._root.nodes[0].run if self._root.nodes else None

    def set_run(self, run: RunSummary | None) -> None:
        """Show one run (or an orphan run id); replays are looked up in the background."""
        self._reads.renew()
        self.beginResetModel()
        self._nodes = {}
        self._next_id = 1
        self._root = self._new_node(0, 0, "root", None)
        if run is not None:
            top = self._new_node(0, 0, "orphans" if run.orphan else "run", run)
            self._root.nodes.append(top)
        self.endResetModel()
        if run is not None and not run.orphan:
            self._load_replays(self._root.nodes[0])

    def _load_replays(self, node: _Node) -> None:
        """Groups under the run: its replays, and (Postgres) the run's other traces."""
        source = self._session.source
        if source is None or node.run is None:
            return
        run = node.run
        key = run.key

        def add_group(kind: str, runs: list[RunSummary]) -> None:
            if not runs:
                return
            row = len(node.nodes)
            self.beginInsertRows(self.node_index(node), row, row)
            group = self._new_node(node.id, row, kind, None)
            for i, other in enumerate(runs):
                group.nodes.append(self._new_node(group.id, i, "run", other))
            node.nodes.append(group)
            self.endInsertRows()

        self._reads.submit(lambda: source.replays_of(key), lambda runs: add_group("replays", runs),
                           lambda e: self._session.report(e, "look for replays"), label="Looking for replays")
        if isinstance(source, TracesPerRun) and run.trace_id is not None:
            self._reads.submit(lambda: [t for t in source.traces_of(run.run_id) if t.key != key],
                               lambda runs: add_group("traces", runs),
                               lambda e: self._session.report(e, f"list the traces of run {run.run_id}"),
                               label="Listing the run's traces")

    # -- lookups -------------------------------------------------------------------------------

    def item_at(self, index: _Index) -> _Node | None:
        if not index.isValid():
            return self._root
        parent = self._nodes.get(index.internalId())
        if parent is None:
            return None
        r = index.row()
        return parent.nodes[r] if 0 <= r < len(parent.nodes) else None

    def node_index(self, node: _Node) -> QModelIndex:
        if node.kind == "root":
            return QModelIndex()
        return self.createIndex(node.row, 0, node.parent_id)

    def top_index(self) -> QModelIndex:
        return self.index(0, 0) if self._root.nodes else QModelIndex()

    def index_of(self, key: str) -> QModelIndex:
        """The row of the run (top, replay or other trace) with this key, or an invalid index."""
        for node in self._nodes.values():
            if node.run is not None and node.run.key == key:
                return self.node_index(node)
        return QModelIndex()

    def runs(self) -> list[RunSummary]:
        """Every run in the tree, the top one first."""
        return [n.run for n in sorted(self._nodes.values(), key=lambda n: n.id) if n.run is not None]

    # -- Qt model API --------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:
        if column != 0 or row < 0:
            return QModelIndex()
        node = self.item_at(parent) if parent.isValid() else self._root
        if node is None or row >= len(node.nodes):
            return QModelIndex()
        return self.createIndex(row, column, node.id)

    def parent(self, index: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent = self._nodes.get(index.internalId())
        if parent is None or parent.kind == "root":
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent.parent_id)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        node = self.item_at(parent) if parent.isValid() else self._root
        return len(node.nodes) if node is not None else 0

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 1

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return SELECTABLE

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.item_at(index) if index.isValid() else None
        if node is None:
            return None
        if role == NODE_ROLE:
            return node.run
        run = node.run
        if node.kind == "replays":
            if role == Qt.ItemDataRole.DisplayRole:
                return f"Replays ({len(node.nodes)})"
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Runs whose metadata.replay_of names this run"
            return None
        if node.kind == "traces":
            if role == Qt.ItemDataRole.DisplayRole:
                return f"Other traces of this run ({len(node.nodes)}), newest first"
            if role == Qt.ItemDataRole.ToolTipRole:
                return "In Postgres a run id may have several traces (store_trace can add more than one)"
            return None
        assert run is not None
        if role == Qt.ItemDataRole.DisplayRole:
            total = run.total_steps
            steps = f" · {fmt_count(total)} steps" if total is not None else ""
            if node.kind == "orphans":
                return f"Orphan steps of {run.run_id} — run row missing{steps}"
            prefix = "↻ replay " if run.replay_of else ""
            trace = f" ({run.trace_id})" if run.trace_id and run.trace_id != f"trace_{run.run_id}" else ""
            return f"{prefix}{run.run_id}{trace} · {run.status or '?'}{steps}"
        if role == Qt.ItemDataRole.DecorationRole:
            return warning_icon() if node.kind == "orphans" else run_status_icon(run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            if node.kind == "orphans":
                return "These steps' run row was deleted (upstream leaves steps behind: foreign keys are off)."
            return f"{run.run_id}\ntenant {run.tenant_id} · agent {run.agent_id}\nstarted {run.started_at}"
        if role == Qt.ItemDataRole.FontRole and node.parent_id == 0:  # the run itself
            f = QFont()
            f.setBold(True)
            return f
        return None
