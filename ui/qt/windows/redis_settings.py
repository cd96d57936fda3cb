"""Settings → Redis…: the URL, a password for this session, the idempotency prefix, and "Test
connection" (a ``PING`` on the Redis worker)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inspector.errors import InspectorError, UsageError
from inspector.locations import (
    check_redis_url,
    redis_display_url,
    split_redis_password,
    with_redis_password,
)
from ui.format import fmt_duration
from ui.qt.session.redis import DEFAULT_PREFIX, RedisSettings
from ui.qt.session.session import Scope
from ui.qt.theme import muted, set_invalid, set_severity

__all__ = ["RedisSettingsDialog"]


class RedisSettingsDialog(QDialog):
    """Settings → Redis…: the URL, a password for this session, the idempotency prefix, and "Test
    connection" (a ``PING`` on the Redis worker, with the round trip or the error shown)."""

    #: Fires with the result text after each finished test (for tests and the status bar).
    tested = Signal(bool, str)

    def __init__(self, redis: RedisSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Redis")
        self.setObjectName("redisSettingsDialog")
        self.redis = redis
        #: The connection test: fields edited since (or the dialog closed) drop its answer.
        self._tests = Scope(None, "redis-test")

        intro = QLabel("The replay check keeps outputs in a Redis cache (aos:idempotency:{tenant}:{key}) and the "
                       "idempotency inspector reads upstream's keys ({prefix}:{tenant}:{key}). Without a URL the "
                       "replay check uses an in-memory cache and the inspector has nothing to read.")
        intro.setWordWrap(True)
        muted(intro)
        self.url_edit = QLineEdit(redis.stored_url() or "")
        self.url_edit.setObjectName("redisUrl")
        self.url_edit.setPlaceholderText("redis://host:6379/0 — empty: in-memory only")
        self.url_edit.setMinimumWidth(420)
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("redisPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("kept for this session (set)" if redis.has_session_password
                                              else "optional")
        password_note = QLabel("Kept in memory for this session only, never saved. A password typed in the URL "
                               "is moved here.")
        password_note.setWordWrap(True)
        muted(password_note)
        self.prefix_edit = QLineEdit(redis.prefix())
        self.prefix_edit.setObjectName("redisPrefix")
        self.prefix_edit.setPlaceholderText(DEFAULT_PREFIX)
        self.prefix_edit.setToolTip("The idempotency store's key prefix (upstream's default: idem)")

        form = QFormLayout()
        form.addRow("URL", self.url_edit)
        form.addRow("Password", self.password_edit)
        form.addRow("", password_note)
        form.addRow("Idempotency prefix", self.prefix_edit)

        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("redisTest")
        self.result_label = QLabel()
        self.result_label.setObjectName("redisTestResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(test_row)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        layout.addWidget(buttons)

        self.url_edit.editingFinished.connect(self._move_password)
        self.url_edit.textChanged.connect(self._edited)
        self.password_edit.textChanged.connect(self._edited)
        self.test_button.clicked.connect(self.test_connection)
        self._move_password()

    def _move_password(self) -> None:
        """A password typed in the URL goes to the password field, so it is never shown or saved."""
        bare, password = split_redis_password(self.url_edit.text().strip())
        if password is not None:
            self.url_edit.setText(bare)
            self.password_edit.setText(password)

    def _edited(self) -> None:
        set_invalid(self.url_edit, False)
        self._tests.renew()  # a test still running is about other values now
        self.result_label.hide()
        self.test_button.setEnabled(True)

    def candidate_url(self) -> str | None:
        """The URL the fields describe, with the typed (or the session's) password; raises
        :class:`UsageError` for text that is not a Redis URL."""
        text = self.url_edit.text().strip()
        if not text:
            return None
        check_redis_url(text)
        bare, in_url = split_redis_password(text)
        password = self.password_edit.text() or in_url
        if not password and bare == self.redis.stored_url():
            return self.redis.url()
        return with_redis_password(bare, password)

    def _show_result(self, ok: bool, text: str, severity: str) -> None:
        self.result_label.setText(text)
        set_severity(self.result_label, severity)
        self.result_label.show()
        self.tested.emit(ok, text)

    def test_connection(self) -> None:
        try:
            url = self.candidate_url()
        except UsageError as exc:
            set_invalid(self.url_edit, True)
            self._show_result(False, str(exc), "payload-warning")
            return
        if url is None:
            self._show_result(True, "No URL: the replay check will use an in-memory cache.", "payload-info")
            return
        self._tests.renew()
        where = redis_display_url(url)
        self.test_button.setEnabled(False)
        self.result_label.setText(f"Connecting to {where}…")
        set_severity(self.result_label, "payload-info")
        self.result_label.show()

        def done(seconds: float) -> None:
            self.test_button.setEnabled(True)
            self._show_result(True, f"Connected: {where} answered PING in {fmt_duration(seconds * 1000)}.", "payload-info")

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            text = str(exc) if isinstance(exc, InspectorError) else f"{where}: {type(exc).__name__}: {exc}"
            self._show_result(False, f"Cannot use this Redis — {text}", "payload-warning")

        redis = self.redis
        self._tests.run_on(redis.runner, lambda: redis.connector.ping(url), done, failed, label="testing Redis")

    def accept(self) -> None:
        try:
            self.redis.set_url(self.url_edit.text(), self.password_edit.text() or None)
        except UsageError as exc:
            set_invalid(self.url_edit, True)
            self._show_result(False, str(exc), "payload-warning")
            return
        self.redis.set_prefix(self.prefix_edit.text())
        super().accept()

    def done(self, result: int) -> None:
        self._tests.renew()  # its result would reach a closed dialog
        super().done(result)
