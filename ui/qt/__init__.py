"""The Qt desktop application. ``ui.qt.app.run_gui`` is its composition root."""

__all__: list[str] = []
