"""AOS Trace Inspector core: domain objects and rules. Pure Python: no Qt, no SQL, no Redis."""

__all__: list[str] = []
