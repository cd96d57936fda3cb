"""The Qt desktop application. ``ui.qt.app.run_gui`` is its composition root."""
