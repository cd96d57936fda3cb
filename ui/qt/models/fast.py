"""Speed for Python item models in the paint path.

A view's delegate asks a model for seven roles per cell; each ``data()`` call from C++ into
Python costs ~10 µs of binding overhead, which made a page of steps paint in ~50 ms against
~9 ms for a C++ model. Qt 6's delegates ask through ``multiData`` once per cell: answering all
roles in one Python call removes most of that overhead. The delegate reuses one span for every
cell, so a role without a value must be cleared, never left alone.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QModelRoleDataSpan, QPersistentModelIndex, Qt

__all__ = ["MultiDataMixin", "SELECTABLE"]

#: The flags of every row in our read-only views (an enum ``|`` per call costs a Python call).
SELECTABLE = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class MultiDataMixin:
    """Answer ``multiData`` from the model's own ``data()`` in a single call from C++."""

    def multiData(self, index: QModelIndex | QPersistentModelIndex, roleDataSpan: QModelRoleDataSpan) -> None:
        data = self.data  # type: ignore[attr-defined]
        for role_data in roleDataSpan:
            value = data(index, role_data.role())
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)
