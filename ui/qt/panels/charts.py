"""What every chart (pyqtgraph) shares: colours from the widget's palette, light or dark, followed
when the palette changes; export as PNG (pyqtgraph's SVG exporter is broken on Qt 6.11+). Imports
no pyqtgraph itself (0.7 s): the panels load it off the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QFileDialog, QWidget

__all__ = ["ask_png_path", "chart_image", "export_png", "follow_palette", "save_png"]

_AXES = ("left", "bottom", "right", "top")


def _apply(plot: Any) -> None:
    import pyqtgraph as pg  # loaded already: the plot is one of its widgets

    pal = plot.palette()
    text = pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    plot.setBackground(pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Base))
    item = plot.getPlotItem()
    for name in _AXES:
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))


class _PaletteWatcher(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            _apply(obj)
        return False


def follow_palette(plot: Any) -> None:
    """Draw the chart's background, axes and labels in the palette's colours, now and whenever the
    widget's palette changes (the application switching between light and dark)."""
    _apply(plot)
    plot.installEventFilter(_PaletteWatcher(plot))


def chart_image(widget: QWidget) -> QImage:
    """What a chart (or a panel of charts) shows, as an image (GUI thread; cheap)."""
    return widget.grab().toImage()


def export_png(widget: QWidget, path: str) -> bool:
    """The chart as shown, as a PNG file, at once (tests and screenshots; the window saves on its
    disk worker with :func:`save_png`)."""
    return chart_image(widget).save(path, "PNG")


def save_png(path: str, image: QImage) -> str:
    """Disk work for "Save PNG…" (a worker: a QImage, unlike a QPixmap, may leave the GUI thread)."""
    if not image.save(path, "PNG"):
        raise OSError(f"could not write a PNG to {path}")
    return path


def ask_png_path(parent: QWidget, stem: str) -> str | None:
    """Where to save a chart (a dialog), with ``.png`` added when the name has no extension."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save chart as PNG", f"{stem}.png", "PNG image (*.png)")
    if not path:
        return None
    return path if "." in path.rsplit("/", 1)[-1] else path + ".png"
