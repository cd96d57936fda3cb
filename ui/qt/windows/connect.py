"""Connecting to Postgres: the Connect dialog and the password prompt.

Passwords are asked for when the server wants one and kept only in memory for the session (so a
reconnect after a server restart does not ask again); settings and the recent list keep the URL
without it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from inspector.locations import is_postgres_url, split_pg_password
from ui.qt.theme import muted, set_severity

__all__ = ["ConnectDialog", "PasswordPrompt"]


class ConnectDialog(QDialog):
    """File → Connect to Postgres…: a URL (with recent ones offered) and an optional password.
    ``connect_requested(url, password)`` fires on Connect; the dialog never opens a connection."""

    connect_requested = Signal(str, object)

    def __init__(self, recent: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to Postgres")
        self.setObjectName("connectDialog")
        self.url = QLineEdit()
        self.url.setObjectName("connectUrl")
        self.url.setPlaceholderText("postgresql://user@host:5432/database")
        self.url.setMinimumWidth(420)
        pg_recent = [r for r in recent if is_postgres_url(r)]
        if pg_recent:
            self.url.setText(pg_recent[0])
            completer = QCompleter(pg_recent, self)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            self.url.setCompleter(completer)
        self.password = QLineEdit()
        self.password.setObjectName("connectPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("only if the server asks for one")
        self.error = QLabel()
        self.error.setObjectName("connectError")
        set_severity(self.error, "error-text")
        self.error.hide()
        form = QFormLayout()
        form.addRow("URL", self.url)
        form.addRow("Password", self.password)
        note = QLabel("Read-only: every session runs with default_transaction_read_only = on. "
                      "The password is kept in memory for this session only, never saved.")
        note.setWordWrap(True)
        muted(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = buttons.addButton("Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        text = self.url.text().strip()
        if not is_postgres_url(text):
            self.error.setText("Enter a URL that starts with postgresql://")
            self.error.show()
            return
        url, inline = split_pg_password(text)
        password = self.password.text() or inline
        self.connect_requested.emit(url, password or None)
        self.accept()


class PasswordPrompt(QDialog):
    """Asks for the password of a Postgres URL; ``submitted(url, password)`` on OK."""

    submitted = Signal(str, str)

    def __init__(self, url: str, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Password")
        self.setObjectName("passwordPrompt")
        self.target = url
        label = QLabel(f"<b>{url}</b><br>{reason}")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        self.password = QLineEdit()
        self.password.setObjectName("promptPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.password)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        self.submitted.emit(self.target, self.password.text())
        self.accept()
