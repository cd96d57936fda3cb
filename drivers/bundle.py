"""Export bundles on disk: the zip writer (staged entries, one atomic rename, fixed bytes), the
guarded zip reader, verification, keys on disk, and a bundle opened as a trace source.

The reader treats every bundle as hostile. It never extracts what it does not need, and refuses
absolute and ``..`` names, symlink entries, duplicate names, encrypted entries, unknown
compression, an entry or a total over the size limits, and compression ratios of a zip bomb,
each with a reason naming the entry. What it must extract (the steps of a compressed entry) goes
to its own temporary directory, removed on close. The writer stores entries uncompressed: a
bundle then verifies at the speed of SHA-256 and a step is read by seeking, not inflating.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import hashlib
import io
import json
import os
import queue
import shutil
import stat
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from inspector.bundle import (
    CUSTODY,
    MANIFEST,
    SIGNATURE,
    BadKey,
    BundleRejected,
    FileDigest,
    Problem,
    PublicKey,
    SigningKey,
    Verification,
    check_entry_name,
    verify_bundle,
)
from drivers.paths import open_regular
from inspector.bundle_codec import CodecError, evidence_from_doc, logs_from_doc, run_from_doc, step_from_doc, step_row_from_doc
from inspector.errors import CorruptSource, NotATraceSource, RunNotFound, SourceError, UsageError
from inspector.evidence import RunEvidence, StoredVerdict
from inspector.integrity import IntegrityFacts, IntegrityResult, assemble, evaluate
from inspector.logs import (
    LOGS_CAPABILITIES,
    MAX_PAGE,
    AuditEvent,
    LedgerFilter,
    LedgerPage,
    LlmRunRecord,
    LogExport,
    Mismatch,
    PolicyActivation,
    ReplayWindow,
    RunLogs,
    SystemRecord,
    SystemRecordFilter,
)
from inspector.model import RunFilter, RunRecord, RunSort, RunSummary, SourceInfo, Step, StepRow
from inspector.source import Capability, SourceTotals, run_matches, run_sort_key

__all__ = [
    "BundleEvidence",
    "BundleLogs",
    "BundleSource",
    "BundleSourceWithLogs",
    "Limits",
    "ZipBundleTarget",
    "ZipReader",
    "default_key_path",
    "load_or_create_key",
    "open_bundle",
    "read_private_key",
    "read_public_key",
    "verify_path",
    "verify_reader",
    "write_keypair",
]

_EPOCH = (1980, 1, 1, 0, 0, 0)
#: What decoding a document a hostile bundle wrote may raise (a signed bundle can still be
#: hostile: anyone can sign with their own key).
_DECODE_ERRORS = (CodecError, ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError,
                  OverflowError)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """What the reader accepts of a bundle from outside."""

    max_entries: int = 200_000
    max_entry_bytes: int = 8 << 30
    max_total_bytes: int = 32 << 30
    #: Uncompressed / compressed above this (for entries over 1 MiB) reads as a zip bomb.
    max_ratio: float = 200.0
    #: JSON documents read whole (manifest, run, evidence, logs) are at most this big.
    max_json_bytes: int = 256 << 20


# -- writing -------------------------------------------------------------------------------------


class _Staged:
    """An entry being written: a spooled temporary file until it is committed or dropped."""

    def __init__(self, name: str, tmpdir: str) -> None:
        self.name = name
        self.file = tempfile.SpooledTemporaryFile(max_size=16 << 20, dir=tmpdir)  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self.file.write(data)


class _ZipSink:
    def __init__(self, final: Path) -> None:
        self.final = final
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        self.tmp = Path(tmp)
        self._fh = os.fdopen(fd, "w+b")
        try:
            self._stage = tempfile.mkdtemp(prefix=".stage-", dir=final.parent)
        except BaseException:
            self._fh.close()
            self.tmp.unlink(missing_ok=True)
            raise
        self.zip = zipfile.ZipFile(self._fh, "w", zipfile.ZIP_STORED, allowZip64=True)
        self.names: set[str] = set()
        self._done = False

    def begin(self, name: str) -> _Staged:
        why = check_entry_name(name)
        if why is not None or name in self.names:
            raise ValueError(f"cannot add {name!r} to a bundle: {why or 'added twice'}")
        return _Staged(name, self._stage)

    def commit(self, writer: _Staged) -> None:
        f = writer.file
        size = f.tell()
        f.seek(0)
        info = zipfile.ZipInfo(writer.name, date_time=_EPOCH)
        info.compress_type = zipfile.ZIP_STORED
        info.create_system = 3
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        info.file_size = size
        with self.zip.open(info, "w", force_zip64=size > zipfile.ZIP64_LIMIT) as out:
            shutil.copyfileobj(f, out, _CHUNK)
        f.close()
        self.names.add(writer.name)

    def drop(self, writer: _Staged) -> None:
        writer.file.close()

    def finish(self) -> None:
        self.zip.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.final)
        self._done = True
        shutil.rmtree(self._stage, ignore_errors=True)

    def abort(self) -> None:
        if self._done:
            return
        try:
            self.zip.close()
        except (OSError, ValueError, zipfile.BadZipFile):
            pass
        self._fh.close()
        self.tmp.unlink(missing_ok=True)
        shutil.rmtree(self._stage, ignore_errors=True)
        self._done = True


class ZipBundleTarget:
    """A bundle to write at ``path``: written beside it under a temporary name, renamed at the end."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.location = str(self.path)
        if self.path.is_dir():
            raise UsageError(f"{self.path} is a folder; give the bundle's file name (e.g. run.zip)")
        if not self.path.parent.is_dir():
            raise UsageError(f"{self.path.parent}: no such folder")

    def existing_request_hash(self) -> str | None:
        """The request hash of a bundle already at the path, once it verifies (else None)."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            with ZipReader(self.path) as z:
                v = verify_reader(z)  # a changed bundle is never "the same export"
        except (SourceError, OSError):
            return None
        value = (v.manifest or {}).get("request_hash") if v.ok else None
        return value if isinstance(value, str) else None

    def open(self) -> _ZipSink:
        try:
            return _ZipSink(self.path)
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot write here: {exc.strerror or exc}") from None


# -- reading -------------------------------------------------------------------------------------


class _Digester:
    """SHA-256 and CRC-32 of a stream of chunks, each on its own thread, while the caller reads
    the next chunk: both hashes and file reads release the GIL, so a bundle verifies at the
    speed of SHA-256 alone."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.crc = 0
        self._queues: list[queue.Queue[bytes | None]] = [queue.Queue(maxsize=4), queue.Queue(maxsize=4)]
        self._threads = [threading.Thread(target=self._hash, args=(self._queues[0],), name="bundle-sha", daemon=True),
                         threading.Thread(target=self._check, args=(self._queues[1],), name="bundle-crc", daemon=True)]
        for t in self._threads:
            t.start()

    def _hash(self, q: queue.Queue[bytes | None]) -> None:
        while (chunk := q.get()) is not None:
            self.sha.update(chunk)

    def _check(self, q: queue.Queue[bytes | None]) -> None:
        value = 0
        while (chunk := q.get()) is not None:
            value = zlib.crc32(chunk, value)
        self.crc = value

    def feed(self, chunk: bytes) -> None:
        for q in self._queues:
            q.put(chunk)

    def finish(self) -> tuple[str, int]:
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join()
        return self.sha.hexdigest(), self.crc


class ZipReader:
    """A bundle's zip, checked entry by entry before anything is read. ``problems`` lists what is
    wrong with the container (those entries are never read); reads are serialised by a lock so
    that several workers may share one reader."""

    def __init__(self, path: str | os.PathLike[str], limits: Limits = Limits()) -> None:
        self.path = Path(path).expanduser().absolute()
        self.location = str(self.path)
        self.limits = limits
        self._lock = threading.RLock()
        self._fh = open_regular(self.path)
        try:
            self._precheck()
            try:
                self.zip = zipfile.ZipFile(self._fh)
            except zipfile.BadZipFile as exc:
                raise NotATraceSource(f"is not a zip file ({exc})", location=self.location) from None
            except (OSError, ValueError, EOFError, struct.error, OverflowError, NotImplementedError,
                    RuntimeError) as exc:
                raise CorruptSource(f"is a damaged zip file ({type(exc).__name__}: {exc})"[:300],
                                    location=self.location) from None
            self.problems: list[Problem] = []
            self.entries: dict[str, zipfile.ZipInfo] = {}
            self._size = os.fstat(self._fh.fileno()).st_size
            self._check()
        except BaseException:
            self._fh.close()
            raise

    def _precheck(self) -> None:
        """Refuse a directory of more entries than the limit before zipfile parses it all (a
        million tiny entries would cost ten times the file's size in memory)."""
        size = self._fh.seek(0, io.SEEK_END)
        tail_at = max(0, size - (65535 + 22))
        self._fh.seek(tail_at)
        tail = self._fh.read()
        self._fh.seek(0)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return  # zipfile says what is wrong
        _sig, _d, _cd, _here, n_all, cd_size, _off, _clen = struct.unpack("<4s4H2LH", tail[at:at + 22])
        per_entry = 46 + 16  # the smallest directory record with a short name
        if (n_all != 0xFFFF and n_all > self.limits.max_entries) or (
                cd_size != 0xFFFFFFFF and cd_size > self.limits.max_entries * (per_entry + 300)):
            raise CorruptSource(f"lists {n_all} entries ({cd_size} bytes of directory), more than the "
                                f"{self.limits.max_entries} a bundle may have", location=self.location)

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            try:
                self.zip.close()
            except (OSError, ValueError):
                pass
            finally:
                self._fh.close()

    @contextlib.contextmanager
    def _reading(self, name: str) -> Iterator[None]:
        """Any failure reading the zip (a damaged entry, an offset outside the file, bad
        compressed data) as CorruptSource naming the entry."""
        try:
            yield
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
                struct.error, OverflowError) as exc:
            raise CorruptSource(f"entry {name}: cannot be read ({type(exc).__name__}: {exc})"[:300],
                                location=self.location) from None

    def _bad(self, code: str, name: str, message: str) -> None:
        self.problems.append(Problem(code, message, name))

    def _check(self) -> None:
        infos = self.zip.infolist()
        lim = self.limits
        if len(infos) > lim.max_entries:
            self._bad("TOO_MANY_ENTRIES", "", f"{len(infos)} entries, more than {lim.max_entries}")
            return
        seen: dict[str, int] = {}
        for info in infos:
            seen[info.filename] = seen.get(info.filename, 0) + 1
        total = 0
        for info in infos:
            name = info.filename
            if name.endswith("/"):
                why = check_entry_name(name.rstrip("/"))
                self._bad("UNSAFE_ENTRY" if why else "UNEXPECTED_ENTRY", name,
                          f"unsafe name: {why}" if why else "a folder entry (bundles have none)")
                continue
            why = check_entry_name(name)
            if why is not None:
                self._bad("UNSAFE_ENTRY", name, f"unsafe name: {why}")
                continue
            if seen[name] > 1:
                if name not in self.entries and not any(p.entry == name and p.code == "DUPLICATE_ENTRY"
                                                        for p in self.problems):
                    self._bad("DUPLICATE_ENTRY", name, f"the name occurs {seen[name]} times")
                continue
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                self._bad("SYMLINK_ENTRY", name, "a symbolic link")
                continue
            if info.flag_bits & 0x1:
                self._bad("ENCRYPTED_ENTRY", name, "encrypted")
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self._bad("UNSUPPORTED_ENTRY", name, f"compression method {info.compress_type} is not supported")
                continue
            if not 0 <= info.header_offset < self._size:
                self._bad("CORRUPT_ENTRY", name, f"its data would start at byte {info.header_offset}, outside the file")
                continue
            if info.file_size > lim.max_entry_bytes:
                self._bad("ENTRY_TOO_LARGE", name, f"{info.file_size} bytes, over the {lim.max_entry_bytes}-byte limit")
                continue
            if (info.compress_type != zipfile.ZIP_STORED and info.file_size > (1 << 20)
                    and info.file_size > lim.max_ratio * max(1, info.compress_size)):
                self._bad("ZIP_BOMB", name, f"expands {info.file_size / max(1, info.compress_size):.0f}× "
                                            f"(limit {lim.max_ratio:.0f}×)")
                continue
            total += info.file_size
            self.entries[name] = info
        packed = sum(i.compress_size for i in self.entries.values())
        if total > lim.max_total_bytes:
            self._bad("ZIP_BOMB", "", f"{total} bytes uncompressed in all, over the {lim.max_total_bytes}-byte limit")
            self.entries.clear()
        elif total > (64 << 20) and total > lim.max_ratio * max(1, packed):
            self._bad("ZIP_BOMB", "", f"expands {total / max(1, packed):.0f}× in all (limit {lim.max_ratio:.0f}×)")
            self.entries.clear()

    def layout_problems(self) -> list[Problem]:
        """Where the zip's structure departs from what the bundle writer produces (fixed, canonical:
        entries back to back from offset 0, local headers equal to the central directory's, fixed
        attributes, no comments, nothing after the end record). Entry data is covered by the
        manifest's digests and the manifest by its signature; this covers the bytes around them,
        so that no byte of a bundle can change unnoticed. A re-zipped bundle is reported here."""
        out: list[Problem] = []
        if len(self.zip.infolist()) != len(self.entries):
            return out  # entries were refused: those problems say more
        with self._lock:
            size = self._fh.seek(0, io.SEEK_END)
            pos = 0
            for info in sorted(self.zip.infolist(), key=lambda i: i.header_offset):
                name = info.filename
                if info.header_offset != pos:
                    out.append(Problem("ZIP_LAYOUT", f"entry starts at byte {info.header_offset}, not {pos}", name))
                    return out
                self._fh.seek(pos)
                head = self._fh.read(_LOCAL_HEADER.size)
                if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
                    out.append(Problem("ZIP_LAYOUT", "no local header where the directory says", name))
                    return out
                (_sig, ver, ver_hi, flags, method, t, d, crc, csize, usize, nlen, elen) = _LOCAL_HEADER.unpack(head)
                raw_name = self._fh.read(nlen)
                zip64 = info.file_size > zipfile.ZIP64_LIMIT
                dt = info.date_time
                want_t = (dt[3] << 11) | (dt[4] << 5) | (dt[5] // 2)
                want_d = ((dt[0] - 1980) << 9) | (dt[1] << 5) | dt[2]
                mismatch = [what for what, ok in (
                    ("name", raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace") == name),
                    ("flags", flags == info.flag_bits), ("method", method == info.compress_type),
                    ("time", (t, d) == (want_t, want_d)), ("CRC", crc == info.CRC),
                    ("sizes", zip64 or (csize, usize) == (info.compress_size, info.file_size)),
                    ("version", (ver, ver_hi) == (info.extract_version, info.reserved)),
                    ("extra field", elen == 0 or zip64),
                ) if not ok]
                if mismatch:
                    out.append(Problem("ZIP_LAYOUT", "local header differs from the directory: " + ", ".join(mismatch),
                                       name))
                # Entries over 2 GiB, or past 2 GiB in the file, carry zip64 records (zipfile's rule).
                big = info.file_size > zipfile.ZIP64_LIMIT or info.header_offset > zipfile.ZIP64_LIMIT
                utf8 = 0x800 if not name.isascii() else 0
                odd = [what for what, ok in (
                    ("comment", info.comment == b""), ("internal attributes", info.internal_attr == 0),
                    ("external attributes", info.external_attr == (stat.S_IFREG | 0o644) << 16),
                    ("system", info.create_system == 3), ("flags", info.flag_bits == utf8),
                    ("volume", info.volume == 0), ("reserved", info.reserved == 0),
                    ("date", info.date_time == _EPOCH), ("method", info.compress_type == zipfile.ZIP_STORED),
                    ("stored size", info.compress_size == info.file_size),
                    ("versions", {info.create_version, info.extract_version} <= ({20, 45} if big else {20})),
                    ("extra field", big or info.extra == b""),
                ) if not ok]
                if odd:
                    out.append(Problem("ZIP_LAYOUT", "not as the bundle writer writes it: " + ", ".join(odd), name))
                pos = pos + _LOCAL_HEADER.size + nlen + elen + info.compress_size
            start_dir = getattr(self.zip, "start_dir", pos)
            if start_dir != pos:
                out.append(Problem("ZIP_LAYOUT", f"{start_dir - pos} bytes between the entries and the directory", ""))
            if self.zip.comment:
                out.append(Problem("ZIP_LAYOUT", "the zip has a comment", ""))
            if len(self.zip.infolist()) < 0xFFFF and size < 0xFFFFFFFF:
                self._fh.seek(size - 22)
                end = self._fh.read(22)
                ok = len(end) == 22 and end[:4] == b"PK\x05\x06"
                if ok:
                    (_s, disk, cd_disk, n_here, n_all, cd_size, cd_off, clen) = struct.unpack("<4s4H2LH", end)
                    ok = (disk, cd_disk, clen) == (0, 0, 0) and n_here == n_all == len(self.zip.infolist()) \
                        and cd_off == pos and cd_off + cd_size == size - 22
                if not ok:
                    out.append(Problem("ZIP_LAYOUT", "the end of the zip is not a plain end record right after "
                                                     "the directory", ""))
        return out

    def _stored_offset(self, info: zipfile.ZipInfo) -> int | None:
        """Where a stored entry's data starts, after checking its local header agrees."""
        self._fh.seek(info.header_offset)
        head = self._fh.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size:
            return None
        fields = _LOCAL_HEADER.unpack(head)
        if fields[0] != b"PK\x03\x04":
            return None
        name_len, extra_len = fields[10], fields[11]
        name = self._fh.read(name_len)
        flag = fields[3]
        decoded = name.decode("utf-8" if flag & 0x800 else "cp437", "replace")
        if decoded != info.filename:
            return None
        return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len

    def digest(self, name: str, cancelled=None) -> FileDigest:
        """Size and SHA-256 of an entry's content, streamed. A stored entry is hashed straight from
        the file (no CRC pass: SHA-256 is the check); a compressed one through zipfile."""
        info = self.entries[name]
        sha = hashlib.sha256()
        size = 0
        with self._lock, self._reading(name):
            offset = self._stored_offset(info) if info.compress_type == zipfile.ZIP_STORED else None
        if offset is not None:
            # The CRC the headers carry is checked too, so that no byte of a bundle changes
            # unnoticed; reading (pread: no shared file position, so entries may be digested in
            # parallel), SHA-256 and CRC-32 overlap (_Digester).
            digester = _Digester()
            fd = self._fh.fileno()
            try:
                with self._reading(name):
                    pos, end = offset, offset + info.file_size
                    while pos < end:
                        chunk = os.pread(fd, min(_CHUNK, end - pos), pos)
                        if not chunk:
                            break
                        digester.feed(chunk)
                        size += len(chunk)
                        pos += len(chunk)
                        if cancelled is not None and cancelled():
                            raise UsageError("verification cancelled")
            finally:
                hexdigest, value = digester.finish()
            if value != info.CRC and size == info.file_size:
                with self._lock:
                    self.problems.append(Problem("ZIP_LAYOUT", f"CRC-32 in the headers ({info.CRC:08x}) is not "
                                                               f"the data's ({value:08x})", name))
            return FileDigest(size, hexdigest)
        with self._lock, self._reading(name):
            with self._open_entry(info) as fh:
                while chunk := fh.read(_CHUNK):
                    sha.update(chunk)
                    size += len(chunk)
                    if cancelled is not None and cancelled():
                        raise UsageError("verification cancelled")
        return FileDigest(size, sha.hexdigest())

    def _open_entry(self, info: zipfile.ZipInfo):
        with self._reading(info.filename):
            return self.zip.open(info)

    def read(self, name: str, *, limit: int) -> bytes:
        """An entry's bytes (at most ``limit``); CorruptSource naming the entry when unreadable."""
        info = self.entries.get(name)
        if info is None:
            raise CorruptSource(f"entry {name} is missing or was refused", location=self.location)
        if info.file_size > limit:
            raise CorruptSource(f"entry {name} is {info.file_size} bytes, over the {limit}-byte limit",
                                location=self.location)
        with self._lock, self._reading(name), self._open_entry(info) as fh:
            return fh.read(limit + 1)

    def stored_span(self, name: str) -> tuple[int, int] | None:
        """``(offset, size)`` of a stored entry's data in the file, or None if compressed."""
        info = self.entries[name]
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with self._lock, self._reading(name):
            offset = self._stored_offset(info)
        return None if offset is None else (offset, info.file_size)

    def pread(self, offset: int, size: int) -> bytes:
        with self._lock, self._reading("(steps)"):
            self._fh.seek(offset)
            return self._fh.read(size)

    def copy_to(self, name: str, dest: BinaryIO) -> None:
        with self._lock, self._reading(name), self._open_entry(self.entries[name]) as fh:
            shutil.copyfileobj(fh, dest, _CHUNK)


def verify_reader(z: ZipReader, trusted: Sequence[PublicKey] = (), cancelled=None) -> Verification:
    """Verify an open bundle: every entry hashed, the manifest's signature and the custody chain
    checked (see :func:`inspector.bundle.verify_bundle`)."""
    problems = list(z.problems)
    try:
        problems += z.layout_problems()
    except (OSError, ValueError, struct.error) as exc:
        problems.append(Problem("ZIP_LAYOUT", f"the zip's structure cannot be read ({exc})", ""))
    found: dict[str, FileDigest] = {}
    small: dict[str, bytes | None] = {MANIFEST: None, SIGNATURE: None, CUSTODY: None}
    def digest(name: str) -> FileDigest | Problem:
        try:
            return z.digest(name, cancelled)
        except CorruptSource as exc:
            return Problem("CORRUPT_ENTRY", exc.detail, name)

    big = [n for n in sorted(z.entries) if n not in small]
    # The two largest entries are digested beside the rest (two hashing streams at once).
    big.sort(key=lambda n: -z.entries[n].file_size)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="bundle-verify") as pool:
        results = dict(zip(big, pool.map(digest, big), strict=True))
    for name in sorted(z.entries):
        try:
            if name in small:
                limit = 64 if name == SIGNATURE else z.limits.max_json_bytes
                data = z.read(name, limit=limit)
                if len(data) > limit:
                    problems.append(Problem("ENTRY_TOO_LARGE", f"over the {limit}-byte limit", name))
                    continue
                small[name] = data
                found[name] = FileDigest(len(data), hashlib.sha256(data).hexdigest())
            else:
                r = results[name]
                if isinstance(r, Problem):
                    problems.append(r)
                else:
                    found[name] = r
        except CorruptSource as exc:
            problems.append(Problem("CORRUPT_ENTRY", exc.detail, name))
    problems += [p for p in z.problems if p not in problems]  # found while reading (CRC)
    return verify_bundle(small[MANIFEST], small[SIGNATURE], found, custody=small[CUSTODY], trusted=trusted,
                         reader_problems=problems)


def verify_path(path: str | os.PathLike[str], trusted: Sequence[PublicKey] = (), *,
                limits: Limits = Limits(), cancelled=None) -> Verification:
    """Verify the bundle at ``path``. Raises SourceError when it is not a readable zip at all."""
    with ZipReader(path, limits) as z:
        return verify_reader(z, trusted, cancelled)


# -- keys ----------------------------------------------------------------------------------------


def write_keypair(path: str | os.PathLike[str], *, overwrite: bool = False) -> SigningKey:
    """Generate a signing key: the private key at ``path`` (mode 0600, created so), the public key
    at ``path.pub``. Refuses to replace an existing key unless ``overwrite``."""
    p = Path(path).expanduser()
    pub = p.with_name(p.name + ".pub")
    if not overwrite:
        for f in (p, pub):
            if f.exists():
                raise UsageError(f"{f} already exists; choose another name or remove it first")
    key = SigningKey.generate()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(p, flags, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(key.private_pem())
        pub.write_bytes(key.public.pem())
    except OSError as exc:
        raise UsageError(f"{p}: cannot write the key: {exc.strerror or exc}") from None
    return key


def default_key_path() -> Path:
    """The user's default signing key (created on first export when no key is given)."""
    import platformdirs

    return platformdirs.user_config_path("aos-trace-inspector") / "signing-key.pem"


def load_or_create_key(path: str | os.PathLike[str]) -> tuple[SigningKey, bool]:
    """The key at ``path``, or a new one written there (and ``.pub`` beside it): ``(key, created)``."""
    p = Path(path).expanduser()
    if p.exists():
        return read_private_key(p), False
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return write_keypair(p), True


def _read_small(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path).expanduser()
    try:
        with open_regular(p) as fh:
            data = fh.read(65537)
    except SourceError as exc:
        raise UsageError(f"{what} {p}: {exc.detail}") from None
    if len(data) > 65536:
        raise UsageError(f"{what} {p}: too large to be a key file")
    return data


def read_private_key(path: str | os.PathLike[str]) -> SigningKey:
    data = _read_small(path, "key file")
    try:
        return SigningKey.from_pem(data)
    except BadKey as exc:
        raise UsageError(f"key file {path}: {exc}") from None


def read_public_key(path: str | os.PathLike[str]) -> PublicKey:
    data = _read_small(path, "public key")
    try:
        return PublicKey.from_text(data)
    except BadKey as exc:
        raise UsageError(f"public key {path}: {exc}") from None


# -- a bundle as a trace source ------------------------------------------------------------------


class _StepIndex:
    """One run's steps: where each line is in the steps entry (or a local copy); rows are parsed
    when asked for (a page, a bisect probe) and kept in a bounded cache, so the first click on a
    100,000-step run costs one pass over its bytes, not 100,000 JSON parses."""

    _CACHE = 20_000

    def __init__(self, offsets: list[tuple[int, int]], base: int, file: BinaryIO | None) -> None:
        self.offsets = offsets
        self.base = base
        self.file = file
        self.rows: dict[int, StepRow] = {}

    def __len__(self) -> int:
        return len(self.offsets)

    def remember(self, i: int, row: StepRow) -> StepRow:
        if len(self.rows) >= self._CACHE:
            self.rows.clear()
        self.rows[i] = row
        return row


class BundleSource:
    """A verified bundle, read-only, as a trace source. ``verification`` holds what verification
    found; ``trusted`` is False when it failed and the user opened it anyway (every panel says so)."""

    def __init__(self, reader: ZipReader, verification: Verification, *, trusted: bool) -> None:
        self._z = reader
        self.verification = verification
        self.trusted = trusted
        self.manifest: dict[str, Any] = dict(verification.manifest or {})
        self._tmp: str | None = None
        self._lock = threading.RLock()
        self._records: dict[str, RunRecord] = {}
        self._dirs: dict[str, str] = {}
        self._alias: dict[str, str] = {}
        self._steps: dict[str, _StepIndex] = {}
        self._files: list[BinaryIO] = []
        self._evidence: BundleEvidence | None = None
        self._logs: BundleLogs | None = None
        self._load_runs()
        # What verification found is the banner's to show; a note (shown as a warning) only when
        # the bundle failed and was opened anyway.
        notes = [] if trusted else ["UNTRUSTED: this bundle failed verification; what it shows may have been changed",
                                    verification.summary()]
        name = self._z.path.name
        self.info = SourceInfo(location=self._z.location, kind="export bundle" + ("" if trusted else " (UNTRUSTED)"),
                               display_name=name, read_only=True,
                               capabilities=frozenset({Capability.RUNS, Capability.STEPS}), notes=tuple(notes))

    # -- loading --------------------------------------------------------------------------------

    def _json(self, name: str) -> Any:
        data = self._z.read(name, limit=self._z.limits.max_json_bytes)
        self._check_digest(name, data)
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise CorruptSource(f"entry {name} is not valid JSON ({type(exc).__name__}: {exc})"[:300],
                                location=self._z.location) from None

    def _listed(self) -> dict[str, Mapping[str, Any]]:
        return {f["name"]: f for f in self.manifest.get("files", ()) if isinstance(f, dict) and "name" in f}

    def _check_digest(self, name: str, data: bytes) -> None:
        if not self.trusted:
            return
        entry = self._listed().get(name)
        if entry is not None and hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise CorruptSource(f"entry {name} changed since the bundle was verified", location=self._z.location)

    def _load_runs(self) -> None:
        runs = self.manifest.get("runs")
        if not isinstance(runs, list):
            runs = []
        for item in runs:
            if not isinstance(item, dict) or not isinstance(item.get("dir"), str):
                continue
            d = item["dir"]
            if check_entry_name(d) is not None or f"{d}/run.json" not in self._z.entries:
                continue
            try:
                record = run_from_doc(self._json(f"{d}/run.json"))
            except _DECODE_ERRORS as exc:
                raise CorruptSource(f"entry {d}/run.json: {exc}", location=self._z.location) from None
            key = record.summary.key
            self._records[key] = record
            self._dirs[key] = d
            self._alias.setdefault(record.summary.run_id, key)

    def _key(self, key: str) -> str:
        if key in self._records:
            return key
        if key in self._alias:
            return self._alias[key]
        raise RunNotFound(f"no run {key!r} in this bundle", location=self._z.location)

    def _index(self, key: str) -> _StepIndex:
        with self._lock:
            if key in self._steps:
                return self._steps[key]
            name = f"{self._dirs[key]}/steps.jsonl"
            if name not in self._z.entries:
                idx = _StepIndex([], 0, None)
            else:
                idx = self._build_index(name)
            if len(self._steps) >= 4:  # bounded: a few runs' offsets at a time
                # An extracted copy stays open until close(): an iterator may still read it.
                self._steps.pop(next(iter(self._steps)))
            if idx.file is not None:
                self._files.append(idx.file)
            self._steps[key] = idx
            return idx

    def _build_index(self, name: str) -> _StepIndex:
        span = self._z.stored_span(name)
        file: BinaryIO | None = None
        if span is not None:
            base, size = span
            data_iter = self._iter_span(base, size)
        else:
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix="trace-inspector-bundle-")
            file = tempfile.TemporaryFile(dir=self._tmp)  # noqa: SIM115
            try:
                self._z.copy_to(name, file)
            except BaseException:
                file.close()
                raise
            file.seek(0)
            base = 0
            data_iter = iter(lambda: file.read(_CHUNK), b"")  # type: ignore[union-attr]
        try:
            return self._scan(name, data_iter, base, file)
        except BaseException:
            if file is not None:
                file.close()
            raise

    def _scan(self, name: str, data_iter: Iterator[bytes], base: int, file: BinaryIO | None) -> _StepIndex:
        offsets: list[tuple[int, int]] = []
        sha = hashlib.sha256()
        buf = bytearray()
        buf_at = 0  # where buf starts in the entry
        limit = self._z.limits.max_json_bytes
        for chunk in data_iter:
            sha.update(chunk)
            search = len(buf)
            buf += chunk
            start = 0
            while (nl := buf.find(b"\n", search)) >= 0:
                if nl > start:
                    offsets.append((buf_at + start, nl - start))
                start = search = nl + 1
            del buf[:start]
            buf_at += start
            if len(buf) > limit:
                raise CorruptSource(f"entry {name}: a line longer than {limit} bytes", location=self._z.location)
        if bytes(buf).strip():
            offsets.append((buf_at, len(buf)))
        entry = self._listed().get(name)
        if self.trusted and entry is not None and sha.hexdigest() != entry.get("sha256"):
            raise CorruptSource(f"entry {name} changed since the bundle was verified", location=self._z.location)
        return _StepIndex(offsets, base, file)

    def _iter_span(self, base: int, size: int) -> Iterator[bytes]:
        done = 0
        while done < size:
            chunk = self._z.pread(base + done, min(_CHUNK * 4, size - done))
            if not chunk:
                raise CorruptSource("the bundle file was truncated since it was verified", location=self._z.location)
            done += len(chunk)
            yield chunk

    def _row_at(self, idx: _StepIndex, i: int) -> StepRow:
        row = idx.rows.get(i)
        if row is not None:
            return row
        try:
            return idx.remember(i, step_row_from_doc(json.loads(self._read_line(idx, i))))
        except _DECODE_ERRORS as exc:
            raise CorruptSource(f"step line {i + 1}: not a step ({exc})"[:300], location=self._z.location) from None

    def _read_line(self, idx: _StepIndex, i: int) -> bytes:
        at, size = idx.offsets[i]
        if idx.file is not None:
            with self._lock:
                idx.file.seek(at)
                return idx.file.read(size)
        return self._z.pread(idx.base + at, size)

    # -- TraceSource ----------------------------------------------------------------------------

    def _runs(self, flt: RunFilter) -> list[RunSummary]:
        return [r.summary for r in self._records.values() if not r.summary.orphan and run_matches(r.summary, flt)]

    def count_runs(self, flt: RunFilter) -> int:
        return len(self._runs(flt))

    def list_runs(self, flt, sort=RunSort.STARTED_AT, descending=True, offset=0, limit=100, *, with_aggregates=True):
        return sorted(self._runs(flt), key=run_sort_key(sort), reverse=descending)[offset: offset + limit]

    def aggregate_runs(self, run_ids):
        return {k: self._records[self._key(k)].summary for k in run_ids if k in self._records or k in self._alias}

    def orphan_runs(self) -> list[RunSummary]:
        return sorted((r.summary for r in self._records.values() if r.summary.orphan), key=lambda s: s.run_id)

    def get_run(self, run_id: str, *, with_aggregates: bool = True) -> RunRecord:
        return self._records[self._key(run_id)]

    def count_steps(self, run_id: str) -> int:
        return len(self._index(self._key(run_id)))

    def _position(self, idx: _StepIndex, step_index: int, *, right: bool) -> int:
        """Where ``step_index`` is (or would be) among the lines, written by step index."""
        view = _IndexView(lambda i: self._row_at(idx, i).step_index, len(idx))
        return (bisect.bisect_right if right else bisect.bisect_left)(view, step_index)

    def list_steps(self, run_id, after_index=None, limit=500):
        idx = self._index(self._key(run_id))
        start = 0 if after_index is None else self._position(idx, after_index, right=True)
        return [self._row_at(idx, i) for i in range(start, min(len(idx), start + max(0, limit)))]

    def iter_steps(self, run_id: str) -> Iterator[Step]:
        idx = self._index(self._key(run_id))
        for i in range(len(idx)):
            yield self._step_at(idx, i)

    def _step_at(self, idx: _StepIndex, i: int) -> Step:
        line = self._read_line(idx, i)
        try:
            return step_from_doc(json.loads(line))
        except _DECODE_ERRORS as exc:
            raise CorruptSource(f"step line {i + 1}: {exc}"[:300], location=self._z.location) from None

    def get_step(self, run_id: str, step_index: int) -> Step:
        idx = self._index(self._key(run_id))
        i = self._position(idx, step_index, right=False)
        if i >= len(idx) or self._row_at(idx, i).step_index != step_index:
            raise RunNotFound(f"run {run_id!r} has no step {step_index}", location=self._z.location)
        return self._step_at(idx, i)

    def replays_of(self, run_id: str) -> list[RunSummary]:
        out = [r.summary for r in self._records.values() if r.summary.replay_of == run_id]
        return sorted(out, key=lambda s: (s.started_at or "", s.run_id))

    def distinct_values(self, field: str) -> list[str]:
        if field not in ("status", "tenant_id", "agent_id"):
            raise ValueError(f"not a filterable field: {field}")
        return sorted({getattr(r.summary, field) for r in self._records.values()} - {None})

    def totals(self) -> SourceTotals:
        return SourceTotals(runs=sum(1 for r in self._records.values() if not r.summary.orphan),
                            steps=sum(r.summary.total_steps or 0 for r in self._records.values()),
                            orphan_runs=sum(1 for r in self._records.values() if r.summary.orphan))

    def run_ids(self, flt: RunFilter) -> list[str]:
        return sorted({s.run_id for s in self._runs(flt)})

    def evidence(self) -> BundleEvidence | None:
        if self._evidence is None:
            docs: dict[str, RunEvidence] = {}
            for key, d in self._dirs.items():
                name = f"{d}/evidence.json"
                if name in self._z.entries:
                    try:
                        ev = evidence_from_doc(self._json(name))
                    except _DECODE_ERRORS as exc:
                        raise CorruptSource(f"entry {name}: {exc}", location=self._z.location) from None
                    docs[ev.run_id] = ev
            self._evidence = BundleEvidence(docs, self._z.location)
        return self._evidence

    def _logs_reader(self) -> BundleLogs:
        if self._logs is None:
            docs: list[RunLogs] = []
            for d in self._dirs.values():
                name = f"{d}/logs.json"
                if name in self._z.entries:
                    try:
                        docs.append(logs_from_doc(self._json(name)))
                    except _DECODE_ERRORS as exc:
                        raise CorruptSource(f"entry {name}: {exc}", location=self._z.location) from None
            self._logs = BundleLogs(docs)
        return self._logs

    def prepare(self) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            for f in self._files:
                f.close()
            self._files.clear()
            self._steps.clear()
            self._z.close()
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


class BundleSourceWithLogs(BundleSource):
    """A bundle that carries logs (exported from Postgres): it has a logs reader, as its source had."""

    def logs(self) -> BundleLogs:
        return self._logs_reader()


class _IndexView(Sequence[int]):
    """The step indexes of a run's lines, read as bisect asks for them."""

    def __init__(self, at, n: int) -> None:
        self._at = at
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        return self._at(i)


class BundleEvidence:
    """The evidence a bundle carries, as an :class:`~inspector.evidence.EvidenceReader`."""

    row_limit = 1 << 62

    def __init__(self, docs: Mapping[str, RunEvidence], location: str) -> None:
        self._docs = dict(docs)
        self.location = location
        tables: set[str] = set()
        unusable: dict[str, str] = {}
        for ev in self._docs.values():
            tables |= {c.value for c in ev.tables}
            unusable.update(ev.unusable)
        self.tables = frozenset(tables)
        self.unusable = unusable

    @property
    def has_store(self) -> bool:
        return bool(self._docs)

    def _facts(self, run_id: str) -> IntegrityFacts:
        ev = self._docs.get(run_id)
        return ev.facts if ev is not None else assemble(run_id, {})

    def facts_for_runs(self, run_ids: Sequence[str]) -> dict[str, IntegrityFacts]:
        return {r: self._facts(r) for r in run_ids}

    def grade_runs(self, run_ids, *, progress=None, cancelled=None) -> dict[str, IntegrityResult]:
        out = {}
        for i, r in enumerate(run_ids):
            if cancelled is not None and i % 1000 == 0 and cancelled():
                break
            out[r] = evaluate(self._facts(r))
        if progress is not None:
            progress(len(out), len(run_ids))
        return out

    def stored_verdicts(self, run_ids: Sequence[str]) -> dict[str, StoredVerdict]:
        return {r: self._docs[r].stored for r in run_ids if r in self._docs and self._docs[r].stored is not None}

    def run_evidence(self, run_id: str) -> RunEvidence:
        ev = self._docs.get(run_id)
        if ev is None:
            return RunEvidence(run_id, assemble(run_id, {}), tables=frozenset())
        return ev


class BundleLogs:
    """The logs a bundle carries (the runs' audit events, LLM and system records, exports,
    mismatches and replay windows), as a :class:`~inspector.logs.LogsSource`."""

    def __init__(self, docs: Sequence[RunLogs]) -> None:
        self._by_run = {d.run_id: d for d in docs}
        audit: dict[str, AuditEvent] = {}
        for d in docs:
            for e in d.audit:
                audit[e.id] = e
        self._audit = sorted(audit.values(), key=lambda e: (e.created_at or "", e.id), reverse=True)
        caps = set()
        if docs:
            caps |= {"audit", "llm_runs", "system_records", "log_exports", "mismatches", "policy_activations"}
        self.logs_capabilities = frozenset(c for c in LOGS_CAPABILITIES if c in caps)
        self.missing_notes: tuple[str, ...] = () if docs else ("this bundle carries no logs",)

    def _all(self, attr: str) -> list[Any]:
        seen: dict[Any, Any] = {}
        for d in self._by_run.values():
            for x in getattr(d, attr):
                seen.setdefault(getattr(x, "id", None) or getattr(x, "policy_id", None) or id(x), x)
        return list(seen.values())

    def audit_for_run(self, run_id, tenant_id=None, *, limit=1000) -> list[AuditEvent]:
        d = self._by_run.get(run_id)
        return list(d.audit[: min(limit, MAX_PAGE)]) if d else []

    def list_ledger(self, flt: LedgerFilter, cursor=None, limit=200) -> LedgerPage:
        limit = min(limit, MAX_PAGE)
        out = []
        for e in self._audit:
            if cursor is not None and (e.created_at or "", e.id) >= tuple(cursor):
                continue
            if flt.tenant_id and e.tenant_id != flt.tenant_id:
                continue
            if flt.event_type and e.event_type != flt.event_type:
                continue
            if flt.entity_type and e.entity_type != flt.entity_type:
                continue
            if flt.actor and flt.actor not in (e.actor_id, e.actor_type):
                continue
            if flt.since and (e.created_at or "") < flt.since:
                continue
            if flt.until and (e.created_at or "") > flt.until:
                continue
            out.append(e)
            if len(out) > limit:
                break
        more = len(out) > limit
        out = out[:limit]
        return LedgerPage(tuple(out), (out[-1].created_at or "", out[-1].id) if more and out else None)

    def ledger_values(self, field: str) -> list[str]:
        return sorted({str(getattr(e, field)) for e in self._audit if getattr(e, field, None) is not None})

    def policy_activations(self, link_ids: Sequence[str]) -> list[PolicyActivation]:
        want = set(link_ids)
        return [p for p in self._all("policy_activations") if p.loop_trace_id in want]

    def list_policy_activations(self, tenant_id=None, limit=500) -> list[PolicyActivation]:
        return [p for p in self._all("policy_activations") if tenant_id is None or p.tenant_id == tenant_id][:limit]

    def llm_records(self, run_id: str) -> list[LlmRunRecord]:
        d = self._by_run.get(run_id)
        return list(d.llm_records) if d else []

    def system_records(self, flt: SystemRecordFilter, limit=500) -> list[SystemRecord]:
        out = []
        for r in self._all("system_records"):
            if flt.system_only and r.tenant_id is not None:
                continue
            if flt.tenant_id and r.tenant_id not in (flt.tenant_id, None):
                continue
            if flt.component and r.component != flt.component:
                continue
            if flt.severity and r.severity != flt.severity:
                continue
            out.append(r)
        return out[: min(limit, MAX_PAGE)]

    def log_exports(self, *, run_id=None, tenant_id=None) -> list[LogExport]:
        return [x for x in self._all("exports") if (run_id is None or x.run_id == run_id)
                and (tenant_id is None or x.tenant_id == tenant_id)]

    def mismatches(self, trace_id: str) -> list[Mismatch]:
        return [m for m in self._all("mismatches") if m.trace_id == trace_id]

    def replay_window(self, run_id, trace_id=None, seconds=30.0) -> ReplayWindow:
        d = self._by_run.get(run_id)
        if d is not None and d.replay_window is not None:
            return d.replay_window
        return ReplayWindow(None, "none", None, None, (), ("this bundle carries no replay window for the run",))

    def run_logs(self, run_id: str, trace_id: str | None = None) -> RunLogs:
        d = self._by_run.get(run_id)
        if d is None:
            return RunLogs(run_id, trace_id, (), (), (), None, (), notes=("this bundle carries no logs for the run",))
        return d


def open_bundle(path: str | os.PathLike[str], *, trusted_keys: Sequence[PublicKey] = (), allow_untrusted: bool = False,
                limits: Limits = Limits()) -> BundleSource:
    """Open and verify a bundle. A bundle that fails verification raises :class:`CorruptSource`
    naming what failed, unless ``allow_untrusted``: then it opens marked untrusted."""
    z = ZipReader(path, limits)
    try:
        v = verify_reader(z, trusted_keys)
        if v.manifest is None:
            raise NotATraceSource(f"is a zip file but not a readable bundle: {v.problems[0]}", location=z.location)
        if not v.ok and not allow_untrusted:
            raise BundleRejected(f"failed verification: {'; '.join(str(p) for p in v.problems[:3])}"
                                 + (f" (+{len(v.problems) - 3} more)" if len(v.problems) > 3 else ""),
                                 location=z.location, verification=v)
        has_logs = any(name.endswith("/logs.json") for name in z.entries)
        return (BundleSourceWithLogs if has_logs else BundleSource)(z, v, trusted=v.ok)
    except BaseException:
        z.close()
        raise
