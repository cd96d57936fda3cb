"""Reconnecting after a lost server: retries with a visible back-off, never a frozen window.

When a read fails with :class:`inspector.errors.SourceUnavailable`, the window starts this
controller: it waits 1, 2, 4, 8, 15, then every 30 seconds between attempts, says so (with a
countdown) through ``status_changed``, and asks the window to ``probe`` the source. The window
reports the probe's outcome with :meth:`succeeded` / :meth:`failed`; "Retry now" calls
:meth:`retry_now`. The controller holds no connection and does no I/O itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

__all__ = ["DEFAULT_DELAYS", "ReconnectController"]

DEFAULT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class ReconnectController(QObject):
    status_changed = Signal(str)
    probe = Signal()
    reconnected = Signal()

    def __init__(self, parent: QObject | None = None, delays: tuple[float, ...] = DEFAULT_DELAYS) -> None:
        super().__init__(parent)
        self.delays = delays
        self.attempt = 0
        self.active = False
        self.probing = False
        self.target = ""
        self.reason = ""
        self._remaining = 0.0
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._fire = QTimer(self)
        self._fire.setSingleShot(True)
        self._fire.timeout.connect(self._attempt)

    def start(self, target: str, reason: str) -> None:
        """The source at ``target`` was lost (``reason``): schedule the first attempt."""
        if self.active:
            return
        self.active = True
        self.attempt = 0
        self.target = target
        self.reason = reason
        self._schedule()

    def stop(self) -> None:
        self.active = False
        self.probing = False
        self._tick.stop()
        self._fire.stop()

    def retry_now(self) -> None:
        if self.active and not self.probing:
            self._fire.stop()
            self._attempt()

    def succeeded(self) -> None:
        if not self.active:
            return
        self.stop()
        self.reconnected.emit()

    def failed(self, reason: str) -> None:
        if not self.active:
            return
        self.probing = False
        self.reason = reason
        self.attempt += 1
        self._schedule()

    @property
    def next_delay(self) -> float:
        return self.delays[min(self.attempt, len(self.delays) - 1)]

    def _schedule(self) -> None:
        delay = self.next_delay
        self._remaining = delay
        self._fire.start(int(delay * 1000))
        self._tick.start()
        self._announce()

    def _on_tick(self) -> None:
        self._remaining = max(0.0, self._remaining - 1.0)
        self._announce()

    def _announce(self) -> None:
        tries = f" (attempt {self.attempt + 1})" if self.attempt else ""
        self.status_changed.emit(
            f"Lost the connection to {self.target}: {self.reason}. "
            f"Retrying in {max(1, round(self._remaining))} s{tries}…"
        )

    def _attempt(self) -> None:
        if not self.active:
            return
        self._tick.stop()
        self.probing = True
        self.status_changed.emit(f"Reconnecting to {self.target}…")
        self.probe.emit()
