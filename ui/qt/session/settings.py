"""What the app remembers: the recent sources (in ``QSettings``, never with a password) and the
passwords typed this session (in memory only, by location without its password)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

__all__ = ["MAX_RECENT", "Passwords", "RecentSources"]

MAX_RECENT = 10
_RECENT_KEY = "recent"


class RecentSources(QObject):
    """The sources opened last, newest first, as shown (a Postgres URL without its password)."""

    changed = Signal()

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings

    def items(self) -> list[str]:
        value = self._settings.value(_RECENT_KEY, [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add(self, location: str) -> None:
        items = [location] + [r for r in self.items() if r != location]
        self._settings.setValue(_RECENT_KEY, items[:MAX_RECENT])
        self.changed.emit()

    def clear(self) -> None:
        self._settings.setValue(_RECENT_KEY, [])
        self.changed.emit()


class Passwords:
    """Passwords typed (or found in a URL) this session, by the location they open: kept for
    reconnects and for other windows opening the same server, never written anywhere."""

    def __init__(self) -> None:
        self._by_location: dict[str, str] = {}

    def get(self, location: str) -> str | None:
        return self._by_location.get(location)

    def remember(self, location: str, password: str) -> None:
        self._by_location[location] = password

    def forget(self, location: str) -> None:
        self._by_location.pop(location, None)
