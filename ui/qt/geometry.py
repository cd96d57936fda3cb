"""Windows that open within the screen and come back as the user left them.

A window opens at its remembered geometry when that still fits the screen it would show on
(screens change: a laptop leaves its monitor), else at its default size cut to the screen's
available area and centred on it. Its tables' columns are as wide as their header and usual
values need in the font (:func:`fit_columns`). Its splitters and table headers get back the sizes and order
the user gave them. Everything is kept in the application's ``QSettings`` under the window's
key, saved when the window closes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QByteArray, QEvent, QObject, QPoint, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSplitter, QWidget

__all__ = ["SCREEN_SHARE", "WindowMemory", "fit_columns", "fit_to_screen", "secondary_window"]

#: Of the screen's available area, at most this much is taken by a window's default size (the
#: frame and title bar the window system adds are outside the size asked for).
SCREEN_SHARE = 0.94


def _available(window: QWidget):
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width`` × ``height`` or less, to fit its screen, and centre it there."""
    avail = _available(window)
    w = min(width, int(avail.width() * SCREEN_SHARE))
    h = min(height, int(avail.height() * SCREEN_SHARE))
    window.resize(w, h)
    window.move(avail.center() - QPoint(window.width() // 2, window.height() // 2))


class WindowMemory:
    """The geometry of ``window`` and the state of its ``parts`` (splitters and headers, by
    name), kept under ``key`` in ``settings``: :meth:`restore` once the window is built,
    :meth:`save` when it closes."""

    def __init__(self, window: QWidget, settings: QSettings, key: str, size: tuple[int, int],
                 parts: Mapping[str, QSplitter | QHeaderView] | None = None) -> None:
        self.window = window
        self.settings = settings
        self.key = key
        self.size = size
        self.parts = dict(parts or {})

    def restore(self) -> None:
        saved = self.settings.value(f"{self.key}/geometry")
        restored = isinstance(saved, QByteArray | bytes) and self.window.restoreGeometry(QByteArray(saved))
        if not restored or not self._fits():
            fit_to_screen(self.window, *self.size)
        for name, part in self.parts.items():
            state = self.settings.value(f"{self.key}/{name}")
            if isinstance(state, QByteArray | bytes):
                part.restoreState(QByteArray(state))

    def _fits(self) -> bool:
        avail = _available(self.window)
        return avail.contains(self.window.geometry())

    def save(self) -> None:
        self.settings.setValue(f"{self.key}/geometry", self.window.saveGeometry())
        for name, part in self.parts.items():
            self.settings.setValue(f"{self.key}/{name}", part.saveState())
        self.settings.sync()


class _SaveOnClose(QObject):
    def __init__(self, memory: WindowMemory) -> None:
        super().__init__(memory.window)
        self._memory = memory

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close:
            self._memory.save()
        return False


def _settings_of(window: QWidget) -> QSettings | None:
    """The settings of the main window this one was opened from, if any."""
    parent = window.parentWidget()
    while parent is not None:
        settings = getattr(parent, "settings", None)
        if isinstance(settings, QSettings):
            return settings
        parent = parent.parentWidget()
    return None


def secondary_window(window: QWidget, key: str, size: tuple[int, int]) -> WindowMemory | None:
    """A window opened from the main one (Compare, Replay check, …): within the screen, closed
    by Esc or Ctrl+W, and back where the user left it when the main window's settings keep it."""
    closers = {k.toString(): k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Close) if not k.isEmpty()}
    for extra in ("Ctrl+W", "Esc"):
        closers.setdefault(extra, QKeySequence(extra))
    for sequence in closers.values():
        QShortcut(sequence, window, window.close, context=Qt.ShortcutContext.WindowShortcut)
    settings = _settings_of(window)
    if settings is None:
        fit_to_screen(window, *size)
        return None
    memory = WindowMemory(window, settings, key, size)
    memory.restore()
    window.installEventFilter(_SaveOnClose(memory))
    return memory


def fit_columns(view: QAbstractItemView, widths: Sequence[int], samples: Mapping[int, str] | None = None,
                *, icon: frozenset[int] = frozenset()) -> None:
    """Set a table's first column widths: at least ``widths[col]``, and as wide as the column's header
    and its widest usual value (``samples[col]``) need in the view's font (a fixed width cut Steps
    to "100,…", Started to "Star"). ``icon``: columns whose cells also show a 16 px icon."""
    model, metrics = view.model(), view.fontMetrics()
    for col, width in enumerate(widths):
        header = str(model.headerData(col, Qt.Orientation.Horizontal) or "")
        need = max(metrics.horizontalAdvance((samples or {}).get(col, "")) + (22 if col in icon else 0),
                   metrics.horizontalAdvance(header) + 18)  # the header's sort arrow
        view.setColumnWidth(col, max(width, need + 14))
