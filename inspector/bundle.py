"""The inspector's export bundle format (version 1): a manifest of every file's size and SHA-256,
an Ed25519 signature over the manifest's exact bytes, and the verification that says exactly what
failed. The zip itself is read and written by ``drivers/bundle.py``; what a bundle holds is built
by ``inspector/services/export.py``.

Layout of a bundle (one ``.zip``, entries in name order)::

    manifest.json            canonical JSON (below), signed
    manifest.sig             64 bytes: Ed25519 signature of manifest.json's bytes
    custody.jsonl            the export job's audit events (spec §9 hash chain)
    report.pdf               the report for people who do not run the app
    runs/0001/run.json       the run record
    runs/0001/steps.jsonl    its steps, one JSON object per line, by step_index
    runs/0001/evidence.json  evidence rows per class, facts, stored verdict
    runs/0001/integrity.json the grade with its reasons (``grade --json``)
    runs/0001/logs.json      audit events, LLM and system records, mismatches, replay window
    runs/0001/aos/…json      upstream's EvidenceBundle / SOC2Bundle / ExecutiveDebriefBundle

Canonical JSON: keys sorted, no spaces, ASCII with ``\\u`` escapes (a lone surrogate survives),
NaN and infinities as Python writes them. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any


from inspector.errors import CorruptSource
from inspector.jobs import AuditChainError, JobAuditEvent, verify_chain

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _ed25519():
    """cryptography's Ed25519 and PEM pieces, imported when a key is first used (commands that
    never sign or verify do not pay for loading it)."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization, InvalidSignature, UnsupportedAlgorithm


__all__ = [
    "CUSTODY",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST",
    "SIGNATURE",
    "FileDigest",
    "BadKey",
    "BundleRejected",
    "ManifestError",
    "Problem",
    "PublicKey",
    "SigningKey",
    "Verification",
    "canonical_bytes",
    "compact_bytes",
    "check_entry_name",
    "parse_custody",
    "parse_manifest",
    "verify_bundle",
]

FORMAT_NAME = "aos-trace-inspector-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CUSTODY = "custody.jsonl"
#: Entries the manifest does not list (it cannot list itself or its signature).
_UNLISTED_OK = frozenset({MANIFEST, SIGNATURE})
_MAX_NAME = 255
_HEX64 = re.compile(r"[0-9a-f]{64}")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of a value: sorted keys, no spaces, ASCII escapes."""
    return _CANONICAL.encode(value).encode("ascii")


def compact_bytes(value: Any) -> bytes:
    """Compact JSON with keys in the order given (steps: deterministic, as their source gave them,
    and a third faster to write than sorted)."""
    return _COMPACT.encode(value).encode("ascii")


# -- keys -----------------------------------------------------------------------------------------


class BadKey(ValueError):
    """A key file that is not an Ed25519 key of the expected kind (the message says why)."""


def _fingerprint(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key: its 32 raw bytes, and its fingerprint (SHA-256 hex of them)."""

    raw: bytes

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.raw)

    @property
    def short(self) -> str:
        """The fingerprint as people compare it: the first 16 hex digits in groups of four."""
        fp = self.fingerprint[:16]
        return ":".join(fp[i:i + 4] for i in range(0, 16, 4))

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def pem(self) -> bytes:
        ed25519, serialization, _invalid, _unsupported = _ed25519()
        return ed25519.Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, signature: bytes, data: bytes) -> bool:
        ed25519, _serialization, invalid, _unsupported = _ed25519()
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (invalid, ValueError):
            return False
        return True

    @classmethod
    def from_text(cls, text: bytes | str) -> PublicKey:
        """A public key from a ``.pub`` PEM file, or the base64 of its 32 raw bytes (as the
        manifest and the settings hold it). Raises :class:`BadKey`."""
        data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
        stripped = data.strip()
        if b"PRIVATE KEY" in stripped:
            raise BadKey("this is a private key; give its public key (the .pub file)")
        if stripped.startswith(b"-----BEGIN"):
            ed25519, serialization, _invalid, unsupported = _ed25519()
            try:
                key = serialization.load_pem_public_key(stripped)
            except (ValueError, TypeError, unsupported) as exc:
                raise BadKey(f"not a readable public key: {exc}") from None
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise BadKey(f"not an Ed25519 key ({type(key).__name__})")
            return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        try:
            raw = base64.b64decode(stripped, validate=True)
        except ValueError:
            raise BadKey("not a PEM public key or the base64 of an Ed25519 key") from None
        if len(raw) != 32:
            raise BadKey(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
        return cls(raw)


class SigningKey:
    """An Ed25519 private key. It signs; it is never written into a bundle, the settings or a log
    (its ``repr`` names only the fingerprint)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        serialization = _ed25519()[1]
        self._key = key
        self.public = PublicKey(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw))

    def __repr__(self) -> str:
        return f"SigningKey({self.public.short})"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(_ed25519()[0].Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Raises :class:`BadKey` for anything but an unencrypted PKCS#8 Ed25519 private key."""
        if b"PUBLIC KEY" in data and b"PRIVATE KEY" not in data:
            raise BadKey("this is a public key; signing needs the private key file")
        ed25519, serialization, _invalid, unsupported = _ed25519()
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise BadKey("the private key is encrypted; give an unencrypted key (keygen writes one)") from None
        except (ValueError, UnicodeDecodeError, unsupported) as exc:
            raise BadKey(f"not a readable private key: {exc}") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise BadKey(f"not an Ed25519 key ({type(key).__name__})")
        return cls(key)

    def private_pem(self) -> bytes:
        serialization = _ed25519()[1]
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


# -- entry names ----------------------------------------------------------------------------------


def check_entry_name(name: str) -> str | None:
    """Why a zip entry name is unsafe to use, or None: empty, absolute, a drive, ``..``, a
    backslash, a control character, or longer than 255 characters."""
    if not name:
        return "empty name"
    if len(name) > _MAX_NAME:
        return f"name longer than {_MAX_NAME} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control character in the name"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/"):
        return "absolute path"
    if re.match(r"^[A-Za-z]:", name):
        return "drive letter in the name"
    parts = name.split("/")
    if any(p in ("..", ".") for p in parts):
        return "'.' or '..' in the path"
    if any(p == "" for p in parts[:-1]):
        return "empty path segment"
    return None


# -- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileDigest:
    """What the reader found for one entry: its size and SHA-256 as read."""

    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One verification failure: a stable ``code``, the entry it is about (if any), and words."""

    code: str
    message: str
    entry: str | None = None
    expected: str | None = None
    actual: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for k in ("entry", "expected", "actual"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    def __str__(self) -> str:
        where = f"{self.entry}: " if self.entry else ""
        if self.expected is not None and self.actual is not None:
            diff = f" (expected {self.expected}, found {self.actual})"
        elif self.actual is not None:
            diff = f" ({self.actual})"
        else:
            diff = ""
        return f"{where}{self.message}{diff}"


@dataclass(frozen=True, slots=True)
class Verification:
    """Everything verification found. ``ok`` only when the signature is valid, every file's digest
    matches, no file is missing or unlisted, the custody chain holds, and (when trusted keys were
    given) the signer is one of them."""

    problems: tuple[Problem, ...]
    manifest: Mapping[str, Any] | None = None
    signer: PublicKey | None = None
    #: None: no signature could be checked; True/False: it was.
    signature_valid: bool | None = None
    #: None: no trusted keys were given; else whether the signer is one of them.
    signer_trusted: bool | None = None
    files_checked: int = 0
    custody_events: int = 0
    manifest_sha256: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def digests_ok(self) -> bool:
        return not any(p.code in ("FILE_CHANGED", "FILE_SIZE", "FILE_MISSING", "FILE_UNLISTED") for p in self.problems)

    def summary(self) -> str:
        """One line for a banner or a terminal."""
        if self.ok:
            who = f"signed by {self.signer.short}" if self.signer else "signed"
            trust = {True: ", a trusted key", False: ", NOT a trusted key", None: ""}[self.signer_trusted]
            return f"Verified: {who}{trust}; {self.files_checked} files match their digests"
        first = str(self.problems[0])
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"Verification FAILED: {first}{more}"

    def as_json(self) -> dict[str, Any]:
        m = self.manifest or {}
        return {
            "ok": self.ok,
            "signature_valid": self.signature_valid,
            "signer_fingerprint": self.signer.fingerprint if self.signer else None,
            "signer_trusted": self.signer_trusted,
            "files_checked": self.files_checked,
            "custody_events": self.custody_events,
            "manifest_sha256": self.manifest_sha256,
            "format_version": m.get("format_version"),
            "producer": m.get("producer"),
            "exported_at": m.get("exported_at"),
            "exported_by": m.get("exported_by"),
            "export_reason": m.get("export_reason"),
            "source": m.get("source"),
            "completeness": m.get("completeness"),
            "problems": [p.as_json() for p in self.problems],
            "notes": list(self.notes),
        }


class ManifestError(ValueError):
    pass


class BundleRejected(CorruptSource):
    """A bundle that failed verification, refused as a source; ``verification`` says why (the
    window offers to open it anyway, marked untrusted)."""

    def __init__(self, message: str, *, location: str | None = None, verification: Verification) -> None:
        super().__init__(message, location=location)
        self.verification = verification


def _strict_json(data: bytes, what: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{what} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise ManifestError(f"{what} cannot be read as JSON: {type(exc).__name__}") from None


def parse_manifest(data: bytes) -> dict[str, Any]:
    """The manifest's JSON, its shape checked. Raises ``ManifestError`` saying what is wrong."""
    doc = _strict_json(data, "manifest.json")
    if not isinstance(doc, dict):
        raise ManifestError("manifest.json is not a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise ManifestError(f"manifest.json is not an {FORMAT_NAME} manifest (format {doc.get('format')!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ManifestError("manifest.json has no integer format_version")
    if version > FORMAT_VERSION:
        raise ManifestError(f"bundle format version {version} is newer than this inspector reads ({FORMAT_VERSION}); "
                            "update the inspector")
    files = doc.get("files")
    if not isinstance(files, list):
        raise ManifestError("manifest.json has no files list")
    seen: set[str] = set()
    for i, f in enumerate(files):
        if not (isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("sha256"), str)
                and isinstance(f.get("size"), int) and not isinstance(f.get("size"), bool)):
            raise ManifestError(f"manifest.json files[{i}] needs a name, an integer size and a sha256")
        if not _HEX64.fullmatch(f["sha256"]):
            raise ManifestError(f"manifest.json files[{i}] sha256 is not 64 lower-case hex digits")
        if f["name"] in seen:
            raise ManifestError(f"manifest.json lists {f['name']!r} twice")
        seen.add(f["name"])
    signer = doc.get("signer")
    if not isinstance(signer, dict) or not isinstance(signer.get("public_key"), str):
        raise ManifestError("manifest.json names no signer public key")
    if signer.get("fingerprint") is not None and not isinstance(signer.get("fingerprint"), str):
        raise ManifestError("manifest.json signer fingerprint is not a string")
    _check_shape(doc)
    return doc


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_shape(doc: Mapping[str, Any]) -> None:
    """The optional fields readers show must have the types written (a bundle signed by anyone's
    key can still be hostile): ManifestError naming the first that does not."""
    def fail(what: str) -> None:
        raise ManifestError(f"manifest.json {what}")

    for name in ("kind", "exported_at", "exported_by", "export_reason", "request_hash", "content_digest"):
        if doc.get(name) is not None and not isinstance(doc[name], str):
            fail(f"{name} is not a string")
    for name in ("producer", "source", "redaction", "completeness", "selection"):
        if doc.get(name) is not None and not isinstance(doc[name], dict):
            fail(f"{name} is not an object")
    for name in ("name", "version"):
        if (doc.get("producer") or {}).get(name) is not None and not isinstance(doc["producer"][name], str):
            fail(f"producer {name} is not a string")
    for name in ("location", "kind", "read_digest"):
        if (doc.get("source") or {}).get(name) is not None and not isinstance(doc["source"][name], str):
            fail(f"source {name} is not a string")
    red = doc.get("redaction") or {}
    if not isinstance(red.get("applied", False), bool) or not isinstance(red.get("rules", []), list) \
            or not all(isinstance(r, str) for r in red.get("rules", [])):
        fail("redaction is not {applied: bool, rules: [text]}")
    runs = doc.get("runs", [])
    if not isinstance(runs, list) or not all(
            isinstance(r, dict) and isinstance(r.get("dir"), str) and isinstance(r.get("run_id"), str)
            for r in runs):
        fail("runs is not a list of {run_id, dir}")
    comp = doc.get("completeness") or {}
    for kind, counts in comp.items():
        if kind == "evidence_rows":
            if not isinstance(counts, dict) or not all(
                    isinstance(c, dict) and all(_is_count(v) for v in c.values()) for c in counts.values()):
                fail("completeness evidence_rows is not counts per class")
            continue
        if not isinstance(counts, dict) or not all(
                _is_count(v) or (k == "missing_ids" and isinstance(v, list) and all(isinstance(x, str) for x in v))
                for k, v in counts.items()):
            fail(f"completeness {kind} is not a set of counts")


def parse_custody(data: bytes) -> list[JobAuditEvent]:
    """The custody log's events. Raises ``ManifestError`` naming the line that is wrong."""
    events = []
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        doc = _strict_json(line, f"custody.jsonl line {n}")
        try:
            events.append(JobAuditEvent.from_json(doc))
        except ValueError as exc:
            raise ManifestError(f"custody.jsonl line {n}: {exc}") from None
    return events


def verify_bundle(manifest_bytes: bytes | None, signature: bytes | None, found: Mapping[str, FileDigest],
                  *, custody: bytes | None = None, trusted: Sequence[PublicKey] = (),
                  reader_problems: Iterable[Problem] = ()) -> Verification:
    """Verify a bundle from what its reader found: the manifest's exact bytes, the signature, each
    other entry's size and digest as read, the custody log, and problems the reader already saw
    (unsafe names, duplicate or encrypted entries, sizes over its limits).

    The signature is checked against the manifest's own signer key; ``trusted`` keys, when given,
    must include that signer."""
    problems = list(reader_problems)
    notes: list[str] = []
    if manifest_bytes is None:
        problems.append(Problem("MANIFEST_MISSING", "the bundle has no manifest.json", MANIFEST))
        return Verification(tuple(problems))
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    try:
        manifest = parse_manifest(manifest_bytes)
    except ManifestError as exc:
        problems.append(Problem("MANIFEST_MALFORMED", str(exc), MANIFEST))
        return Verification(tuple(problems), manifest_sha256=manifest_sha)
    signer: PublicKey | None
    try:
        signer = PublicKey.from_text(manifest["signer"]["public_key"])
    except BadKey as exc:
        problems.append(Problem("SIGNER_MALFORMED", f"the manifest's signer key is unusable: {exc}", MANIFEST))
        signer = None
    fp = manifest["signer"].get("fingerprint")
    if signer is not None and fp is not None and fp != signer.fingerprint:
        problems.append(Problem("SIGNER_MALFORMED", "the manifest's signer fingerprint is not its key's",
                                MANIFEST, fp, signer.fingerprint))
    valid: bool | None = None
    if signature is None:
        problems.append(Problem("SIGNATURE_MISSING", "the bundle has no signature (manifest.sig)", SIGNATURE))
    elif signer is not None:
        valid = len(signature) == 64 and signer.verify(signature, manifest_bytes)
        if not valid:
            problems.append(Problem("SIGNATURE_INVALID",
                                    "the signature does not match manifest.json and its signer key "
                                    "(the manifest was changed, or signed by another key)", SIGNATURE))
    trusted_ok: bool | None = None
    if trusted:
        trusted_ok = signer is not None and any(k.raw == signer.raw for k in trusted)
        if not trusted_ok:
            problems.append(Problem("SIGNER_UNTRUSTED",
                                    f"the signer {signer.short if signer else '(unknown)'} is not one of the "
                                    f"{len(trusted)} trusted key{'s' if len(trusted) != 1 else ''}", SIGNATURE,
                                    actual=signer.fingerprint if signer else None))
    listed = {f["name"]: f for f in manifest["files"]}
    checked = 0
    for name, entry in sorted(listed.items()):
        why = check_entry_name(name)
        if why is not None or name in _UNLISTED_OK:
            problems.append(Problem("UNSAFE_ENTRY", f"the manifest lists an unusable name: {why or 'reserved'}",
                                    name))
            continue
        got = found.get(name)
        if got is None:
            problems.append(Problem("FILE_MISSING", "listed in the manifest but not in the bundle", name))
            continue
        checked += 1
        if got.size != entry["size"]:
            problems.append(Problem("FILE_SIZE", "size differs from the manifest's", name,
                                    str(entry["size"]), str(got.size)))
        if got.sha256 != entry["sha256"]:
            problems.append(Problem("FILE_CHANGED", "SHA-256 differs from the manifest's", name,
                                    entry["sha256"], got.sha256))
    for name in sorted(set(found) - set(listed) - _UNLISTED_OK):
        problems.append(Problem("FILE_UNLISTED", "in the bundle but not listed in the manifest", name))
    custody_events = 0
    if CUSTODY in listed:
        if custody is None:
            pass  # reported above as FILE_MISSING
        else:
            try:
                custody_events = verify_chain(parse_custody(custody))
            except (ManifestError, AuditChainError, ValueError) as exc:  # UnicodeError: a lone surrogate
                problems.append(Problem("CUSTODY_BROKEN", f"the custody log's hash chain is broken: {exc}", CUSTODY))
    else:
        notes.append("the bundle carries no custody log")
    return Verification(tuple(problems), manifest, signer, valid, trusted_ok, checked, custody_events,
                        manifest_sha, tuple(notes))
