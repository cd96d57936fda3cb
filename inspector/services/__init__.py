"""The use cases, written once against the ports of ``inspector`` (``TraceSource``,
``EvidenceReader``, ``ReplayCache``, ``IdempotencyStore``) and called by both front ends: the
command line and the Qt windows. Pure of Qt and of any driver: the caller opens what they read."""

__all__: list[str] = []
