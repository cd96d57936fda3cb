"""Integrity grades on screen: their colours, the badge the runs list paints in its Grade column,
and the status bar's grading job (the distribution of grades over the current filter, with
progress and Cancel).

The job runs on a worker of its own (grading 100,000 runs takes a while and must hold up nothing
else); it stops between chunks when cancelled, and a new filter or source replaces it.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QProgressBar,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QWidget,
)

from inspector.errors import InspectorError
from inspector.integrity import IntegrityGrade
from inspector.model import RunFilter
from ui.grading import GradeDistribution, grade_distribution
from ui.qt.tasks import Task, TaskRunner

__all__ = [
    "GRADE_COLORS",
    "GRADE_ROLE",
    "GradeDelegate",
    "GradingJob",
    "badge_style",
    "grade_html",
]

#: The Grade column's model role: the run's :class:`IntegrityGrade`, or None (no grade to paint).
GRADE_ROLE = Qt.ItemDataRole.UserRole + 7

#: (strong colour for text and borders, light tint for a badge's background)
GRADE_COLORS = {
    IntegrityGrade.PASS: ("#1e7e34", "#e3f4e8"),
    IntegrityGrade.WARN: ("#8a5a00", "#fff1c9"),
    IntegrityGrade.FAIL: ("#b03a2e", "#fde3e0"),
}
#: Solid badge colours (the Evidence panel's big badge): background, text.
_SOLID = {
    IntegrityGrade.PASS: ("#1e8449", "#ffffff"),
    IntegrityGrade.WARN: ("#d68910", "#ffffff"),
    IntegrityGrade.FAIL: ("#c0392b", "#ffffff"),
}
_MUTED = "#8a8a8a"


def grade_color(grade: IntegrityGrade) -> QColor:
    return QColor(GRADE_COLORS[grade][0])


def badge_style(grade: IntegrityGrade | None) -> str:
    """The style sheet of a QLabel shown as a solid grade badge (grey without a grade)."""
    bg, fg = _SOLID.get(grade, ("#9e9e9e", "#ffffff")) if grade is not None else ("#9e9e9e", "#ffffff")
    return (f"QLabel {{ background: {bg}; color: {fg}; border-radius: 4px; padding: 3px 10px; "
            "font-weight: bold; }")


def grade_html(grade: IntegrityGrade, text: str | None = None) -> str:
    """A grade (or ``text``) in the grade's colour, bold, for rich-text labels."""
    return f"<b style='color:{GRADE_COLORS[grade][0]}'>{html.escape(text or grade.value)}</b>"


class GradeDelegate(QStyledItemDelegate):
    """Paints a graded cell as a small rounded badge (tinted background, coloured text); cells
    without a grade (no store, not read yet) are painted as plain text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        grade = index.data(GRADE_ROLE)
        if grade is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        fg, bg = GRADE_COLORS[IntegrityGrade(grade)]
        fm = opt.fontMetrics
        width = fm.horizontalAdvance(text) + 14
        height = min(fm.height() + 2, opt.rect.height() - 4)
        rect = QRectF(opt.rect.left() + 4, opt.rect.center().y() - height / 2 + 0.5, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(fg).lighter(150))
        painter.setBrush(QColor(bg))
        painter.drawRoundedRect(rect, 3, 3)
        font = opt.font
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(fg))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class GradingJob(QObject):
    """The status bar's integrity distribution for the current filter: a label, a progress bar
    and a Cancel button (``widgets``). ``start`` replaces any job running; ``finished`` carries
    the :class:`GradeDistribution` (also after a Cancel, with the runs graded so far)."""

    finished = Signal(object)

    def __init__(self, runner_for: Callable[[], TaskRunner | None],
                 report: Callable[[BaseException, str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner_for = runner_for
        self._report = report
        self.label = QLabel()
        self.label.setObjectName("gradeSummary")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setContentsMargins(8, 0, 8, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName("gradeProgress")
        self.progress.setMaximumWidth(140)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("gradeCancel")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop grading; the counts of the runs graded so far are kept")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        self._task: Task | None = None
        self._stop: threading.Event | None = None
        self._generation = 0
        #: What the label says, without markup.
        self.text = ""
        self.result: GradeDistribution | None = None

    @property
    def widgets(self) -> tuple[QWidget, ...]:
        return (self.label, self.progress, self.cancel_button)

    @property
    def running(self) -> bool:
        return self._task is not None

    def _set_text(self, plain: str, rich: str | None = None, tip: str = "") -> None:
        self.text = plain
        self.label.setText(rich if rich is not None else html.escape(plain))
        self.label.setToolTip(tip)
        self.label.setVisible(bool(plain))

    def clear(self, text: str = "", tip: str = "") -> None:
        """Stop any job (its result is dropped) and show ``text``."""
        self._generation += 1
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            self._task.cancel()
        self._task = self._stop = None
        self.result = None
        self.progress.hide()
        self.cancel_button.hide()
        self._set_text(text, tip=tip)

    def start(self, source: object, reader: object, flt: RunFilter) -> None:
        """Grade every run of ``flt`` on the worker (the job running is cancelled first)."""
        self.clear()
        runner = self._runner_for()
        if runner is None:
            return
        generation = self._generation
        stop = threading.Event()
        self._stop = stop

        def work(progress):
            return grade_distribution(source, reader, flt, progress=progress,
                                      cancelled=lambda: stop.is_set() or progress.cancelled)

        def moved(done: int, total: int) -> None:
            if generation != self._generation:
                return
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            if not stop.is_set():
                self._set_text(f"Integrity: grading {done:,} of {total:,} runs…")

        def done(dist: GradeDistribution) -> None:
            if generation != self._generation:
                return
            self._task = self._stop = None
            self.result = dist
            self.progress.hide()
            self.cancel_button.hide()
            self._show(dist)
            self.finished.emit(dist)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._task = self._stop = None
            self.progress.hide()
            self.cancel_button.hide()
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__}: {exc})"
            self._set_text("Integrity: grading failed", tip=why)
            self._report(exc, "grade the runs of the filter")

        self._set_text("Integrity: grading…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        task = runner.submit(work, done, failed, label="Grading runs", on_progress=moved)
        if not task.done:  # a synchronous runner (tests) has delivered already
            self._task = task

    def cancel(self) -> None:
        """The user's Cancel: stop between chunks and show what was graded so far."""
        if self._stop is None:
            return
        self._stop.set()
        self.cancel_button.setEnabled(False)
        self._set_text("Integrity: cancelling…")

    def _show(self, dist: GradeDistribution) -> None:
        if dist.total == 0:
            self._set_text(dist.text, tip="No run matches the filter")
            return
        parts = " · ".join(
            f"<span style='color:{GRADE_COLORS[g][0] if n else _MUTED}'>{n:,} <b>{g.value}</b></span>"
            for g, n in dist.parts())
        rich = f"Integrity: {parts}"
        if dist.cancelled:
            rich += f" · graded {dist.graded:,} of {dist.total:,} — <b>cancelled</b>"
        tip = (f"Upstream's integrity grades of the {dist.total:,} run ids in the current filter "
               "(spec §4); every trace of a run shares its run's grade.")
        if dist.cancelled:
            tip += " Grading was cancelled: change the filter or refresh to grade again."
        self._set_text(dist.text, rich, tip)
