"""Docks that show themselves when what they hold becomes available (the Run logs of a Postgres
source, the Evidence of a source with an evidence store) unless the user closed them; the View
menu brings them back."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter

__all__ = ["AutoDock"]


class AutoDock(QDockWidget):
    """``opened`` fires whenever the dock becomes visible (shown by :meth:`offer`, by the View
    menu, or by its tab being chosen): what it shows may need reading then."""

    opened = Signal()

    def __init__(self, title: str, name: str, window: QMainWindow) -> None:
        super().__init__(title, window)
        self.setObjectName(name)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self._window = window
        #: The user closed it: it is not shown by default again until they open it.
        self.closed_by_user = False
        self._withdrawing = False
        self.visibilityChanged.connect(self._visibility_changed)
        self.hide()

    def offer(self, height: int, splitter: QSplitter | None = None) -> bool:
        """Show the dock (``height`` pixels tall; ``splitter`` shared evenly to make room) unless
        it is shown already or the user closed it. True when it was shown now."""
        if self.isVisible() or self.closed_by_user:
            return False
        shown_beside = [d for d in self._window.findChildren(AutoDock) if d is not self and d.isVisible()]
        self.show()
        if not shown_beside:
            self._window.resizeDocks([self], [height], Qt.Orientation.Vertical)
            if splitter is not None:
                half = max(splitter.height(), 200) // 2
                splitter.setSizes([half, half])
        return True

    def withdraw(self) -> None:
        """Hide it because its content went away (not the user's choice)."""
        if self.isVisible() and not self.isFloating():
            self._withdrawing = True
            self.hide()
            self._withdrawing = False

    def _visibility_changed(self, visible: bool) -> None:
        if visible:
            self.closed_by_user = False
            self.opened.emit()
            return
        window = self._window
        # Closed by the user: not withdrawn by us, not the window minimised or hidden, and not a
        # tab of a dock group turning away (that leaves the View menu's action checked).
        if (not self._withdrawing and window.isVisible() and not window.isMinimized()
                and not self.toggleViewAction().isChecked()):
            self.closed_by_user = True
