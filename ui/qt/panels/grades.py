"""Integrity grades on screen: the badge the runs list paints in its Grade column, and the status
bar's grading job (the distribution of grades over the current filter, with progress and Cancel).

The job runs on the session's grading worker (grading 100,000 runs takes a while and must hold up
nothing else); it stops between chunks when cancelled, and a new filter or source replaces it.
"""

from __future__ import annotations

import html
import threading
import time
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
from inspector.jobs import JobProgress
from inspector.model import RunFilter
from inspector.services.grading import GradeDistribution, grade_distribution
from ui.qt.models.runs import GRADE_ROLE
from ui.qt.session.session import EvidenceState, SourceSession, Worker
from ui.qt.theme import css, grade_colours

__all__ = ["GradeDelegate", "GradingJob", "grading_text"]



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
        fg, bg = grade_colours(IntegrityGrade(grade))
        edge = QColor(fg)
        edge.setAlpha(110)  # a lighter line of the text's colour, on the tint of either scheme
        fm = opt.fontMetrics
        width = fm.horizontalAdvance(text) + 14
        height = min(fm.height() + 2, opt.rect.height() - 4)
        rect = QRectF(opt.rect.left() + 4, opt.rect.center().y() - height / 2 + 0.5, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(edge)
        painter.setBrush(bg)
        painter.drawRoundedRect(rect, 3, 3)
        font = opt.font
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(fg)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def grading_text(done: int, total: int, eta_seconds: int | None) -> str:
    """The status bar's words while grading, with the time left once it is known."""
    text = f"Integrity: grading {done:,} of {total:,} runs…"
    if eta_seconds and done < total:
        text += f" about {eta_seconds} s left" if eta_seconds < 90 else f" about {round(eta_seconds / 60)} min left"
    return text


class GradingJob(QObject):
    """The status bar's integrity distribution for the filter shown: a label, a progress bar and
    a Cancel button (``widgets``). It grades when the session finds an evidence store and again
    for every filter given to :meth:`start` (a job running is replaced); ``finished`` carries the
    :class:`GradeDistribution` (also after a Cancel, with the runs graded so far)."""

    finished = Signal(object)

    def __init__(self, session: SourceSession, parent: QObject | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._session = session
        #: The clock the ETA is measured with (spec §9's progress; tests give their own).
        self.clock = clock
        self._job = session.scope("grading")
        self._filter = RunFilter()
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
        self._stop: threading.Event | None = None
        #: What the label says, without markup.
        self.text = ""
        self.result: GradeDistribution | None = None
        session.opened.connect(self._on_opened)
        session.closed.connect(self.clear)
        session.evidence_changed.connect(self._on_evidence)

    def _on_opened(self, *_args) -> None:
        self._filter = RunFilter()
        self.clear()

    def _on_evidence(self, _previous: str) -> None:
        state = self._session.evidence_state
        if state is EvidenceState.STORE:
            self.start(self._filter)
        elif state is EvidenceState.NONE:
            self.clear("Integrity: no evidence store", "This source has no evidence tables: its runs are not graded")
        else:
            why = self._session.evidence_error or ""
            self.clear("Integrity: unavailable", f"Could not look for the evidence tables: {why}")

    @property
    def widgets(self) -> tuple[QWidget, ...]:
        return (self.label, self.progress, self.cancel_button)

    @property
    def running(self) -> bool:
        return self._job.pending

    def _set_text(self, plain: str, rich: str | None = None, tip: str = "") -> None:
        self.text = plain
        self.label.setText(rich if rich is not None else html.escape(plain))
        self.label.setToolTip(tip)
        self.label.setVisible(bool(plain))

    def clear(self, text: str = "", tip: str = "") -> None:
        """Stop any job (its result is dropped) and show ``text``."""
        if self._stop is not None:
            self._stop.set()
        self._job.renew()
        self._stop = None
        self.result = None
        self.progress.hide()
        self.cancel_button.hide()
        self._set_text(text, tip=tip)

    def start(self, flt: RunFilter) -> None:
        """Grade every run of ``flt`` (the filter shown from now on) on the grading worker; the job
        running is cancelled first. Without an evidence store there is nothing to grade."""
        self._filter = flt
        source, reader = self._session.source, self._session.evidence
        if source is None or reader is None:
            return
        self.clear()
        stop = threading.Event()
        self._stop = stop

        def work(progress):
            return grade_distribution(source, reader, flt, progress=progress,
                                      cancelled=lambda: stop.is_set() or progress.cancelled)

        job = {"progress": JobProgress("grading").start(self.clock())}

        def moved(done: int, total: int) -> None:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            p = job["progress"] = job["progress"].update(self.clock(), current_step=done, total_steps=total)
            if not stop.is_set():
                self._set_text(grading_text(done, total, p.eta_seconds))

        def done(dist: GradeDistribution) -> None:
            self._stop = None
            self.result = dist
            self.progress.hide()
            self.cancel_button.hide()
            self._show(dist)
            self.finished.emit(dist)

        def failed(exc: BaseException) -> None:
            self._stop = None
            self.progress.hide()
            self.cancel_button.hide()
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__}: {exc})"
            self._set_text("Integrity: grading failed", tip=why)
            self._session.report(exc, "grade the runs of the filter")

        self._set_text("Integrity: grading…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self._job.submit(work, done, failed, worker=Worker.GRADING, label="Grading runs", on_progress=moved)

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
            f"<span style='color:{grade_colours(g)[0].name() if n else css('muted')}'>{n:,} <b>{g.value}</b></span>"
            for g, n in dist.parts())
        rich = f"Integrity: {parts}"
        if dist.cancelled:
            rich += f" · graded {dist.graded:,} of {dist.total:,} — <b>cancelled</b>"
        tip = (f"Upstream's integrity grades of the {dist.total:,} run ids in the current filter; "
               "every trace of a run shares its run's grade.")
        if dist.cancelled:
            tip += " Grading was cancelled: change the filter or refresh to grade again."
        self._set_text(dist.text, rich, tip)
