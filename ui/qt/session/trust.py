"""The signer keys the user trusts (public keys only) and the signing key they export with (a path,
never the key itself), kept in the settings.

``keys()`` is read by the opener's worker while a bundle is verified: it returns a tuple built on
the GUI thread, never the settings object itself."""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Signal

from inspector.bundle import BadKey, PublicKey

__all__ = ["TrustStore", "TrustedKey"]

_TRUSTED = "bundles/trusted_keys"
_KEY_PATH = "bundles/signing_key_path"


@dataclass(frozen=True, slots=True)
class TrustedKey:
    key: PublicKey
    label: str


class TrustStore(QObject):
    changed = Signal()

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._entries: tuple[TrustedKey, ...] = tuple(self._load())

    def _load(self) -> list[TrustedKey]:
        raw = self._settings.value(_TRUSTED, "[]")
        try:
            items = json.loads(raw if isinstance(raw, str) else "[]")
        except ValueError:
            return []
        out = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                continue
            try:
                out.append(TrustedKey(PublicKey.from_text(item["key"]), str(item.get("label") or "")))
            except BadKey:
                continue
        return out

    def _save(self) -> None:
        self._settings.setValue(_TRUSTED, json.dumps([{"key": e.key.b64, "label": e.label} for e in self._entries]))
        self.changed.emit()

    def entries(self) -> tuple[TrustedKey, ...]:
        return self._entries

    def keys(self) -> tuple[PublicKey, ...]:
        """The trusted public keys (safe to call from a worker: an immutable snapshot)."""
        return tuple(e.key for e in self._entries)

    def label_of(self, key: PublicKey | None) -> str | None:
        """The label of a trusted key ("" when it has none); None when the key is not trusted."""
        for e in self._entries:
            if key is not None and e.key.raw == key.raw:
                return e.label
        return None

    def add(self, key: PublicKey, label: str = "") -> bool:
        """Trust a key; False if it was trusted already (its label is updated)."""
        others = tuple(e for e in self._entries if e.key.raw != key.raw)
        known = len(others) != len(self._entries)
        self._entries = (*others, TrustedKey(key, label.strip()))
        self._save()
        return not known

    def remove(self, fingerprint: str) -> None:
        self._entries = tuple(e for e in self._entries if e.key.fingerprint != fingerprint)
        self._save()

    @property
    def key_path(self) -> str:
        """The private key file exports are signed with ("" until one is chosen)."""
        value = self._settings.value(_KEY_PATH, "")
        return value if isinstance(value, str) else ""

    def set_key_path(self, path: str) -> None:
        self._settings.setValue(_KEY_PATH, path)
        self.changed.emit()
