"""The bundle format's pure parts: canonical JSON, keys, entry names, and verification's verdicts."""

from __future__ import annotations

import hashlib
import math

import pytest

from inspector.bundle import (
    CUSTODY,
    FORMAT_NAME,
    BadKey,
    FileDigest,
    PublicKey,
    SigningKey,
    canonical_bytes,
    check_entry_name,
    verify_bundle,
)
from inspector.jobs import JobAuditEventType, JobAuditLog


def test_canonical_json_is_sorted_compact_ascii_and_keeps_odd_values():
    assert canonical_bytes({"b": 1, "a": [1.5, None, "é"]}) == b'{"a":[1.5,null,"\\u00e9"],"b":1}'
    assert canonical_bytes("\ud800") == b'"\\ud800"'  # a lone surrogate survives as an escape
    assert canonical_bytes(math.nan) == b"NaN"
    assert canonical_bytes(10 ** 30) == b"1000000000000000000000000000000"


def test_keys_sign_verify_and_round_trip_through_pem():
    key = SigningKey.generate()
    sig = key.sign(b"data")
    assert key.public.verify(sig, b"data") and not key.public.verify(sig, b"datA")
    again = SigningKey.from_pem(key.private_pem())
    assert again.public == key.public
    assert PublicKey.from_text(key.public.pem()) == key.public
    assert PublicKey.from_text(key.public.b64) == key.public
    assert len(key.public.fingerprint) == 64 and key.public.short.count(":") == 3
    assert "PRIVATE" not in repr(key) and key.public.short in repr(key)


@pytest.mark.parametrize(("text", "why"), [
    (b"hello", "not a PEM public key"),
    (b"AAAA", "32 bytes"),
    (SigningKey.generate().private_pem(), "private key"),
    (b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "not a readable public key"),
])
def test_bad_public_keys_say_why(text, why):
    with pytest.raises(BadKey, match=why):
        PublicKey.from_text(text)


def test_bad_private_keys_say_why():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(BadKey, match="public key"):
        SigningKey.from_pem(SigningKey.generate().public.pem())
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(BadKey, match="not an Ed25519 key"):
        SigningKey.from_pem(ec_pem)
    enc = SigningKey.generate()._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(BadKey, match="encrypted"):
        SigningKey.from_pem(enc)


@pytest.mark.parametrize(("name", "bad"), [
    ("runs/0001/run.json", False), ("manifest.json", False), ("", True), ("/etc/passwd", True),
    ("../x", True), ("runs/../../x", True), ("a\\b", True), ("C:/x", True), ("a//b", True), ("a\x00b", True),
    ("./a", True), ("x" * 256, True),
])
def test_entry_names(name, bad):
    assert (check_entry_name(name) is not None) is bad


def _bundle(files: dict[str, bytes], key: SigningKey, **extra):
    listed = [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in sorted(files.items())]
    manifest = {"format": FORMAT_NAME, "format_version": 1, "files": listed,
                "signer": {"public_key": key.public.b64, "fingerprint": key.public.fingerprint}, **extra}
    data = canonical_bytes(manifest)
    found = {n: FileDigest(len(d), hashlib.sha256(d).hexdigest()) for n, d in files.items()}
    return data, key.sign(data), found


def _custody() -> bytes:
    log = JobAuditLog("job", "t", id_prefix="p")
    log.emit(JobAuditEventType.CREATED, "2026-01-01T00:00:00+00:00")
    log.emit(JobAuditEventType.COMPLETED, "2026-01-01T00:00:00+00:00")
    return b"".join(canonical_bytes(e.as_json()) + b"\n" for e in log.events)


def test_a_good_bundle_verifies():
    key = SigningKey.generate()
    custody = _custody()
    m, sig, found = _bundle({"a.json": b"{}", CUSTODY: custody}, key)
    v = verify_bundle(m, sig, found, custody=custody)
    assert v.ok and v.signature_valid and v.signer == key.public and v.files_checked == 2 and v.custody_events == 2
    assert v.signer_trusted is None and v.summary().startswith("Verified")
    assert verify_bundle(m, sig, found, custody=custody, trusted=[key.public]).signer_trusted is True


def _codes(v) -> list[str]:
    return [p.code for p in v.problems]


def test_each_failure_is_named():
    key, other = SigningKey.generate(), SigningKey.generate()
    m, sig, found = _bundle({"a.json": b"{}", "b.json": b"[]"}, key)
    changed = dict(found, **{"a.json": FileDigest(2, hashlib.sha256(b"{ ").hexdigest())})
    v = verify_bundle(m, sig, changed)
    assert _codes(v) == ["FILE_CHANGED"] and v.problems[0].entry == "a.json" and not v.digests_ok
    assert _codes(verify_bundle(m, sig, {"a.json": found["a.json"]})) == ["FILE_MISSING"]
    assert _codes(verify_bundle(m, sig, dict(found, extra=FileDigest(1, "0" * 64)))) == ["FILE_UNLISTED"]
    assert _codes(verify_bundle(m, None, found)) == ["SIGNATURE_MISSING"]
    assert _codes(verify_bundle(m, other.sign(m), found)) == ["SIGNATURE_INVALID"]
    assert _codes(verify_bundle(m, sig[:-1] + bytes([sig[-1] ^ 1]), found)) == ["SIGNATURE_INVALID"]
    assert _codes(verify_bundle(m, sig, found, trusted=[other.public])) == ["SIGNER_UNTRUSTED"]
    assert _codes(verify_bundle(None, sig, found)) == ["MANIFEST_MISSING"]
    assert _codes(verify_bundle(b"{nope", sig, found)) == ["MANIFEST_MALFORMED"]
    assert _codes(verify_bundle(m.replace(b'"format_version":1', b'"format_version":9'), sig, found)) == \
        ["MANIFEST_MALFORMED"]
    # Re-signed with another key: valid signature, but not by a trusted key.
    m2, sig2, found2 = _bundle({"a.json": b"{}", "b.json": b"[]"}, other)
    assert verify_bundle(m2, sig2, found2).ok
    assert _codes(verify_bundle(m2, sig2, found2, trusted=[key.public])) == ["SIGNER_UNTRUSTED"]


def test_a_broken_custody_chain_is_named():
    key = SigningKey.generate()
    custody = _custody()
    lines = custody.splitlines(keepends=True)
    broken = lines[1]  # drop the first event: the second no longer links
    m, sig, found = _bundle({CUSTODY: broken}, key)
    v = verify_bundle(m, sig, found, custody=broken)
    assert _codes(v) == ["CUSTODY_BROKEN"] and v.problems[0].entry == CUSTODY
    garbage = b"{not json\n"
    m, sig, found = _bundle({CUSTODY: garbage}, key)
    assert _codes(verify_bundle(m, sig, found, custody=garbage)) == ["CUSTODY_BROKEN"]


def test_the_manifest_cannot_list_unsafe_or_reserved_names():
    key = SigningKey.generate()
    m, sig, found = _bundle({"../evil": b"x", "manifest.sig": b"y"}, key)
    assert sorted(_codes(verify_bundle(m, sig, {}))) == ["UNSAFE_ENTRY", "UNSAFE_ENTRY"]
