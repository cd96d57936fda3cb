"""The Redis setting: which Redis the replay check and the idempotency inspector use, and how to
reach it.

The URL is kept in ``QSettings`` (``redis/url``) **without its password**: a password typed in the
URL or in the password field is stripped before saving and kept in memory for this session only
(like Postgres passwords). No URL means in-memory stores only. :class:`RedisSettings` also owns
the one serial worker on which every Redis call of the UI runs, so a dead server (a connect
timeout) never holds up the GUI thread or a source's reads, and the :class:`RedisConnector` the
composition root gave it (the Qt side opens no driver itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Signal

from inspector.idempotency import IdempotencyStore
from inspector.locations import (
    check_redis_url,
    redis_display_url,
    split_redis_password,
    with_redis_password,
)
from inspector.replay import OpenedReplayCache
from ui.qt.session.tasks import TaskRunner

__all__ = ["DEFAULT_PREFIX", "PREFIX_KEY", "URL_KEY", "RedisConnector", "RedisSettings"]

URL_KEY = "redis/url"
PREFIX_KEY = "redis/idempotency_prefix"
#: Upstream's idempotency key prefix (``idem:{tenant}:{key}``, spec §6.2).
DEFAULT_PREFIX = "idem"


@dataclass(frozen=True, slots=True)
class RedisConnector:
    """How the app reaches a Redis (the composition root builds it from the drivers). Each call
    may block on the network: call them on :attr:`RedisSettings.runner`. Errors are the
    inspector's: :class:`SourceUnavailable`, :class:`PasswordRequired`, :class:`UsageError`."""

    #: The replay cache of a URL (None: memory), falling back to memory — visibly — when Redis
    #: cannot be reached.
    replay_cache: Callable[[str | None], OpenedReplayCache]
    #: The idempotency store of a URL and key prefix, without a fallback (an empty memory store
    #: would answer "new" for every key).
    idempotency_store: Callable[[str, str], IdempotencyStore]
    #: Connect and ``PING``: the round trip in seconds.
    ping: Callable[[str], float]


class RedisSettings(QObject):
    """The Redis URL of the session (``url()``: with the session's password, or ``None`` for the
    in-memory stores), the idempotency key prefix, and the Redis worker (``runner``).

    One per application: the composition root builds it from the app's ``QSettings`` and calls
    ``shutdown()`` at exit. ``changed`` fires when the URL, the password or the prefix changes."""

    changed = Signal()

    def __init__(self, settings: QSettings, connector: RedisConnector, *, sync: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connector = connector
        self._settings = settings
        self._sync = sync
        self._password: str | None = None  # this session only: never in QSettings
        self._runner: TaskRunner | None = None
        stored = self.stored_url()
        if stored:
            bare, password = split_redis_password(stored)
            if password is not None:
                # A password saved by something else (an older version, a hand-edited file): use
                # it this session, but take it out of the file.
                self._settings.setValue(URL_KEY, bare)
                self._settings.sync()
                self._password = password

    # -- the URL ---------------------------------------------------------------------------------

    def stored_url(self) -> str | None:
        """What the settings hold (never a password), or ``None``."""
        value = self._settings.value(URL_KEY, "")
        text = str(value).strip() if value else ""
        return text or None

    def url(self) -> str | None:
        """The URL to connect with (the session's password put back), or ``None``: use memory."""
        stored = self.stored_url()
        if stored is None:
            return None
        return with_redis_password(stored, self._password)

    @property
    def has_session_password(self) -> bool:
        return bool(self._password)

    def location(self) -> str:
        """The URL as messages show it, or ``"memory"``."""
        stored = self.stored_url()
        return redis_display_url(stored) if stored else "memory"

    def set_url(self, url: str | None, password: str | None = None) -> None:
        """Use ``url`` from now on (``None`` or blank: none, in-memory stores). A password in the
        URL or given as ``password`` is kept in memory for this session and never saved; giving
        the same URL again without one keeps the session's password. Raises :class:`UsageError`
        for text that is not a Redis URL (nothing is changed then)."""
        text = (url or "").strip()
        if not text:
            changed = self.stored_url() is not None or self._password is not None
            self._settings.remove(URL_KEY)
            self._settings.sync()
            self._password = None
            if changed:
                self.changed.emit()
            return
        check_redis_url(text)
        bare, in_url = split_redis_password(text)
        new_password = password or in_url
        if new_password is None and bare == self.stored_url():
            new_password = self._password
        if (bare, new_password) == (self.stored_url(), self._password):
            return
        self._settings.setValue(URL_KEY, bare)
        self._settings.sync()
        self._password = new_password
        self.changed.emit()

    def forget_password(self) -> None:
        if self._password is not None:
            self._password = None
            self.changed.emit()

    # -- the idempotency prefix ------------------------------------------------------------------

    def prefix(self) -> str:
        value = self._settings.value(PREFIX_KEY, DEFAULT_PREFIX)
        text = str(value).strip() if value else ""
        return text or DEFAULT_PREFIX

    def set_prefix(self, prefix: str) -> None:
        text = prefix.strip() or DEFAULT_PREFIX
        if text == self.prefix():
            return
        if text == DEFAULT_PREFIX:
            self._settings.remove(PREFIX_KEY)
        else:
            self._settings.setValue(PREFIX_KEY, text)
        self._settings.sync()
        self.changed.emit()

    # -- the worker ------------------------------------------------------------------------------

    @property
    def runner(self) -> TaskRunner:
        """The serial worker for Redis calls (and the replay check that uses the cache)."""
        if self._runner is None:
            self._runner = TaskRunner("redis", sync=self._sync, parent=self)
        return self._runner

    def shutdown(self, msecs: int = 30000) -> None:
        """Cancel what has not started and wait for what has (at most one Redis timeout)."""
        if self._runner is not None:
            self._runner.shutdown(msecs)
