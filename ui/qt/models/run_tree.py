"""The run → step tree: the selected run, its replays (through ``metadata.replay_of``), and its
steps by ``step_index``, fetched in chunks as the view scrolls (``canFetchMore``/``fetchMore``).

Steps have no parent/child hierarchy upstream (spec §1.5): the tree's depth comes from runs and
replays only. Each index stores the id of its *parent* node, so a hundred thousand step rows cost
no Python object beyond their ``StepRow``.

Reads go through the :class:`~ui.qt.session.session.SourceSession`; a run shown replaces the
previous one's reads (its scope is renewed), and a closed source empties the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from inspector.model import RunSummary, StepRow, StepStatus
from inspector.source import TracesPerRun
from ui.format import fmt_cost, fmt_count, fmt_duration, fmt_timestamp
from ui.qt.icons import run_status_icon, step_status_icon, warning_icon
from ui.qt.models.fast import SELECTABLE, MultiDataMixin
from ui.qt.session.session import SourceSession

__all__ = ["StepTreeModel", "STEP_ROLE", "NODE_ROLE", "STEP_COLUMNS", "FETCH_CHUNK", "FIRST_CHUNK"]

STEP_ROLE = Qt.ItemDataRole.UserRole + 1
NODE_ROLE = Qt.ItemDataRole.UserRole + 2
FETCH_CHUNK = 500
#: The first read of a run is small: it only has to fill the view, and it is what the user waits on.
FIRST_CHUNK = 100

STEP_COLUMNS = ["Step", "Status", "Skill", "Outcome", "Code", "Cost", "Duration", "Retries", "Timestamp"]
_RIGHT = {0, 5, 6, 7}
_DISPLAY = Qt.ItemDataRole.DisplayRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_RIGHT_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_FAILURE_COLOR = QColor("#c0392b")
_ROLES = {
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole,
    STEP_ROLE, NODE_ROLE,
}


def step_texts(step: StepRow) -> tuple[str, ...]:
    """The row's cells as shown. Formatting costs more than painting a row, so it is done once,
    on the worker that read the rows, not on every paint."""
    raw = step.status_raw
    text = "" if raw is None else str(raw)
    status = text if step.status is not StepStatus.UNKNOWN or not text else f"{text} (?)"
    return (
        str(step.step_index),
        status,
        step.skill_name or "",
        step.outcome_category or "",
        step.outcome_code or "",
        fmt_cost(step.cost_cents),
        fmt_duration(step.duration_ms),
        "" if step.retry_count is None else str(step.retry_count),
        fmt_timestamp(step.timestamp),
    )

_Index = QModelIndex | QPersistentModelIndex


@dataclass(eq=False)
class _Node:
    id: int
    parent_id: int
    row: int
    kind: str  # "root", "run", "replays", "traces", "orphans"
    run: RunSummary | None = None
    nodes: list[_Node] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    texts: list[tuple[str, ...]] = field(default_factory=list)  # display strings, made off-thread
    exhausted: bool = False
    pending: bool = False
    demand: bool = False

    @property
    def has_steps(self) -> bool:
        return self.kind in ("run", "orphans")

    @property
    def child_count(self) -> int:
        return len(self.nodes) + len(self.steps)


class StepTreeModel(MultiDataMixin, QAbstractItemModel):
    """``STEP_ROLE`` on a step row gives ``(run_id, StepRow)``; ``NODE_ROLE`` on a run row gives
    its :class:`RunSummary`."""

    loading_changed = Signal(bool)

    def __init__(self, session: SourceSession, parent=None) -> None:
        super().__init__(parent)
        self._session = session
        #: The reads of the run shown: renewed when another run (or none) is shown.
        self._reads = session.scope("steps")
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
        """Show one run (or an orphan run id's steps); replays are looked up in the background."""
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
            # Groups go after the groups already there, before the steps: existing rows keep
            # their numbers.
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

    def _parent_node(self, index: _Index) -> _Node:
        return self._nodes[index.internalId()]

    def item_at(self, index: _Index) -> _Node | StepRow | None:
        if not index.isValid():
            return self._root
        parent = self._nodes.get(index.internalId())
        if parent is None:
            return None
        r = index.row()
        if r < len(parent.nodes):
            return parent.nodes[r]
        r -= len(parent.nodes)
        return parent.steps[r] if 0 <= r < len(parent.steps) else None

    def node_index(self, node: _Node) -> QModelIndex:
        if node.kind == "root":
            return QModelIndex()
        return self.createIndex(node.row, 0, node.parent_id)

    def top_index(self) -> QModelIndex:
        return self.index(0, 0) if self._root.nodes else QModelIndex()

    def loaded_steps(self, index: _Index | None = None) -> int:
        node = self.item_at(index) if index is not None else (self._root.nodes[0] if self._root.nodes else None)
        return len(node.steps) if isinstance(node, _Node) else 0

    def is_pending(self) -> bool:
        return any(n.pending for n in self._nodes.values())

    # -- Qt model API --------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:
        if column < 0 or column >= len(STEP_COLUMNS) or row < 0:
            return QModelIndex()
        node = self.item_at(parent) if parent.isValid() else self._root
        if not isinstance(node, _Node) or row >= node.child_count:
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
        return node.child_count if isinstance(node, _Node) else 0

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return len(STEP_COLUMNS)

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.item_at(parent) if parent.isValid() else self._root
        if not isinstance(node, _Node):
            return False
        if node.child_count:
            return True
        if node.has_steps and not node.exhausted:
            total = node.run.total_steps if node.run is not None else None
            return total is None or total > 0
        return False

    def canFetchMore(self, parent: _Index) -> bool:
        # Demand-driven: QTreeView re-lays out an expanded parent after every insertion and calls
        # fetchMore each time, which with asynchronous fetches would read a whole 100k-step run in
        # the background. The first chunk comes on expansion; later ones only when the view
        # scrolls near the end and says so through request_more().
        if not parent.isValid() or parent.column() != 0:
            return False
        node = self.item_at(parent)
        return (isinstance(node, _Node) and node.has_steps and not node.exhausted and not node.pending
                and (not node.steps or node.demand))

    def request_more(self, parent: _Index) -> bool:
        """Fetch the next chunk of ``parent``'s steps (the view scrolled near its end)."""
        node = self.item_at(parent) if parent.isValid() else None
        if not isinstance(node, _Node) or not node.has_steps or node.exhausted:
            return False
        node.demand = True
        if not self.canFetchMore(parent):
            return False
        self.fetchMore(parent)
        return True

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent):
            return
        node = self.item_at(parent)
        assert isinstance(node, _Node) and node.run is not None
        source = self._session.source
        if source is None:
            return
        node.pending = True
        node.demand = False
        self.loading_changed.emit(True)
        run_id = node.run.key
        after = node.steps[-1].step_index if node.steps else None
        chunk = FETCH_CHUNK if node.steps else FIRST_CHUNK

        def done(result: tuple[list[StepRow], list[tuple[str, ...]]]) -> None:
            rows, texts = result
            node.pending = False
            if len(rows) < chunk:
                node.exhausted = True
            if rows:
                first = node.child_count
                self.beginInsertRows(self.node_index(node), first, first + len(rows) - 1)
                node.steps.extend(rows)
                node.texts.extend(texts)
                self.endInsertRows()
            elif not node.child_count:
                # hasChildren promised rows; say there are none after all.
                ix = self.node_index(node)
                self.dataChanged.emit(ix, ix)
            self.loading_changed.emit(self.is_pending())

        def failed(exc: BaseException) -> None:
            node.pending = False
            node.exhausted = True  # do not hammer a failing source; Refresh tries again
            self.loading_changed.emit(self.is_pending())
            self._session.report(exc, f"read the steps of {run_id}")

        def read() -> tuple[list[StepRow], list[tuple[str, ...]]]:
            rows = source.list_steps(run_id, after, chunk)
            return rows, [step_texts(r) for r in rows]

        if self._reads.submit(read, done, failed, label="Reading steps") is None:
            node.pending = False  # the source is gone
            self.loading_changed.emit(self.is_pending())

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(STEP_COLUMNS):
            return STEP_COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return SELECTABLE

    def multiData(self, index: _Index, roleDataSpan) -> None:
        """One call per painted cell (see ui.qt.models.fast); step cells answered without lookups."""
        parent = self._nodes.get(index.internalId()) if index.isValid() else None
        r = index.row() - len(parent.nodes) if parent is not None else -1
        if parent is None or not 0 <= r < len(parent.texts):
            return super().multiData(index, roleDataSpan)
        column = index.column()
        step = parent.steps[r]
        for role_data in roleDataSpan:
            role = role_data.role()
            if role == _DISPLAY:
                role_data.setData(parent.texts[r][column])
            elif role == _DECORATION and column == 1:
                role_data.setData(step_status_icon(step.status))
            elif role == _ALIGN and column in _RIGHT:
                role_data.setData(_RIGHT_ALIGN)
            elif role == _FOREGROUND and column in (1, 3, 4) and step.status is StepStatus.FAILURE:
                role_data.setData(_FAILURE_COLOR)
            else:
                role_data.clearData()  # the delegate reuses the span from the previous cell

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None
        parent = self._nodes.get(index.internalId())
        if parent is None:
            return None
        r = index.row() - len(parent.nodes)
        if role == Qt.ItemDataRole.DisplayRole and 0 <= r < len(parent.texts):
            return parent.texts[r][index.column()]  # the hot path of every paint
        item = self.item_at(index)
        if item is None:
            return None
        if isinstance(item, _Node):
            return self._node_data(item, index.column(), role)
        return self._step_data(item, index, role)

    def _node_data(self, node: _Node, column: int, role: int) -> Any:
        if role == NODE_ROLE:
            return node.run
        if column != 0:
            return None
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
                return "In Postgres a run id may have several traces (store_trace, §11.1)"
            return None
        assert run is not None
        if role == Qt.ItemDataRole.DisplayRole:
            total = run.total_steps
            steps = f"{fmt_count(total)} steps" if total is not None else "steps"
            if node.kind == "orphans":
                return f"Orphan steps of {run.run_id} — run row missing · {steps}"
            prefix = "↻ replay " if run.replay_of else ""
            trace = f" ({run.trace_id})" if run.trace_id and run.trace_id != f"trace_{run.run_id}" else ""
            return f"{prefix}{run.run_id}{trace} · {run.status or '?'} · {steps}"
        if role == Qt.ItemDataRole.DecorationRole:
            return warning_icon() if node.kind == "orphans" else run_status_icon(run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            if node.kind == "orphans":
                return "These steps' run row was deleted (upstream leaves steps behind: foreign keys are off)."
            return f"{run.run_id}\ntenant {run.tenant_id} · agent {run.agent_id}\nstarted {run.started_at}"
        if role == Qt.ItemDataRole.FontRole:
            from PySide6.QtGui import QFont

            f = QFont()
            f.setBold(True)
            return f
        return None

    def _step_data(self, step: StepRow, index: _Index, role: int) -> Any:
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return step_texts(step)[column]
        if role == STEP_ROLE:
            parent = self._nodes[index.internalId()]
            return (parent.run.key if parent.run else step.trace_id or step.run_id, step)
        if role == Qt.ItemDataRole.DecorationRole and column == 1:
            return step_status_icon(step.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _RIGHT:
            return _RIGHT_ALIGN
        if role == Qt.ItemDataRole.ToolTipRole and column == 1:
            return f"stored status {step.status_raw!r} → {step.status.value}"
        if role == Qt.ItemDataRole.ForegroundRole and step.status is StepStatus.FAILURE and column in (1, 3, 4):
            return _FAILURE_COLOR
        return None
