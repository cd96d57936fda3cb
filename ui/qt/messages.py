"""The one channel for user-facing messages (STYLE §11): code anywhere posts, the window shows.

Errors from sources arrive as :class:`inspector.errors.InspectorError` and are shown by their
one-line message; anything else is our bug: the user sees a short line, the log gets the traceback.
"""

from __future__ import annotations

import enum
import logging

from PySide6.QtCore import QObject, Signal

from inspector.errors import InspectorError

__all__ = ["Level", "MessageBus"]

log = logging.getLogger("trace_inspector")


class Level(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


class MessageBus(QObject):
    posted = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: list[tuple[Level, str]] = []

    def post(self, level: Level, text: str) -> None:
        self.history.append((level, text))
        del self.history[:-200]
        log.log({Level.INFO: logging.INFO, Level.WARNING: logging.WARNING}.get(level, logging.ERROR), text)
        self.posted.emit(int(level), text)

    def info(self, text: str) -> None:
        self.post(Level.INFO, text)

    def warning(self, text: str) -> None:
        self.post(Level.WARNING, text)

    def error(self, text: str) -> None:
        self.post(Level.ERROR, text)

    def exception(self, exc: BaseException, doing: str) -> None:
        """Report a failure of background work: a source's fault in its own words, our bug briefly."""
        if isinstance(exc, InspectorError):
            # "Could not open X: X: is not…" says X twice; name it once.
            named = exc.location is not None and exc.location in doing
            self.error(f"Could not {doing}: {exc.detail if named else exc}")
        else:
            log.error("internal error while trying to %s", doing, exc_info=exc)
            self.error(f"Could not {doing}: internal error ({type(exc).__name__}: {exc}). Details are in the log.")
