"""SQL text shared by the SQLite and Postgres readers."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["sql_list"]


def sql_list(values: Sequence[str]) -> str:
    """Constant strings as an SQL list (``'a', 'b'``), quotes doubled. For our own constants
    (status vocabularies) only, never for user input: that goes in bound parameters."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)
