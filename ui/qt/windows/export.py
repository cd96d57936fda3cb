"""File → Export…: the selected run, or every run of the current filter, as one signed bundle.

The export runs as a job on the dialog's own worker (``inspector.services.export``, the CLI's use
case): a progress bar with the percentage and ETA, each retry after a dropped connection shown,
Cancel at any time (nothing is left behind: the bundle appears only once complete). The signing key
is a file; the dialog can generate one (its public key is trusted on this computer at once)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from inspector.bundle import PublicKey, SigningKey, Verification
from inspector.errors import InspectorError
from inspector.idempotency import IdempotencyStore
from inspector.jobs import JobProgress
from inspector.model import RunFilter, RunSummary
from inspector.services.export import (
    BundleTarget,
    ExportCancelled,
    ExportOptions,
    ExportResult,
    ReportInput,
    RunSelection,
    export_bundle,
)
from ui.qt.session.session import SourceSession
from ui.qt.session.tasks import TaskRunner
from ui.qt.session.trust import TrustStore
from ui.qt.theme import muted, set_severity

__all__ = ["BundleTools", "ExportDialog"]

_KINDS = (("evidence", "Evidence bundle"), ("soc2", "SOC2 evidence bundle"), ("executive", "Executive debrief"))


@dataclass(frozen=True, slots=True)
class BundleTools:
    """What the bundle windows need of the drivers (given by the composition root)."""

    target: Callable[[str], BundleTarget]
    render_report: Callable[[ReportInput], bytes]
    read_private_key: Callable[[str], SigningKey]
    write_keypair: Callable[[str], SigningKey]
    read_public_key: Callable[[str], PublicKey]
    default_key_path: Callable[[], str]
    #: The idempotency store exports are remembered in: Redis at this URL, or memory for None.
    idempotency: Callable[[str | None], IdempotencyStore]
    verify: Callable[[str, Sequence[PublicKey]], Verification]
    producer_version: str = "0"
    exported_by: str = "unknown"


def _describe(flt: RunFilter) -> str:
    parts = [f"{k} {v}" for k, v in (("status", flt.status), ("tenant", flt.tenant_id), ("agent", flt.agent_id),
                                      ("since", flt.since), ("until", flt.until), ("run id", flt.run_id_prefix),
                                      ("grade", flt.grade)) if v]
    return ", ".join(parts) if parts else "no filter: every run"


class ExportDialog(QDialog):
    """Made once per main window and shown again for each export."""

    #: A bundle was written: open it (the user pressed "Open Bundle").
    open_requested = Signal(str)
    #: The export finished: ``(ok, text)`` (for tests and the status bar).
    finished_export = Signal(bool, str)

    def __init__(self, session: SourceSession, tools: BundleTools, trust: TrustStore, *,
                 redis_url: Callable[[], str | None] = lambda: None, sync: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Bundle")
        self.setObjectName("exportDialog")
        self.session = session
        self.tools = tools
        self.trust = trust
        self._redis_url = redis_url
        self.runner = TaskRunner("export", sync=sync, parent=self)
        self._cancel = threading.Event()
        self._latest: JobProgress | None = None
        self._retries: list[str] = []
        self._run: RunSummary | None = None
        self._flt = RunFilter()
        self.result: ExportResult | None = None

        intro = QLabel("A bundle is one .zip: the runs as JSON, upstream's bundle with its content hash, a PDF "
                       "report, and a manifest of every file's SHA-256 signed with your key. Auditors verify it "
                       "offline (trace-inspector verify, or by opening it here).")
        intro.setWordWrap(True)
        muted(intro)
        self.this_run = QRadioButton()
        self.this_run.setObjectName("exportThisRun")
        self.filtered = QRadioButton()
        self.filtered.setObjectName("exportFiltered")
        group = QButtonGroup(self)
        group.addButton(self.this_run)
        group.addButton(self.filtered)
        self.kind = QComboBox()
        self.kind.setObjectName("exportKind")
        for value, text in _KINDS:
            self.kind.addItem(text, value)
        self.reason = QLineEdit()
        self.reason.setObjectName("exportReason")
        self.reason.setPlaceholderText("why these runs leave the system (recorded and signed)")
        self.redact = QCheckBox("Redact payloads: upstream's rules, plus card numbers and SSNs")
        self.redact.setObjectName("exportRedact")
        self.redact.setChecked(True)
        self.key_edit = QLineEdit(trust.key_path or tools.default_key_path())
        self.key_edit.setObjectName("exportKey")
        key_browse = QPushButton("Browse…")
        key_browse.clicked.connect(self._browse_key)
        self.generate_button = QPushButton("Generate Key…")
        self.generate_button.setObjectName("exportGenerateKey")
        self.generate_button.clicked.connect(self.generate_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(key_browse)
        key_row.addWidget(self.generate_button)
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("exportOut")
        self.out_edit.setPlaceholderText("where to write the bundle (.zip)")
        out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(out_browse)
        form = QFormLayout()
        form.addRow("Runs:", self.this_run)
        form.addRow("", self.filtered)
        form.addRow("Bundle:", self.kind)
        form.addRow("Reason:", self.reason)
        form.addRow("", self.redact)
        form.addRow("Signing key:", key_row)
        form.addRow("Save as:", out_row)

        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p%")
        self.progress_label = QLabel()
        self.progress_label.setObjectName("exportProgressLabel")
        self.progress_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("exportMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("exportStart")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("exportCancel")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.open_button = QPushButton("Open Bundle")
        self.open_button.setObjectName("exportOpen")
        self.open_button.clicked.connect(self._open_result)
        self.open_button.hide()
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.setMinimumWidth(620)
        self._set_busy(False)
        session.closed.connect(self._source_closed)

    # -- showing ---------------------------------------------------------------------------------

    def prepare(self, run: RunSummary | None, flt: RunFilter, *, whole_filter: bool = False) -> None:
        """Offer ``run`` (the selected one) and the runs of ``flt``; choose the filter when asked."""
        self._run, self._flt = run, flt
        self.this_run.setText(f"This run: {run.run_id}" if run is not None else "This run (none selected)")
        self.this_run.setEnabled(run is not None)
        self.filtered.setText(f"Every run matching the current filter ({_describe(flt)})")
        (self.filtered if whole_filter or run is None else self.this_run).setChecked(True)
        if not self.out_edit.text().strip() or self.result is not None:
            name = (run.run_id if run is not None and not whole_filter else "runs") + ".zip"
            base = Path(self.out_edit.text()).parent if self.out_edit.text().strip() else Path.home()
            self.out_edit.setText(str(base / name.replace("/", "_")))
        self.result = None
        self.open_button.hide()
        self.message.hide()
        self.progress.setValue(0)
        self.progress_label.setText("")

    # -- keys --------------------------------------------------------------------------------------

    def _browse_key(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Signing key", self.key_edit.text(), "Keys (*.pem *.key);;All files (*)")
        if path:
            self.key_edit.setText(path)

    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save bundle as", self.out_edit.text(), "Bundles (*.zip)")
        if path:
            self.out_edit.setText(path if path.endswith(".zip") else path + ".zip")

    def generate_key(self) -> None:
        """Write a new key pair at the key field's path (on the worker); trust its public key."""
        path = self.key_edit.text().strip() or self.tools.default_key_path()
        self.key_edit.setText(path)
        self.generate_button.setEnabled(False)

        def done(key: SigningKey) -> None:
            self.generate_button.setEnabled(True)
            self.trust.set_key_path(path)
            self.trust.add(key.public, "my signing key")
            self._say("info", f"New signing key {key.public.short} written to {path} (public key: {path}.pub); "
                              "it is trusted on this computer. Give the .pub file to whoever verifies your bundles.")

        def failed(exc: BaseException) -> None:
            self.generate_button.setEnabled(True)
            self._say("error", f"Could not write the key: {exc}")

        self.runner.submit(lambda: self.tools.write_keypair(path), done, failed, label="Writing the signing key")

    # -- the job -------------------------------------------------------------------------------------

    def _selection(self) -> RunSelection:
        if self.this_run.isChecked() and self._run is not None:
            return RunSelection((self._run.key,))
        return RunSelection(flt=self._flt)

    def start(self) -> None:
        source = self.session.source
        out = self.out_edit.text().strip()
        key_path = self.key_edit.text().strip()
        if source is None:
            self._say("error", "No source is open.")
            return
        if not out:
            self._say("error", "Choose where to save the bundle.")
            return
        if not key_path:
            self._say("error", "Choose a signing key, or generate one.")
            return
        options = ExportOptions(kind=self.kind.currentData(), reason=self.reason.text().strip() or None,
                                redact=self.redact.isChecked(), exported_by=self.tools.exported_by,
                                producer_version=self.tools.producer_version)
        selection = self._selection()
        tools = self.tools
        self._cancel.clear()
        self._retries.clear()
        self._latest = None
        self.result = None
        self.message.hide()
        self.open_button.hide()
        self._set_busy(True)
        self.trust.set_key_path(key_path)
        cancel = self._cancel
        redis_url = self._redis_url()

        def work(progress) -> ExportResult:
            key = tools.read_private_key(key_path)
            target = tools.target(out)
            store = tools.idempotency(redis_url)

            def moved(p: JobProgress) -> None:
                self._latest = p
                progress(int(max(0.0, min(100.0, p.percentage)) * 10), 1000)

            def retried(attempt: int, delay: float, error: str) -> None:
                self._retries.append(f"Retry {attempt} in {delay:.1f} s: {error}")
                progress(int(self._latest.percentage * 10) if self._latest else 0, 1000)

            try:
                return export_bundle(source, selection, target, key, options, idempotency=store,
                                     render_report=tools.render_report, progress=moved, cancelled=cancel.is_set,
                                     on_retry=retried)
            finally:
                store.close()

        self.runner.submit(work, self._done, self._failed, label="Exporting", on_progress=self._moved)

    def _moved(self, done: int, total: int) -> None:
        self.progress.setValue(done)
        p = self._latest
        parts = []
        if p is not None:
            parts.append(p.message)
            if p.eta_seconds is not None and p.percentage < 100:
                parts.append(f"about {p.eta_seconds} s left")
        text = " — ".join(x for x in parts if x)
        if self._retries:
            text += "<br>" + "<br>".join(self._retries[-3:])
        self.progress_label.setText(text)

    def _done(self, result: ExportResult) -> None:
        self._set_busy(False)
        self.result = result
        self.progress.setValue(1000)
        if result.reused:
            text = f"The same export was already written: {result.location}"
        else:
            c = result.manifest["completeness"]
            text = (f"Wrote {result.location}: {c['runs']['found']} run{'s' if c['runs']['found'] != 1 else ''}, "
                    f"{c['steps']['found']:,} steps, {result.files} files, signed by "
                    f"{result.manifest['signer']['fingerprint'][:16]}…")
            if result.retries:
                text += f" ({result.retries} retr{'ies' if result.retries != 1 else 'y'} after dropped connections)"
            if c["runs"]["missing"]:
                text += f". Not found: {', '.join(c['runs']['missing_ids'])}"
        self.progress_label.setText("Done")
        self._say("info", text)
        self.open_button.show()
        self.finished_export.emit(True, text)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, ExportCancelled):
            text = "Cancelled: nothing was written."
            self.progress.setValue(0)
            self.progress_label.setText("")
            self._say("warning", text)
        else:
            text = str(exc) if isinstance(exc, InspectorError) else f"{type(exc).__name__}: {exc}"
            self._say("error", f"Export failed: {text}")
        self.finished_export.emit(False, text)

    def cancel(self) -> None:
        self._cancel.set()
        self.progress_label.setText("Cancelling…")

    @property
    def busy(self) -> bool:
        return not self.runner.idle

    def _cancel_or_close(self) -> None:
        if self.busy:
            self.cancel()
        else:
            self.hide()

    def _source_closed(self) -> None:
        if self.busy:
            self.cancel()

    def _open_result(self) -> None:
        if self.result is not None:
            self.open_requested.emit(self.result.location)
            self.hide()

    def _set_busy(self, busy: bool) -> None:
        self.export_button.setEnabled(not busy)
        self.cancel_button.setText("Cancel" if busy else "Close")
        for w in (self.this_run, self.filtered, self.kind, self.reason, self.redact, self.key_edit, self.out_edit,
                  self.generate_button):
            w.setEnabled(not busy and (w is not self.this_run or self._run is not None))

    def _say(self, severity: str, text: str) -> None:
        set_severity(self.message, {"info": "payload-info", "warning": "payload-warning",
                                    "error": "error"}[severity])
        self.message.setText(text)
        self.message.show()

    def reject(self) -> None:  # Esc / the window's close button
        if self.busy:
            self.cancel()
        super().reject()

    def shutdown(self) -> None:
        self._cancel.set()
        self.runner.shutdown()
