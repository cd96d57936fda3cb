"""Run → Trusted Signer Keys…: the public keys whose bundles verify as trusted. Public keys
only: a private key file given here is refused."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inspector.bundle import PublicKey
from ui.qt.session.tasks import TaskRunner
from ui.qt.session.trust import TrustStore
from ui.qt.theme import muted, set_severity
from ui.qt.windows.export import BundleTools

__all__ = ["TrustDialog"]


class TrustDialog(QDialog):
    #: A key file was read and added, or refused: ``(ok, text)``.
    added = Signal(bool, str)

    def __init__(self, trust: TrustStore, tools: BundleTools, *, sync: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Trusted Signer Keys")
        self.setObjectName("trustDialog")
        self.trust = trust
        self.tools = tools
        self.runner = TaskRunner("trust", sync=sync, parent=self)
        intro = QLabel("A bundle signed by one of these keys shows as verified by a trusted key. Add the .pub "
                       "file of whoever exports the bundles you read; only public keys are kept.")
        intro.setWordWrap(True)
        muted(intro)
        self.list = QListWidget()
        self.list.setObjectName("trustedKeys")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        add = QPushButton("Add Public Key…")
        add.setObjectName("trustAdd")
        add.clicked.connect(self._browse)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("trustRemove")
        self.remove_button.clicked.connect(self.remove_selected)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(560, 360)
        trust.changed.connect(self.reload)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        for e in self.trust.entries():
            item = QListWidgetItem(f"{e.label or '(no label)'} — {e.key.short}")
            item.setData(Qt.ItemDataRole.UserRole, e.key.fingerprint)
            item.setToolTip(f"SHA-256 fingerprint {e.key.fingerprint}")
            self.list.addItem(item)
        if not self.trust.entries():
            item = QListWidgetItem("(no trusted keys: bundles verify, but their signer is not known to you)")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)
        self.remove_button.setEnabled(bool(self.trust.entries()))

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Public key", str(Path.home()), "Public keys (*.pub *.pem);;All files (*)")
        if path:
            self.add_file(path)

    def add_file(self, path: str) -> None:
        """Read a public key file on the worker and trust it, labelled with the file's name."""
        def done(key: PublicKey) -> None:
            label = Path(path).name.removesuffix(".pub").removesuffix(".key").removesuffix(".pem")
            new = self.trust.add(key, label)
            text = f"{'Added' if new else 'Already trusted'}: {label} — {key.short}"
            self._say("payload-info", text)
            self.added.emit(True, text)

        def failed(exc: BaseException) -> None:
            self._say("error", str(exc))
            self.added.emit(False, str(exc))

        self.runner.submit(lambda: self.tools.read_public_key(path), done, failed, label="Reading the key")

    def remove_selected(self) -> None:
        item = self.list.currentItem()
        fingerprint = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if fingerprint:
            self.trust.remove(fingerprint)

    def _say(self, severity: str, text: str) -> None:
        set_severity(self.message, severity)
        self.message.setText(text)
        self.message.show()

    def shutdown(self) -> None:
        self.runner.shutdown()
