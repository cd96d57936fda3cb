"""Docks that show themselves when what they hold becomes available (the Run logs of a Postgres
source, the Evidence of a source with an evidence store) unless the user closed them; the View
menu brings them back."""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter

__all__ = ["AutoDock"]


class AutoDock(QDockWidget):
    """``opened`` fires whenever the dock becomes visible (shown by :meth:`offer`, by the View
    menu, or by its tab being chosen): what it shows may need reading then. ``holds()`` says
    whether it has something to show now: closing it then is the user's choice for later
    sources too; closing it while it only says there is nothing is not."""

    opened = Signal()

    def __init__(self, title: str, name: str, window: QMainWindow, holds: Callable[[], bool]) -> None:
        super().__init__(title, window)
        self._holds = holds
        self.setObjectName(name)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self._window = window
        #: The user closed it: it is not shown by default again until they open it.
        self.closed_by_user = False
        self._withdrawing = False
        self.visibilityChanged.connect(self._visibility_changed)
        # Made to float (or docked again), Qt hides it on the way without saying it is shown after.
        self.topLevelChanged.connect(lambda _floating: self.isHidden() or self._shown_again())
        self.hide()

    def offer(self, height: int, splitter: QSplitter | None = None, *, make_room: bool = False) -> bool:
        """Show the dock (``height`` pixels tall, at most a third of a short window: on a 1280×800
        screen 330 px left the step table four rows; ``splitter`` shared evenly to make room)
        unless it is shown already or the user closed it; with another dock shown, the room is left
        as it is unless ``make_room``. True when it was shown now."""
        if self.isVisible() or self.closed_by_user:
            return False
        shown_beside = [d for d in self._window.findChildren(AutoDock) if d is not self and d.isVisible()]
        self.show()
        if make_room or not shown_beside:
            self._window.resizeDocks([self], [min(height, self._window.height() // 3)], Qt.Orientation.Vertical)
            if splitter is not None:
                half = max(splitter.height(), 200) // 2
                splitter.setSizes([half, half])
        return True

    def withdraw(self, *, floating_too: bool = False) -> None:
        """Hide it because its content went away (not the user's choice); a dock the user made
        float stays unless ``floating_too``."""
        if self.isVisible() and (floating_too or not self.isFloating()):
            self._withdrawing = True
            self.hide()
            self._withdrawing = False

    def _shown_again(self) -> None:
        self.closed_by_user = False

    def _visibility_changed(self, visible: bool) -> None:
        if visible:
            self.closed_by_user = False
            self.opened.emit()
            return
        window = self._window
        if not shiboken6.isValid(window):
            return  # the window is being deleted
        # Closed by the user: hidden and its View action unchecked (a tab of a dock group turning
        # away, a dock shown behind another's tab, a dock made to float is not), not withdrawn by
        # us, not the window minimised or hidden, and holding something.
        if (self.isHidden() and not self.toggleViewAction().isChecked() and not self._withdrawing
                and window.isVisible() and not window.isMinimized() and self._holds()):
            self.closed_by_user = True
