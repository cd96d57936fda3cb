"""Front ends: the command line (``ui.cli``) and the Qt application (``ui.qt``)."""

__all__: list[str] = []
