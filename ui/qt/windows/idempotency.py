"""The Idempotency inspector: for each step of one run that has an idempotency key, what upstream's
Redis idempotency store holds under ``{prefix}:{tenant}:{key}`` (spec §6.2) and the verdict its Lua
check would give this step's request — read only, nothing is written.

"Our" request hash is ``hash_request(params)`` (upstream's idempotency convention: SHA-256, 64 hex,
of canonical JSON). The verdict is the Lua script's: no key → ``new``; the stored ``hash`` equal to
ours → ``duplicate``; anything else (another hash, or none stored) → ``conflict``. The reading is
the use case ``inspector.services.idempotency``: ``check`` is never called (it would write the key
when absent); the states are read with one pipelined ``states`` call per chunk, on the Redis
worker. The view closes with the session's source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.idempotency import IdempotencyResult, IdempotencyState
from inspector.locations import redis_display_url
from inspector.services.idempotency import (
    CHUNK,
    IdempotencyRow,
    KeyStates,
    RunKeys,
    load_run_keys,
    read_key_states,
)
from ui.qt.geometry import secondary_window
from ui.qt.models.records import (
    RECORD_ROLE,
    Column,
    RecordTableModel,
    record_table_view,
    texts_for,
)
from ui.qt.session.redis import RedisConnector, RedisSettings
from ui.qt.session.session import SourceSession, Worker
from ui.qt.session.tasks import Progress
from ui.qt.theme import clear_severity, colours, muted, placeholder_label, set_severity, title_font
from ui.qt.windows.replay_check import error_text, field_table

__all__ = [
    "CONVENTION_TEXT",
    "IDEMPOTENCY_COLUMNS",
    "NO_REDIS_TEXT",
    "IdempotencyRead",
    "IdempotencyView",
    "fmt_ttl",
    "idempotency_styler",
    "read_idempotency_states",
]

NO_REDIS_TEXT = "No Redis configured — set one in Settings."
CONVENTION_TEXT = ("Our request hash = hash_request(params): SHA-256 (64 hex) of the step's params as canonical "
                   "JSON (sorted keys, separators \",\" and \":\", default=str) — upstream's idempotency convention"
                   ". The verdict is what upstream's Lua check would answer for this request now: new (no key), "
                   "duplicate (the stored hash equals ours), conflict (it does not). Nothing is written to Redis.")


# -- the work (pure of Qt: runs on workers) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdempotencyRead:
    """The keyed steps' states as read, their cells formatted, and the key prefix read under."""

    states: KeyStates
    texts: list[tuple[str, ...]]
    prefix: str

    @property
    def rows(self) -> tuple[IdempotencyRow, ...]:
        return self.states.rows

    @property
    def read_at(self) -> float:
        return self.states.read_at


def read_idempotency_states(connector: RedisConnector, keys: RunKeys, url: str, prefix: str,
                            progress: Progress | None = None, *, chunk: int = CHUNK) -> IdempotencyRead:
    """Each keyed step's state in the Redis at ``url`` (Redis worker side). No fallback: an
    unreachable Redis raises (an empty memory store would say "new" for everything)."""
    store = connector.idempotency_store(url, prefix)
    try:
        states = read_key_states(keys, store, location=redis_display_url(url), progress=progress, chunk=chunk,
                                 cancelled=(lambda: progress.cancelled) if progress is not None else None)
    finally:
        store.close()
    return IdempotencyRead(states, texts_for(IDEMPOTENCY_COLUMNS, states.rows), prefix)


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
           tip="The stored status (pending / completed / failed). Upstream's check never reads it: a "
               "failed request sent again still answers duplicate"),
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

#: (text, background) of a verdict, as ``ui.qt.theme`` roles; statuses' text too.
_VERDICT_COLORS = {
    IdempotencyResult.CONFLICT: ("failure", "error_bg"),
    IdempotencyResult.DUPLICATE: ("success", None),
    IdempotencyResult.NEW: ("muted", None),
}
_STATUS_COLORS = {"failed": "failure", "pending": "warning", "completed": "success"}
_VERDICT_TIPS = {
    IdempotencyResult.NEW: "No key: upstream's check would store this request as new (status pending)",
    IdempotencyResult.DUPLICATE: "The key holds our request hash: upstream's check answers duplicate",
    IdempotencyResult.CONFLICT: "The key holds another request hash: upstream's check answers conflict",
}


def idempotency_styler(r: IdempotencyRow, column: str, role: int) -> Any:
    """Verdicts coloured (conflict red, duplicate green, new grey), statuses too."""
    if role == Qt.ItemDataRole.BackgroundRole:
        bg = _VERDICT_COLORS[r.verdict][1]
        return None if bg is None else getattr(colours(), bg)
    if role == Qt.ItemDataRole.ForegroundRole:
        if column == "Verdict":
            return getattr(colours(), _VERDICT_COLORS[r.verdict][0])
        if column == "Status" and r.state is not None:
            fg = _STATUS_COLORS.get(r.state.status or "")
            return None if fg is None else getattr(colours(), fg)
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
    """One run's idempotency keys in Redis. Build it with the session whose source holds the run,
    the run id (or trace id on Postgres) and the app's :class:`RedisSettings`; ``start()`` reads
    (again when the Redis setting changes). ``loaded(n)`` fires when ``n`` rows are shown;
    ``failed(text)`` when reading failed (shown with Retry)."""

    loaded = Signal(int)
    failed = Signal(str)

    def __init__(self, session: SourceSession, run_ref: str, *, redis: RedisSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("idempotencyView")
        self.setWindowTitle(f"Idempotency keys — {run_ref}")
        self.session = session
        self.run_ref = run_ref
        self.redis = redis
        self.keys: RunKeys | None = None
        self.current: IdempotencyRead | None = None
        self.state = "idle"  # idle, no-redis, loading, reading, done, error
        #: Reading the run's keys, then their states: a new start drops what was on its way.
        self._work = session.scope("idempotency")
        self.destroyed.connect(self._work.renew)
        session.closed.connect(self.close)  # it reads the source being closed

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
        secondary_window(self, "idempotencyWindow", (1200, 640))

    # -- flow ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the run's keyed steps (once, on the session's background worker), then their Redis
        states (on the Redis worker)."""
        self._work.renew()
        self.current = None
        self.model.clear()
        if self.redis.url() is None:
            self.state = "no-redis"
            self._show_message(NO_REDIS_TEXT, retry=False)
            return
        if self.keys is not None:
            self._read()
            return
        source = self.session.source
        if source is None:
            self._error("Could not read the run: the source is closed.")
            return
        self.state = "loading"
        self._show_message(f"Reading the steps of run {self.run_ref}…", retry=False)
        ref = self.run_ref
        self._work.submit(lambda: load_run_keys(source, ref), self._keys_loaded,
                          lambda exc: self._error(error_text(exc, f"read the steps of run {ref}")),
                          worker=Worker.BACKGROUND, label=f"reading the keys of {ref}")

    def shutdown(self) -> None:
        self._work.renew()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _redis_changed(self) -> None:
        if self.state != "idle":
            self.start()

    def _keys_loaded(self, keys: RunKeys) -> None:
        self.keys = keys
        self._read()

    def _read(self) -> None:
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
            self.message.setText(f"Reading idempotency keys from {where}: {done:,} of {total:,}…")

        connector = self.redis.connector
        self._work.run_on(self.redis.runner, lambda p: read_idempotency_states(connector, keys, url, prefix, p),
                          self._states_read, lambda exc: self._error(error_text(exc, "read the idempotency keys")),
                          label="reading idempotency keys", on_progress=progress)

    def _states_read(self, read: IdempotencyRead) -> None:
        if self.keys is not None:
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

    def _error(self, text: str) -> None:
        self.state = "error"
        self._show_message(text, retry=True, severity="payload-warning")
        self.failed.emit(text)

    # -- showing -------------------------------------------------------------------------------

    def _show_message(self, text: str, *, retry: bool, severity: str | None = None) -> None:
        self.message.setText(text)
        if severity is None:
            clear_severity(self.message)
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
