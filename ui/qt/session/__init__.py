"""The Qt side's state: the source session and its serial workers, garbage collection on the GUI
thread, reconnecting, and what the app remembers (recent sources, session passwords, Redis)."""

__all__: list[str] = []
