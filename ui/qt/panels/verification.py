"""The verification banner of an export bundle (auditor mode): across the top of the window, above
every panel, it says at once whether the bundle verifies, who signed it and whether that key is
trusted, when, by whom and why it was exported, from where, and how complete it is. A bundle that
failed verification and was opened on request is marked UNTRUSTED, with the exact failure."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from inspector.bundle import PublicKey, Verification
from inspector.source import Attested
from ui.qt.theme import css, set_severity

__all__ = ["VerificationBanner", "untrusted_mark", "verification_lines"]


def untrusted_mark(source: object, *, rich: bool = False) -> str:
    """What a panel puts before its title while the source is a bundle that failed verification
    and was opened on request ("" otherwise)."""
    if not isinstance(source, Attested) or source.trusted:
        return ""
    return f"<span style='color:{css('failure')}'><b>[UNTRUSTED]</b></span> " if rich else "[UNTRUSTED] "


def _when(text: Any) -> str:
    s = str(text or "—")
    return s.replace("T", " ").replace("Z", " UTC") if isinstance(text, str) else s


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "—"


def verification_lines(v: Verification, manifest: Mapping[str, Any], *, trusted: bool,
                       signer_label: str | None) -> tuple[str, list[str]]:
    """The banner's headline and detail lines (rich text), from what verification found.
    ``signer_label``: the trusted key's label, or None when the signer is not a trusted key."""
    signer = v.signer
    if trusted and v.ok:
        what = "✔ Verified bundle" if signer_label is not None else "✔ Intact bundle, signer not trusted"
        head = (f"<b>{what}</b> — signature valid, {v.files_checked} files match their SHA-256"
                + (f", custody log of {v.custody_events} events intact" if v.custody_events else ""))
    else:
        first = escape(str(v.problems[0])) if v.problems else "verification failed"
        more = f" (+{len(v.problems) - 1} more)" if len(v.problems) > 1 else ""
        head = f"<b>✖ UNTRUSTED — verification failed:</b> {first}{more}"
    lines = []
    if signer is not None:
        if signer_label is not None:
            who = f"a trusted key{': ' + escape(signer_label) if signer_label else ''}"
        else:
            who = "<b>not one of your trusted keys</b>"
        lines.append(f"Signer <tt>{signer.short}</tt> ({who}) · manifest SHA-256 <tt>{(v.manifest_sha256 or '')[:16]}…</tt>")
    m = manifest or {}
    producer = m.get("producer") or {}
    source = m.get("source") or {}
    reason = m.get("export_reason")
    lines.append(f"Exported {escape(_when(m.get('exported_at')))} by <b>{escape(str(m.get('exported_by') or '—'))}</b>"
                 + (f" — reason: “{escape(str(reason))}”" if reason else " — no reason given")
                 + f" · from {escape(str(source.get('location') or '—'))} ({escape(str(source.get('kind') or '—'))})")
    c = m.get("completeness") or {}
    runs, steps = c.get("runs") or {}, c.get("steps") or {}
    ev = c.get("evidence_rows") or {}
    ev_found = sum(int(x.get("found") or 0) for x in ev.values() if isinstance(x, Mapping))
    ev_asked = sum(int(x.get("asked") or 0) for x in ev.values() if isinstance(x, Mapping))
    missing_ids = runs.get("missing_ids") or []
    red = m.get("redaction") or {}
    lines.append(
        f"Complete: {_n(runs.get('found'))} of {_n(runs.get('asked'))} runs"
        + (f" (not found: {escape(', '.join(map(str, missing_ids[:5])))}{'…' if len(missing_ids) > 5 else ''})"
           if missing_ids else "")
        + f", {_n(steps.get('found'))} of {_n(steps.get('asked'))} steps"
        + (f", {ev_found:,} of {ev_asked:,} evidence rows" if ev else "")
        + f" · redaction {'on (' + str(len(red.get('rules') or [])) + ' rules)' if red.get('applied') else 'off'}"
        + f" · {escape(str(producer.get('name') or '?'))} {escape(str(producer.get('version') or ''))},"
          f" format {escape(str(m.get('format_version', '?')))}")
    return head, lines


class VerificationBanner(QFrame):
    """What verification found for the export bundle shown (the window shows it only then)."""

    #: The user asked to trust the bundle's signer key.
    trust_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verificationBanner")
        self.headline = QLabel()
        self.headline.setObjectName("verificationHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel()
        self.details.setObjectName("verificationDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trust_button = QPushButton("Trust This Signer")
        self.trust_button.setObjectName("trustSigner")
        self.trust_button.setToolTip("Add the signer's public key to your trusted keys (Run → Trusted Signer Keys…)")
        self.trust_button.clicked.connect(lambda: self._signer is not None and self.trust_requested.emit(self._signer))
        self.problems_button = QPushButton("All Problems…")
        self.problems_button.setObjectName("verificationProblems")
        self.problems_button.clicked.connect(self.show_problems)
        for label in (self.headline, self.details):
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.setAlignment(Qt.AlignmentFlag.AlignTop)
        text.addWidget(self.headline)
        text.addWidget(self.details)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(text, 1)
        layout.addWidget(self.trust_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.problems_button, 0, Qt.AlignmentFlag.AlignTop)
        self._signer: PublicKey | None = None
        self._verification: Verification | None = None
        self.trusted: bool | None = None

    def show_for(self, source: object, label_of) -> None:
        """Show what verification found for ``source`` (an :class:`Attested` source) or hide.
        ``label_of(key)`` is the trusted key's label or None."""
        if not isinstance(source, Attested):
            self.clear()
            return
        v = source.verification
        self._verification = v
        self._signer = v.signer
        self.trusted = bool(source.trusted)
        label = label_of(v.signer)
        head, lines = verification_lines(v, source.manifest, trusted=self.trusted, signer_label=label)
        self.headline.setText(head)
        self.details.setText("<br>".join(lines))
        set_severity(self, "verified" if self.trusted and label is not None else
                     "verified-unknown" if self.trusted else "untrusted")
        self.trust_button.setVisible(v.signer is not None and label is None and v.signature_valid is True)
        self.problems_button.setVisible(len(v.problems) > 1)

    def clear(self) -> None:
        """Forget the bundle (the window hides the bar that holds the banner)."""
        self._verification = None
        self._signer = None
        self.trusted = None
        self.headline.clear()
        self.details.clear()

    def show_problems(self) -> None:
        v = self._verification
        if v is None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Verification problems",
                          f"{len(v.problems)} problem{'s' if len(v.problems) != 1 else ''} found:", parent=self)
        box.setDetailedText("\n".join(f"{p.code}: {p}" for p in v.problems))
        box.setInformativeText("\n".join(str(p) for p in v.problems[:12]))
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
