"""Composition root of the desktop app: builds the application, settings, message bus and main
window, and passes them down (no singletons)."""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler

__all__ = ["run_gui", "create_window"]


def _setup_logging() -> None:
    import platformdirs

    log_dir = platformdirs.user_log_path("aos-trace-inspector", ensure_exists=True)
    handler = RotatingFileHandler(log_dir / "inspector.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def create_window(settings=None, **kwargs):
    """A main window wired to real drivers (tests pass their own settings)."""
    from PySide6.QtCore import QSettings

    from ui.qt.main_window import MainWindow

    if settings is None:
        settings = QSettings("AOS", "Trace Inspector")
    return MainWindow(settings=settings, **kwargs)


def run_gui(location: str | None = None, *, demo: bool = False) -> int:
    from PySide6.QtWidgets import QApplication

    _setup_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AOS Trace Inspector")
    app.setOrganizationName("AOS")
    from ui.qt.theme import apply_theme

    apply_theme(app)
    window = create_window()
    # Start reading before the first paint: the worker opens the source and reads the first page
    # while the window is laid out and painted, often in time for that first paint.
    if location:
        window.open_location(location)
    elif demo:
        window.open_demo()
    window.show()
    screenshot = os.environ.get("TRACE_INSPECTOR_SCREENSHOT")
    if screenshot:  # used to take README screenshots under Xvfb
        from ui.qt.screenshot import schedule_screenshot

        schedule_screenshot(window, screenshot)
    return app.exec()
