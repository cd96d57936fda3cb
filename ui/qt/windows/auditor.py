"""Auditor mode of the main window: the title bar and the verification banner of the source shown,
the prompt before a bundle that failed verification is opened, trusting a signer, and the export
and trusted-keys dialogs. The main window builds one and forwards its menu commands here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMainWindow, QMessageBox

from inspector.bundle import BundleRejected
from inspector.model import RunFilter, RunSummary
from inspector.source import Attested
from ui.qt.messages import MessageBus
from ui.qt.panels.verification import VerificationBanner
from ui.qt.session.session import SourceSession
from ui.qt.session.trust import TrustStore
from ui.qt.windows.export import BundleTools, ExportDialog
from ui.qt.windows.trust import TrustDialog

__all__ = ["AuditorMode", "window_title"]

_APP = "AOS Trace Inspector"


def window_title(source: object | None) -> str:
    """The title bar for the source shown: a bundle says whether it verified, and is read-only."""
    if source is None:
        return _APP
    name = source.info.display_name  # type: ignore[attr-defined]
    if isinstance(source, Attested):
        mark = "verified bundle" if source.trusted else "UNTRUSTED bundle: failed verification"
        name = f"{'[UNTRUSTED] ' if not source.trusted else ''}{name} ({mark}, read-only)"
    return f"{name} — {_APP}"


class AuditorMode(QObject):
    def __init__(self, window: QMainWindow, session: SourceSession, trust: TrustStore, bus: MessageBus, *,
                 tools: BundleTools | None, open_location: Callable[..., None],
                 current_run: Callable[[], RunSummary | None], run_filter: Callable[[], RunFilter],
                 redis_url: Callable[[], str | None], sync: bool = False) -> None:
        super().__init__(window)
        self._window = window
        self._session = session
        self.trust = trust
        self._bus = bus
        self._tools = tools
        self._open = open_location
        self._current_run = current_run
        self._run_filter = run_filter
        self._redis_url = redis_url
        self._sync = sync
        self.banner = VerificationBanner()
        self.banner.hide()
        self.untrusted_prompt: QMessageBox | None = None
        self._export_dialog: ExportDialog | None = None
        self._trust_dialog: TrustDialog | None = None
        session.opened.connect(self.refresh)
        session.closed.connect(self._closed)
        session.open_failed.connect(self._open_failed)
        self.banner.trust_requested.connect(self._trust_signer)
        trust.changed.connect(self.refresh)

    # -- the source shown ------------------------------------------------------------------------

    def refresh(self, *_args) -> None:
        """The title bar and the banner for the source shown (a bundle: auditor mode)."""
        source = self._session.source
        if source is None:
            return
        self.banner.show_for(source, self.trust.label_of)
        self.banner.setVisible(isinstance(source, Attested))
        self._window.setWindowTitle(window_title(source))

    def _closed(self) -> None:
        self._window.setWindowTitle(window_title(None))
        self.banner.clear()
        self.banner.hide()

    def _trust_signer(self, key) -> None:
        source = self._session.source
        exported_by = str(source.manifest.get("exported_by") or "") if isinstance(source, Attested) else ""
        self.trust.add(key, exported_by and f"signer of bundles by {exported_by}")
        self._bus.info(f"Trusted the signer key {key.short}; manage trusted keys in Run → Trusted Signer Keys…")

    def _open_failed(self, location: str, exc: BaseException) -> None:
        if isinstance(exc, BundleRejected):
            self.offer_untrusted(location, exc)

    def offer_untrusted(self, location: str, exc: BundleRejected) -> None:
        """A bundle failed verification: say exactly what failed, and open it only on request."""
        problems = exc.verification.problems
        if self.untrusted_prompt is not None:
            self.untrusted_prompt.deleteLater()
        box = QMessageBox(QMessageBox.Icon.Critical, "Bundle failed verification",
                          f"{Path(location).name} failed verification: what it holds may not be what was exported.",
                          parent=self._window)
        box.setObjectName("untrustedPrompt")
        box.setInformativeText("\n".join(f"• {p}" for p in problems[:8])
                               + (f"\n… and {len(problems) - 8} more" if len(problems) > 8 else "")
                               + "\n\nOpen it anyway, marked UNTRUSTED in every view?")
        box.setDetailedText("\n".join(f"{p.code}: {p}" for p in problems))
        open_button = box.addButton("Open Untrusted", QMessageBox.ButtonRole.AcceptRole)
        open_button.setObjectName("openUntrusted")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        open_button.clicked.connect(lambda: self._open(location, untrusted=True))
        self.untrusted_prompt = box
        box.open()

    # -- dialogs ------------------------------------------------------------------------------------

    def _need_tools(self) -> BundleTools:
        if self._tools is None:
            raise RuntimeError("this window was built without the bundle tools")
        return self._tools

    @property
    def export_dialog(self) -> ExportDialog:
        if self._export_dialog is None:
            self._export_dialog = ExportDialog(self._session, self._need_tools(), self.trust,
                                               redis_url=self._redis_url, sync=self._sync, parent=self._window)
            self._export_dialog.open_requested.connect(self._open)
            self._export_dialog.finished_export.connect(
                lambda _ok, text: self._window.statusBar().showMessage(text, 15000))
        return self._export_dialog

    def export(self, *, whole_filter: bool = False) -> None:
        """File → Export…: the selected run (or every run of the filter) as a signed bundle."""
        if self._session.source is None:
            self._bus.info("Open a source first to export its runs.")
            return
        dialog = self.export_dialog
        if not dialog.busy:
            dialog.prepare(self._current_run(), self._run_filter(), whole_filter=whole_filter)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    @property
    def trust_dialog(self) -> TrustDialog:
        if self._trust_dialog is None:
            self._trust_dialog = TrustDialog(self.trust, self._need_tools(), sync=self._sync, parent=self._window)
        return self._trust_dialog

    def show_trusted_keys(self) -> None:
        self.trust_dialog.show()
        self.trust_dialog.raise_()

    def shutdown(self) -> None:
        for dialog in (self._export_dialog, self._trust_dialog):
            if dialog is not None:
                dialog.shutdown()
