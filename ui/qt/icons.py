"""Status icons, drawn once and cached (no image files to ship or lose)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QIcon,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)

from inspector.model import StepStatus
from ui.qt.theme import MARK_COLORS

__all__ = ["step_status_icon", "run_status_icon", "warning_icon", "STATUS_COLORS"]

#: A step status's mark (the same in light and dark: a dot with its own darker edge).
STATUS_COLORS = {
    StepStatus.SUCCESS: MARK_COLORS["status_success"],
    StepStatus.FAILURE: MARK_COLORS["status_failure"],
    StepStatus.RETRY: MARK_COLORS["status_retry"],
    StepStatus.SKIPPED: MARK_COLORS["status_skipped"],
    StepStatus.UNKNOWN: MARK_COLORS["status_unknown"],
}

_RUN_STATUS = {
    "completed": StepStatus.SUCCESS,
    "succeeded": StepStatus.SUCCESS,
    "failed": StepStatus.FAILURE,
    "error": StepStatus.FAILURE,
    "timeout": StepStatus.FAILURE,
    "aborted": StepStatus.FAILURE,
    "running": None,
}


def _canvas(size: int = 16) -> tuple[QPixmap, QPainter]:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pm, p


@lru_cache(maxsize=None)
def _dot(color: str, shape: str) -> QIcon:
    pm, p = _canvas()
    c = QColor(color)
    p.setPen(QPen(c.darker(130), 1))
    p.setBrush(c)
    if shape == "circle":
        p.drawEllipse(QRectF(3, 3, 10, 10))
    elif shape == "ring":
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(c, 2))
        p.drawEllipse(QRectF(3.5, 3.5, 9, 9))
    elif shape == "diamond":
        p.drawPolygon(QPolygonF([QPointF(8, 2), QPointF(14, 8), QPointF(8, 14), QPointF(2, 8)]))
    elif shape == "square":
        p.drawRect(QRectF(4, 4, 8, 8))
    p.end()
    return QIcon(pm)


def step_status_icon(status: StepStatus) -> QIcon:
    shape = {StepStatus.UNKNOWN: "diamond", StepStatus.SKIPPED: "square", StepStatus.RETRY: "ring"}.get(status, "circle")
    return _dot(STATUS_COLORS[status], shape)


def run_status_icon(status: str | None) -> QIcon:
    key = (status or "").strip().lower()
    if key == "running":
        return _dot(MARK_COLORS["status_running"], "ring")
    mapped = _RUN_STATUS.get(key, StepStatus.UNKNOWN)
    return step_status_icon(mapped if mapped is not None else StepStatus.UNKNOWN)


@lru_cache(maxsize=None)
def warning_icon() -> QIcon:
    pm, p = _canvas()
    path = QPainterPath()
    path.moveTo(8, 1.5)
    path.lineTo(15, 14.5)
    path.lineTo(1, 14.5)
    path.closeSubpath()
    p.setPen(QPen(QColor(MARK_COLORS["warning_edge"]), 1))
    p.setBrush(QColor(MARK_COLORS["warning_fill"]))
    p.drawPath(path)
    p.setPen(QPen(QColor(MARK_COLORS["warning_glyph"]), 1.6))
    p.drawLine(QPointF(8, 5.5), QPointF(8, 10))
    p.drawPoint(QPointF(8, 12.3))
    p.end()
    return QIcon(pm)
