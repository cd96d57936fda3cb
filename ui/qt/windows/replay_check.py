"""The Replay check view: a recorded replay run through upstream's replay enforcer against its
original (spec §6.1), every step with its outcome, the cache in use and where upstream stops.

It reads both runs on the session's background worker and checks them on the Redis worker
(``RedisSettings.runner``) with the use case ``trace-inspector replay-check`` calls
(``inspector.services.replay_check``): an in-memory cache seeded with the original's outputs when
no Redis is configured; the configured Redis (upstream's ``aos:idempotency:{tenant}:{key}``
layout), not seeded unless asked, falling back to memory — visibly — when it cannot be reached.
The view closes with the session's source.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cache
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.compare import StepDoc
from inspector.errors import InspectorError, PasswordRequired
from inspector.hashing import hash_output
from inspector.model import Payload
from inspector.replay import CheckOutcome, ReplayCheck, StepCheck
from inspector.services.replay_check import (
    CheckedReplay,
    LoadedReplay,
    check_replay,
    load_replay,
)
from ui.qt.geometry import secondary_window
from ui.qt.models.records import (
    RECORD_ROLE,
    Column,
    RecordTableModel,
    record_table_view,
    texts_for,
)
from ui.qt.panels.detail import PayloadView
from ui.qt.session.redis import RedisConnector, RedisSettings
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import colours, css, muted, placeholder_label, set_severity, title_font

__all__ = [
    "OUTCOME_COLORS",
    "REPLAY_COLUMNS",
    "ReplayCheckView",
    "error_text",
    "field_table",
    "replay_styler",
    "run_replay_check",
]

# -- the work (pure of Qt: runs on workers) -----------------------------------------------------


def run_replay_check(connector: RedisConnector, url: str | None, loaded: LoadedReplay, *,
                     seed_redis: bool = False) -> tuple[CheckedReplay, list[tuple[str, ...]]]:
    """The check on the cache ``trace-inspector replay-check --redis URL [--seed-cache]`` would
    use (memory without a URL), and its rows' cells (Redis worker side)."""
    cache = connector.replay_cache(url)
    try:
        checked = check_replay(loaded, cache, seed_shared=seed_redis)
    finally:
        cache.close()
    return checked, texts_for(REPLAY_COLUMNS, checked.result.steps)


def error_text(exc: BaseException, doing: str) -> str:
    """A failure in the user's words: ours name their source or URL (never a password)."""
    if isinstance(exc, InspectorError):
        text = f"Could not {doing}: {exc}"
        if isinstance(exc, PasswordRequired):
            text += " — set the Redis password in Settings → Redis (it is kept for this session only)."
        return text
    return f"Could not {doing}: internal error ({type(exc).__name__}: {exc})"


# -- the table -------------------------------------------------------------------------------------


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


REPLAY_COLUMNS: list[Column] = [
    Column("Pos", lambda s: str(s.position), 4, numeric=True,
           tip="Position in the replay's step list: the order upstream's enforce_trace goes through"),
    Column("Step", lambda s: str(s.step_index), 5, numeric=True, tip="step_index (the original's step with the "
                                                                     "same index is what a check compares with)"),
    Column("Skill", lambda s: s.skill_name or "", 12),
    Column("Behavior", lambda s: s.behavior, 8, tip="replay_behavior: execute (default), skip or check"),
    Column("Idempotency key", lambda s: s.idempotency_key or "—", 12,
           tip="The step's idempotency_key: the cache key (none: never cached, a skip executes)"),
    Column("Outcome", lambda s: s.outcome.value, 27),
    Column("Expected hash", lambda s: s.expected_hash or "—", 16,
           tip="hash_output of the original step's outcome_data (16 hex, default separators)"),
    Column("Actual hash", lambda s: s.actual_hash or "—", 16,
           tip="hash_output of the replay's output, or of the cached output on a cache hit"),
    Column("From cache", lambda s: _yes(s.from_cache), 6, tip="The output came from the cache"),
    Column("After stop", lambda s: "after stop" if s.after_stop else "", 9,
           tip="Upstream's enforce_trace stops at the first mismatch: it would never reach this step"),
    Column("Note", lambda s: s.note, 10),
]

#: (foreground, background) of an outcome; the whole row of a mismatch is tinted.
#: (as ``ui.qt.theme`` roles; steps after upstream's stop are drawn ``muted``).
OUTCOME_COLORS: dict[CheckOutcome, tuple[str | None, str | None]] = {
    CheckOutcome.MISMATCH: ("failure", "error_bg"),
    CheckOutcome.INVALID: ("failure", "error_bg"),
    CheckOutcome.CHECKED_UNVERIFIED: ("warning", "warning_bg"),
    CheckOutcome.SKIPPED: ("muted", None),
    CheckOutcome.CHECKED: ("success", None),
    CheckOutcome.EXECUTED: (None, None),
}
_VERDICT_EXTRA = "padding: 6px 8px; border-radius: 3px; font-weight: bold;"
_OUTCOME_TIPS = {
    CheckOutcome.EXECUTED: "Executed (offline: the replay's recorded output), hashed, and cached under its key",
    CheckOutcome.SKIPPED: "skip with a cache hit: the cached output is returned, nothing executes",
    CheckOutcome.CHECKED: "check: executed, and its output hash equals the original's",
    CheckOutcome.CHECKED_UNVERIFIED: "check with a cache hit: upstream returns the cached output as checked "
                                     "WITHOUT comparing anything",
    CheckOutcome.MISMATCH: "check: the output hash differs from the original's; upstream raises "
                           "ReplayMismatchError",
    CheckOutcome.INVALID: "a replay_behavior that is not execute, skip or check: upstream's ReplayBehavior "
                          "raises ValueError before anything runs",
}


@cache
def _italic() -> QFont:
    font = QFont()
    font.setItalic(True)
    return font


def replay_styler(s: StepCheck, column: str, role: int) -> Any:
    """Colours by outcome (mismatch red, unverified check amber, skipped grey, checked green);
    steps after upstream's stop greyed and in italics."""
    fg, bg = OUTCOME_COLORS[s.outcome]
    if role == Qt.ItemDataRole.BackgroundRole:
        if bg is not None and (s.outcome in (CheckOutcome.MISMATCH, CheckOutcome.INVALID) or column == "Outcome"):
            return getattr(colours(), bg)
        return None
    if role == Qt.ItemDataRole.ForegroundRole:
        if column == "Outcome":
            return None if fg is None else getattr(colours(), fg)
        if s.after_stop:
            return colours().muted
        return None
    if role == Qt.ItemDataRole.FontRole and s.after_stop:
        return _italic()
    if role == Qt.ItemDataRole.ToolTipRole:
        if column == "Outcome":
            return _OUTCOME_TIPS[s.outcome]
        if column == "After stop" and s.after_stop:
            return "Upstream's enforce_trace raised at an earlier step and would never reach this one"
        if column == "Note" and s.note:
            return s.note
    return None


def field_table(rows: Sequence[tuple[str, Any]]) -> str:
    """Label/value rows as a small HTML table (values escaped; empty ones shown as a dash)."""
    cells = []
    for label, value in rows:
        shown = "—" if value is None or value == "" else html.escape(str(value))
        cells.append(f"<tr><td style='padding-right:12px;color:{css('muted')}'>{html.escape(label)}</td>"
                     f"<td>{shown}</td></tr>")
    return "<table cellspacing='0' cellpadding='1'>" + "".join(cells) + "</table>"


# -- the view ----------------------------------------------------------------------------------------


class ReplayCheckView(QWidget):
    """A replay run checked against its original. Build it with the session whose source holds
    the replay (and the original, unless ``original_session`` is given), the replay's run id (or
    trace id on Postgres), optionally the original's run id (default: the replay's
    ``metadata.replay_of``), and the app's :class:`RedisSettings`. ``start()`` loads and checks;
    ``checked(ok)`` fires when a check is shown, ``failed(text)`` when loading or checking failed
    (the view shows it, with Retry)."""

    checked = Signal(bool)
    failed = Signal(str)
    save_requested = Signal(str, str)

    def __init__(self, session: SourceSession, run_ref: str, *, redis: RedisSettings,
                 original_ref: str | None = None, original_session: SourceSession | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replayCheckView")
        self.setWindowTitle(f"Replay check — {run_ref}")
        self.session = session
        self.run_ref = run_ref
        self.original_ref = original_ref
        self.original_session = original_session
        self.redis = redis
        self.loaded: LoadedReplay | None = None
        self.current: CheckedReplay | None = None
        self._texts: list[tuple[str, ...]] = []
        self.state = "idle"  # idle, loading, checking, done, error
        #: Reading the runs, then checking them: a new start or check drops what was on its way.
        self._work = session.scope("replay-check")
        self.destroyed.connect(self._work.renew)
        session.closed.connect(self.close)  # it reads the source being closed

        self.title = QLabel(f"Replay check: {run_ref}")
        self.title.setObjectName("replayTitle")
        self.title.setFont(title_font(self.title.font()))
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("replaySubtitle")
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        muted(self.subtitle)
        self.cache_banner = QLabel()
        self.cache_banner.setObjectName("replayCacheBanner")
        self.cache_banner.setWordWrap(True)
        self.cache_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cache_banner.hide()
        self.verdict = QLabel()
        self.verdict.setObjectName("replayVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.hide()
        self.counts = QLabel()
        self.counts.setObjectName("replayCounts")
        muted(self.counts)

        self.seed_box = QCheckBox("Seed the Redis cache with the original's outputs")
        self.seed_box.setObjectName("replaySeed")
        self.seed_box.setToolTip("As replay-check --seed-cache: cache each original output under its key first, as "
                                 "running the original through AOS would have left them. An in-memory cache is "
                                 "always seeded.")
        self.run_button = QPushButton("Run again")
        self.run_button.setObjectName("replayRun")
        self.run_button.setToolTip("Check again with the current Redis setting")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.counts, 1)
        bar.addWidget(self.seed_box)
        bar.addWidget(self.run_button)

        self.model = RecordTableModel(REPLAY_COLUMNS, self, styler=replay_styler)
        self.table = record_table_view(self.model, "replayTable")
        self.placeholder = placeholder_label("replayPlaceholder")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.placeholder)

        # The selected step: its fields, and both outputs.
        self.detail_title = QLabel()
        self.detail_title.setObjectName("replayDetailTitle")
        bold = self.detail_title.font()
        bold.setBold(True)
        self.detail_title.setFont(bold)
        self.detail_fields = QLabel()
        self.detail_fields.setObjectName("replayDetailFields")
        self.detail_fields.setTextFormat(Qt.TextFormat.RichText)
        self.detail_fields.setWordWrap(True)
        self.detail_fields.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_fields.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.replay_output = PayloadView("replay output")
        self.original_output = PayloadView("original output")
        for view in (self.replay_output, self.original_output):
            view.save_requested.connect(self.save_requested)
        self.outputs = QTabWidget()
        self.outputs.setDocumentMode(True)
        self.outputs.addTab(self.replay_output, "Replay output")
        self.outputs.addTab(self.original_output, "Original output")
        fields = QWidget()
        fields_layout = QVBoxLayout(fields)
        fields_layout.setContentsMargins(4, 4, 4, 4)
        fields_layout.addWidget(self.detail_title)
        fields_layout.addWidget(self.detail_fields, 1)
        detail = QSplitter(Qt.Orientation.Horizontal)
        detail.setObjectName("replayDetail")
        detail.setChildrenCollapsible(False)
        detail.addWidget(fields)
        detail.addWidget(self.outputs)
        detail.setStretchFactor(0, 3)
        detail.setStretchFactor(1, 2)

        self.notes = QLabel()
        self.notes.setObjectName("replayNotes")
        self.notes.setWordWrap(True)
        muted(self.notes)
        self.notes.hide()

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(self.stack)
        split.addWidget(detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([430, 230])
        self.splitter = split

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.cache_banner)
        layout.addWidget(self.verdict)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.notes)

        self.run_button.clicked.connect(self.rerun)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._sync_seed_box()
        self.redis.changed.connect(self._sync_seed_box)
        self._show_step(None)
        self._show_placeholder("")
        secondary_window(self, "replayCheckWindow", (1280, 760))

    # -- flow ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Read both runs (the session's background worker), then check (Redis worker)."""
        self._work.renew()
        self.loaded = None
        self._clear_result()
        source = self.session.source
        osrc = self.original_session.source if self.original_session is not None else None
        if source is None or (self.original_session is not None and osrc is None):
            self._fail("the source is closed", None)
            return
        self._set_state("loading")
        self._show_placeholder(f"Reading run {self.run_ref} and its original…")
        ref, oref = self.run_ref, self.original_ref
        self._work.submit(lambda: load_replay(source, ref, osrc, oref), self._loaded,
                          lambda exc: self._fail(f"read replay run {ref} and its original", exc),
                          worker=Worker.BACKGROUND, label=f"reading replay {ref}")

    def rerun(self) -> None:
        """Check again (after a failure to load: read again first)."""
        if self.loaded is None or self.state == "loading":
            self.start()
        else:
            self._check()

    def shutdown(self) -> None:
        """Drop pending results (the workers belong to the session and to RedisSettings)."""
        self._work.renew()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _loaded(self, loaded: LoadedReplay) -> None:
        self.loaded = loaded
        r, o = loaded.replay, loaded.original
        self.title.setText(f"Replay check: {r.summary.run_id} against original {o.summary.run_id}")
        where = r.location if r.location == o.location else f"{r.location} (original: {o.location})"
        self.subtitle.setText(f"{where} · tenant {r.summary.tenant_id or 'default'} · replay {len(r.steps):,} steps, "
                              f"original {len(o.steps):,} steps")
        self.setWindowTitle(f"Replay check — {r.summary.run_id}")
        self._check()

    def _check(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        self._work.renew()
        url = self.redis.url()
        seed = bool(url) and self.seed_box.isChecked()
        self._clear_result()
        self._set_state("checking")
        self._show_placeholder("Checking against " + (f"Redis {self.redis.location()}…" if url else
                                                      "an in-memory cache…"))
        connector = self.redis.connector
        self._work.run_on(self.redis.runner, lambda: run_replay_check(connector, url, loaded, seed_redis=seed),
                          self._checked, lambda exc: self._fail("run the replay check", exc), label="checking a replay")

    def _checked(self, result: tuple[CheckedReplay, list[tuple[str, ...]]]) -> None:
        checked, texts = result
        self.current = checked
        self._texts = texts
        result = checked.result
        self._show_cache(checked)
        self._show_verdict(result)
        self.counts.setText(" · ".join(f"{n:,} {k}" for k, n in result.counts().items() if n) or "no steps")
        # The verdict already says where upstream stops, in more words.
        notes = [n for n in result.notes if result.upstream_stop is None or "enforce_trace stops" not in n]
        if not checked.in_memory:
            notes.append("On Redis the check leaves the outputs of executed steps that have a key in the cache "
                         "(SETEX 24 h), as upstream's enforcer does, up to the step where it stops: checking "
                         "again finds them there.")
        self.notes.setText("\n".join(notes))
        self.notes.setVisible(bool(notes))
        self.model.set_rows(result.steps, texts)
        if result.steps:
            self.stack.setCurrentWidget(self.table)
            first = result.upstream_stop if result.upstream_stop is not None else 0
            self.table.selectRow(first)
            self.table.scrollTo(self.model.index(first, 0))
        else:
            self._show_placeholder("The replay has no steps: there is nothing to check.")
        self._set_state("done")
        self.checked.emit(result.ok)

    def _fail(self, doing: str, exc: BaseException | None) -> None:
        text = error_text(exc, doing) if exc is not None else f"Could not check: {doing}."
        self.verdict.setText(text)
        set_severity(self.verdict, "payload-warning")
        self.verdict.show()
        self._show_placeholder("Nothing to show — see the message above, then Retry.")
        self._set_state("error")
        self.failed.emit(text)

    # -- showing -------------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        self.state = state
        busy = state in ("loading", "checking")
        self.run_button.setEnabled(not busy)
        self.run_button.setText("Retry" if state == "error" else "Run again")

    def _sync_seed_box(self) -> None:
        configured = self.redis.stored_url() is not None
        self.seed_box.setEnabled(configured)
        self.seed_box.setVisible(configured)

    def _clear_result(self) -> None:
        self.current = None
        self.model.clear()
        self.verdict.hide()
        self.cache_banner.hide()
        self.notes.hide()
        self.counts.clear()
        self._show_step(None)

    def _show_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def _show_cache(self, checked: CheckedReplay) -> None:
        tenant = checked.tenant_id
        if checked.fallback_reason:
            text = (f"⚠ Redis is unreachable, so this check ran on an in-memory cache seeded with the original's "
                    f"outputs (not on the shared cache). {checked.fallback_reason}")
            severity = "payload-warning"
        elif checked.in_memory:
            text = ("Cache: in memory, seeded with the original's outputs under their idempotency keys (as "
                    "trace-inspector replay-check does without --redis). Set a Redis URL in Settings to check "
                    "against the shared cache.")
            severity = "payload-info"
        else:
            seeded = ("seeded with the original's outputs first" if checked.seeded
                      else "as it is (not seeded: only what AOS or earlier checks left there)")
            text = (f"Cache: Redis {checked.cache_location}, keys aos:idempotency:{tenant}:{{key}}, {seeded}.")
            severity = "payload-info"
        self.cache_banner.setText(text)
        set_severity(self.cache_banner, severity)
        self.cache_banner.show()

    def _show_verdict(self, result: ReplayCheck) -> None:
        unverified = sum(1 for s in result.steps if s.outcome is CheckOutcome.CHECKED_UNVERIFIED)
        if result.ok:
            text = "✔ " + result.headline()
            if unverified:
                text += (f" {unverified:,} check step(s) were answered from the cache without comparing "
                         "(upstream's unverified cache hit).")
            set_severity(self.verdict, "ok", extra=_VERDICT_EXTRA)
        else:
            text = "✘ " + result.headline()
            set_severity(self.verdict, "error", extra=_VERDICT_EXTRA)
        self.verdict.setText(text)
        self.verdict.show()

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        self._show_step(rows[0].data(RECORD_ROLE) if rows else None)

    def selected_check(self) -> StepCheck | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(RECORD_ROLE) if rows else None

    def _docs_for(self, s: StepCheck) -> tuple[StepDoc | None, StepDoc | None]:
        loaded = self.loaded
        if loaded is None:
            return None, None
        replay = loaded.replay.steps[s.position] if 0 <= s.position < len(loaded.replay.steps) else None
        original = next((d for d in loaded.original.steps if d.step_index == s.step_index), None)
        return replay, original

    def _show_step(self, s: StepCheck | None) -> None:
        if s is None:
            self.detail_title.setText("Select a step to see how upstream's enforcer handled it")
            self.detail_fields.clear()
            self.replay_output.clear("Nothing selected")
            self.original_output.clear("Nothing selected")
            return
        replay, original = self._docs_for(s)
        self.detail_title.setText(f"Position {s.position} · step {s.step_index}"
                                  + (f" · {s.skill_name}" if s.skill_name else "") + f" — {s.outcome.value}")
        rows: list[tuple[str, Any]] = [
            ("Behavior", s.behavior), ("Idempotency key", s.idempotency_key),
            ("Outcome", f"{s.outcome.value}: {_OUTCOME_TIPS[s.outcome]}"),
            ("Expected hash", s.expected_hash), ("Actual hash", s.actual_hash),
            ("From cache", "yes" if s.from_cache else "no"),
        ]
        if s.outcome is CheckOutcome.CHECKED_UNVERIFIED and replay is not None:
            # Upstream never compared; say what comparing the replay's own output would have found.
            own = hash_output(replay.outcome_data)
            verdict = ("would match the original" if own == s.expected_hash
                       else "would NOT match the original" if s.expected_hash else "has no original to match")
            rows.append(("Replay's own output", f"{own} — {verdict} (upstream never compared it)"))
        if s.after_stop:
            rows.append(("After upstream's stop", "yes: enforce_trace raised earlier and never reaches this step"))
        if s.note:
            rows.append(("Note", s.note))
        self.detail_fields.setText(field_table(rows))
        stem = f"replay-{self.run_ref}-step-{s.step_index}"
        if replay is not None:
            self.replay_output.set_payload(Payload.from_value(replay.outcome_data), file_stem=stem,
                                           absent_text="The replay step's outcome_data is null")
        else:
            self.replay_output.clear("Not in the replay")
        if original is not None:
            self.original_output.set_payload(Payload.from_value(original.outcome_data),
                                             file_stem=f"original-step-{s.step_index}",
                                             absent_text="The original step's outcome_data is null")
        else:
            self.original_output.clear(f"The original has no step {s.step_index}")
