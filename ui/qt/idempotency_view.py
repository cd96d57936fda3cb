"""The Idempotency inspector: for each step of one run that has an idempotency key, what upstream's
Redis idempotency store holds under ``{prefix}:{tenant}:{key}`` (spec §6.2) and the verdict its Lua
check would give this step's request — read only, nothing is written.

"Our" request hash is ``hash_request(params)`` (upstream's idempotency convention: SHA-256, 64 hex,
of canonical JSON). The verdict is the Lua script's: no key → ``new``; the stored ``hash`` equal to
ours → ``duplicate``; anything else (another hash, or none stored) → ``conflict``. ``check`` is
never called (it would write the key when absent); the states are read with one pipelined
``states`` call per chunk, on the Redis worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.hashing import hash_request
from inspector.idempotency import IdempotencyResult, IdempotencyState, upstream_verdict
from ui.qt.logs_models import (
    RECORD_ROLE,
    Column,
    RecordTableModel,
    record_table_view,
    texts_for,
)
from ui.qt.redis_settings import RedisSettings
from ui.qt.replay_view import error_text, field_table
from ui.qt.tasks import Progress, Task, TaskRunner
from ui.qt.theme import muted, placeholder_label, set_severity, title_font

__all__ = [
    "CHUNK",
    "CONVENTION_TEXT",
    "IDEMPOTENCY_COLUMNS",
    "NO_REDIS_TEXT",
    "IdempotencyRead",
    "IdempotencyRow",
    "IdempotencyView",
    "KeyedStep",
    "RunKeys",
    "fmt_ttl",
    "idempotency_styler",
    "load_run_keys",
    "read_idempotency_states",
]

NO_REDIS_TEXT = "No Redis configured — set one in Settings."
#: Keys per pipelined ``states`` call (one round trip each).
CHUNK = 1000
CONVENTION_TEXT = ("Our request hash = hash_request(params): SHA-256 (64 hex) of the step's params as canonical "
                   "JSON (sorted keys, separators \",\" and \":\", default=str) — upstream's idempotency convention "
                   "(§6.2). The verdict is what upstream's Lua check would answer for this request now: new (no key), "
                   "duplicate (the stored hash equals ours), conflict (it does not). Nothing is written to Redis.")


# -- the work (pure of Qt: runs on workers) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyedStep:
    """A step that has an idempotency key, with our hash of its request."""

    step_index: int
    skill_name: str | None
    idempotency_key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class RunKeys:
    """What the source says about one run: its keyed steps and how many steps it has in all."""

    run_id: str
    trace_id: str | None
    tenant_id: str
    location: str
    total_steps: int
    keyed: tuple[KeyedStep, ...]

    @property
    def unkeyed(self) -> int:
        return self.total_steps - len(self.keyed)


@dataclass(frozen=True, slots=True)
class IdempotencyRow:
    step: KeyedStep
    state: IdempotencyState | None
    verdict: IdempotencyResult
    #: The inspected run's trace id (a stored trace id equal to it was written for this run).
    run_trace_id: str | None


@dataclass(frozen=True, slots=True)
class IdempotencyRead:
    rows: tuple[IdempotencyRow, ...]
    texts: list[tuple[str, ...]]
    location: str  # the Redis URL as messages show it
    prefix: str
    read_at: float


def load_run_keys(source: Any, run_ref: str) -> RunKeys:
    """The run's steps that have an idempotency key, with our request hash of each (source worker)."""
    from inspector.compare import step_doc

    record = source.get_run(run_ref)
    summary = record.summary
    keyed = []
    total = 0
    for step in source.iter_steps(summary.key):
        total += 1
        doc = step_doc(step)
        if doc.idempotency_key:
            keyed.append(KeyedStep(doc.step_index, doc.skill_name, doc.idempotency_key, hash_request(doc.params)))
    return RunKeys(summary.run_id, summary.trace_id, summary.tenant_id or "default", source.info.location, total,
                   tuple(keyed))


def read_idempotency_states(keys: RunKeys, url: str, prefix: str, progress: Progress | None = None,
                            *, chunk: int = CHUNK) -> IdempotencyRead:
    """Each keyed step's state, ``chunk`` keys per pipelined ``states`` call (Redis worker). No
    fallback: an unreachable Redis raises (an empty memory store would say "new" for everything)."""
    from drivers.redis_store import open_idempotency_store
    from inspector.locations import redis_display_url as display_url

    store = open_idempotency_store(url, prefix, fallback=False)
    states: list[IdempotencyState | None] = []
    try:
        wanted = [(k.idempotency_key, keys.tenant_id) for k in keys.keyed]
        for start in range(0, len(wanted), chunk):
            if progress is not None and progress.cancelled:
                break
            states.extend(store.states(wanted[start:start + chunk]))
            if progress is not None:
                progress(len(states), len(wanted))
    finally:
        store.close()
    rows = tuple(IdempotencyRow(k, s, upstream_verdict(s, k.request_hash), keys.trace_id)
                 for k, s in zip(keys.keyed, states, strict=False))
    return IdempotencyRead(rows, texts_for(IDEMPOTENCY_COLUMNS, rows), display_url(url), prefix, time.time())


# -- formatting ------------------------------------------------------------------------------------


def fmt_ttl(seconds: int | None) -> str:
    """A TTL as Redis's ``TTL`` gives it (``None``: the key never expires)."""
    if seconds is None:
        return "no expiry"
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _epoch(value: int | None) -> str:
    if value is None:
        return ""
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(value)


def _short_hash(value: str | None) -> str:
    if value is None:
        return "(no hash)"
    if value == "":
        return "(empty)"
    return value if len(value) <= 16 else value[:16] + "…"


def _stored_trace(r: IdempotencyRow) -> str:
    if r.state is None:
        return "—"
    trace = r.state.trace_id
    if not trace:
        return "(none)"
    return f"{trace} (this run)" if r.run_trace_id and trace == r.run_trace_id else trace


def _field(r: IdempotencyRow, get: Callable[[IdempotencyState], str | None]) -> str:
    return "—" if r.state is None else (get(r.state) or "")


IDEMPOTENCY_COLUMNS: list[Column] = [
    Column("Step", lambda r: str(r.step.step_index), 5, numeric=True, tip="step_index"),
    Column("Skill", lambda r: r.step.skill_name or "", 12),
    Column("Idempotency key", lambda r: r.step.idempotency_key, 12),
    Column("Verdict", lambda r: r.verdict.value, 9,
           tip="What upstream's Lua check would answer for this step's request: new / duplicate / conflict"),
    Column("Status", lambda r: _field(r, lambda s: s.status), 9,
           tip="The stored status (pending / completed / failed). Upstream's check never reads it (§11.23)"),
    Column("Stored hash", lambda r: "—" if r.state is None else _short_hash(r.state.request_hash), 17,
           tip="The request hash the key holds (field 'hash')"),
    Column("Our hash", lambda r: _short_hash(r.step.request_hash), 17,
           tip="hash_request(params): SHA-256 (64 hex) of the step's params as canonical JSON"),
    Column("Stored trace id", _stored_trace, 16, tip="The trace id the key holds"),
    Column("TTL", lambda r: "—" if r.state is None else fmt_ttl(r.state.ttl), 10, numeric=True,
           tip="Time to live left when read (Redis TTL)"),
    Column("Created (UTC)", lambda r: _epoch(r.state.created_at) if r.state else "—", 17,
           tip="created_at: Redis TIME when the key was first checked"),
    Column("Error", lambda r: _field(r, lambda s: s.error), 8, tip="The error mark_failed stored (500 characters at "
                                                                    "most)"),
]

_VERDICT_COLORS = {
    IdempotencyResult.CONFLICT: (QColor("#a93226"), QColor("#fdecea")),
    IdempotencyResult.DUPLICATE: (QColor("#1e7b34"), None),
    IdempotencyResult.NEW: (QColor("#707070"), None),
}
_STATUS_COLORS = {"failed": QColor("#a93226"), "pending": QColor("#8a5a00"), "completed": QColor("#1e7b34")}
_VERDICT_TIPS = {
    IdempotencyResult.NEW: "No key: upstream's check would store this request as new (status pending)",
    IdempotencyResult.DUPLICATE: "The key holds our request hash: upstream's check answers duplicate",
    IdempotencyResult.CONFLICT: "The key holds another request hash: upstream's check answers conflict",
}


def idempotency_styler(r: IdempotencyRow, column: str, role: int) -> Any:
    """Verdicts coloured (conflict red, duplicate green, new grey), statuses too."""
    if role == Qt.ItemDataRole.BackgroundRole:
        return _VERDICT_COLORS[r.verdict][1]
    if role == Qt.ItemDataRole.ForegroundRole:
        if column == "Verdict":
            return _VERDICT_COLORS[r.verdict][0]
        if column == "Status" and r.state is not None:
            return _STATUS_COLORS.get(r.state.status or "")
        return None
    if role == Qt.ItemDataRole.ToolTipRole:
        if column == "Verdict":
            return _VERDICT_TIPS[r.verdict]
        if column == "Stored hash" and r.state is not None:
            return r.state.request_hash or "no 'hash' field: the check would answer conflict"
        if column == "Our hash":
            return r.step.request_hash
        if column == "Error" and r.state is not None and r.state.error:
            return r.state.error
    return None


# -- the view ----------------------------------------------------------------------------------------


class IdempotencyView(QWidget):
    """One run's idempotency keys in Redis. Build it with the source, the run id (or trace id on
    Postgres), a getter of the source's worker and the app's :class:`RedisSettings`; ``start()``
    reads (again when the Redis setting changes). ``loaded(n)`` fires when ``n`` rows are shown;
    ``failed(text)`` when reading failed (shown with Retry)."""

    loaded = Signal(int)
    failed = Signal(str)

    def __init__(self, source: Any, run_ref: str, *, runner_for: Callable[[], TaskRunner | None],
                 redis: RedisSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("idempotencyView")
        self.setWindowTitle(f"Idempotency keys — {run_ref}")
        self.source = source
        self.run_ref = run_ref
        self._runner_for = runner_for
        self.redis = redis
        self.keys: RunKeys | None = None
        self.current: IdempotencyRead | None = None
        self.state = "idle"  # idle, no-redis, loading, reading, done, error
        self._seq = 0
        self._tasks: list[Task] = []
        tasks = self._tasks
        self.destroyed.connect(lambda *_: [t.cancel() for t in tasks])

        # The message page: "no Redis configured", errors (with Retry), "reading…".
        self.message = QLabel()
        self.message.setObjectName("idempotencyMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setObjectName("idempotencyRetry")
        self.retry_button.hide()
        message_page = QWidget()
        mp = QVBoxLayout(message_page)
        mp.addStretch(1)
        mp.addWidget(self.message)
        retry_row = QHBoxLayout()
        retry_row.addStretch(1)
        retry_row.addWidget(self.retry_button)
        retry_row.addStretch(1)
        mp.addLayout(retry_row)
        mp.addStretch(2)

        # The content page.
        self.title = QLabel(f"Idempotency keys: run {run_ref}")
        self.title.setObjectName("idempotencyTitle")
        self.title.setFont(title_font(self.title.font()))
        self.subtitle = QLabel()
        self.subtitle.setObjectName("idempotencySubtitle")
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        muted(self.subtitle)
        self.convention = QLabel(CONVENTION_TEXT)
        self.convention.setObjectName("idempotencyConvention")
        self.convention.setWordWrap(True)
        set_severity(self.convention, "payload-info")
        self.summary = QLabel()
        self.summary.setObjectName("idempotencySummary")
        self.summary.setWordWrap(True)
        self.unkeyed = QLabel()
        self.unkeyed.setObjectName("idempotencyUnkeyed")
        muted(self.unkeyed)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("idempotencyRefresh")
        self.refresh_button.setToolTip("Read the keys again (TTLs are as of the last read)")
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.summary, 1)
        head.addWidget(self.refresh_button)

        self.model = RecordTableModel(IDEMPOTENCY_COLUMNS, self, styler=idempotency_styler)
        self.table = record_table_view(self.model, "idempotencyTable")
        self.empty = placeholder_label("idempotencyEmpty")
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty)
        self.detail = QLabel()
        self.detail.setObjectName("idempotencyDetail")
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.detail.setContentsMargins(4, 4, 4, 4)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(self.table_stack)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 200])

        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(6)
        cl.addWidget(self.title)
        cl.addWidget(self.subtitle)
        cl.addWidget(self.convention)
        cl.addLayout(head)
        cl.addWidget(self.unkeyed)
        cl.addWidget(split, 1)

        self.pages = QStackedWidget()
        self.pages.addWidget(content)
        self.pages.addWidget(message_page)
        self.content_page = content
        self.message_page = message_page
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.pages)

        self.retry_button.clicked.connect(self.start)
        self.refresh_button.clicked.connect(self.start)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.redis.changed.connect(self._redis_changed)
        self._show_row(None)
        self.resize(1200, 640)

    # -- flow ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the run's keyed steps (once, on the source's worker), then their Redis states."""
        self._seq += 1
        seq = self._seq
        self.current = None
        self.model.clear()
        if self.redis.url() is None:
            self.state = "no-redis"
            self._show_message(NO_REDIS_TEXT, retry=False)
            return
        if self.keys is not None:
            self._read(seq)
            return
        runner = self._runner_for()
        if runner is None:
            self._error("Could not read the run: the source is closed.")
            return
        self.state = "loading"
        self._show_message(f"Reading the steps of run {self.run_ref}…", retry=False)
        source, ref = self.source, self.run_ref
        self._track(runner.submit(lambda: load_run_keys(source, ref), lambda keys: self._keys_loaded(seq, keys),
                                  lambda exc: self._failed(seq, exc, f"read the steps of run {ref}"),
                                  label=f"reading the keys of {ref}"))

    def shutdown(self) -> None:
        self._seq += 1
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _track(self, task: Task) -> None:
        self._tasks[:] = [t for t in self._tasks if not t.done]
        self._tasks.append(task)

    def _redis_changed(self) -> None:
        if self.state != "idle":
            self.start()

    def _keys_loaded(self, seq: int, keys: RunKeys) -> None:
        if seq != self._seq:
            return
        self.keys = keys
        self._read(seq)

    def _read(self, seq: int) -> None:
        keys = self.keys
        url = self.redis.url()
        if keys is None or url is None:
            return
        prefix = self.redis.prefix()
        self.state = "reading"
        if not keys.keyed:
            self._shown(keys, None)
            return
        where = self.redis.location()
        self._show_message(f"Reading {len(keys.keyed):,} idempotency keys from {where}…", retry=False)

        def progress(done: int, total: int) -> None:
            if seq == self._seq:
                self.message.setText(f"Reading idempotency keys from {where}: {done:,} of {total:,}…")

        self._track(self.redis.runner.submit(lambda p: read_idempotency_states(keys, url, prefix, p),
                                             lambda read: self._states_read(seq, read),
                                             lambda exc: self._failed(seq, exc, "read the idempotency keys"),
                                             label="reading idempotency keys", on_progress=progress))

    def _states_read(self, seq: int, read: IdempotencyRead) -> None:
        if seq != self._seq or self.keys is None:
            return
        self._shown(self.keys, read)

    def _shown(self, keys: RunKeys, read: IdempotencyRead | None) -> None:
        self.current = read
        self.state = "done"
        self.title.setText(f"Idempotency keys: run {keys.run_id}")
        when = datetime.fromtimestamp(read.read_at).strftime("%H:%M:%S") if read else ""
        prefix = read.prefix if read else self.redis.prefix()
        self.subtitle.setText(f"{keys.location} · tenant {keys.tenant_id} · Redis {self.redis.location()} · keys "
                              f"{prefix}:{keys.tenant_id}:{{key}}" + (f" · read at {when} (TTLs as of then)"
                                                                       if when else ""))
        if keys.unkeyed:
            self.unkeyed.setText(f"{keys.unkeyed:,} of {keys.total_steps:,} steps have no idempotency key "
                                 "(not looked up).")
        else:
            self.unkeyed.setText(f"All {keys.total_steps:,} steps have an idempotency key.")
        self.unkeyed.setVisible(keys.total_steps > 0)
        rows = read.rows if read else ()
        if read is not None:
            counts = {v: 0 for v in IdempotencyResult}
            for r in rows:
                counts[r.verdict] += 1
            self.summary.setText(" · ".join(f"{counts[v]:,} {v.value}" for v in (
                IdempotencyResult.CONFLICT, IdempotencyResult.DUPLICATE, IdempotencyResult.NEW)))
            self.model.set_rows(rows, read.texts)
        else:
            self.summary.setText("")
            self.model.clear()
        if rows:
            self.table_stack.setCurrentWidget(self.table)
            self.table.selectRow(0)
        else:
            self.empty.setText(f"None of the run's {keys.total_steps:,} steps has an idempotency key: nothing to "
                               "look up in Redis." if keys.total_steps else "The run has no steps.")
            self.table_stack.setCurrentWidget(self.empty)
            self._show_row(None)
        self.pages.setCurrentWidget(self.content_page)
        self.loaded.emit(len(rows))

    def _failed(self, seq: int, exc: BaseException, doing: str) -> None:
        if seq != self._seq:
            return
        self._error(error_text(exc, doing))

    def _error(self, text: str) -> None:
        self.state = "error"
        self._show_message(text, retry=True, severity="payload-warning")
        self.failed.emit(text)

    # -- showing -------------------------------------------------------------------------------

    def _show_message(self, text: str, *, retry: bool, severity: str | None = None) -> None:
        self.message.setText(text)
        if severity is None:
            self.message.setStyleSheet("")
            self.message.setProperty("severity", None)
        else:
            set_severity(self.message, severity)
        self.retry_button.setVisible(retry)
        self.pages.setCurrentWidget(self.message_page)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        self._show_row(rows[0].data(RECORD_ROLE) if rows else None)

    def _show_row(self, r: IdempotencyRow | None) -> None:
        if r is None:
            self.detail.setText("")
            return
        keys = self.keys
        tenant = keys.tenant_id if keys else "default"
        prefix = self.current.prefix if self.current else self.redis.prefix()
        rows: list[tuple[str, Any]] = [
            ("Redis key", f"{prefix}:{tenant}:{r.step.idempotency_key}"),
            ("Verdict", f"{r.verdict.value}: {_VERDICT_TIPS[r.verdict]}"),
            ("Our request hash", r.step.request_hash),
        ]
        s = r.state
        if s is None:
            rows.append(("Stored", "nothing: the key is absent (never checked, or expired)"))
        else:
            rows += [("Stored hash", s.request_hash if s.request_hash is not None else "(no 'hash' field)"),
                     ("Status", s.status), ("Stored trace id", _stored_trace(r)),
                     ("TTL", fmt_ttl(s.ttl)), ("Created (UTC)", _epoch(s.created_at)),
                     ("Response hash", s.response_hash), ("Error", s.error)]
            known = {"hash", "status", "trace_id", "created_at", "response_hash", "error", "tenant_id"}
            rows += [(f"Field {k}", v) for k, v in sorted(s.fields.items()) if k not in known]
        self.detail.setText(field_table(rows))
