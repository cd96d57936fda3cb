"""A mutation corpus of hostile sources, generated from a seed (same seed, same mutants).

Three families, each a :class:`Mutant` that writes itself into a folder of its own:

* SQLite databases: a small real ``traces.db`` with evidence tables (written by the project's
  writers, ``tests/ui/evidence_dbs.py``), mutated byte by byte (bit flips, truncations, zeroed,
  swapped and copied pages, header fields, a damaged schema, sidecar files) or value by value
  (SQL that stores BLOBs, NUL bytes, huge and non-finite numbers, invalid and deeply nested JSON,
  lone surrogates as JSON escapes, text that is not UTF-8, control characters).
* Trace JSON files: the upstream fixtures, mutated as values (odd values at random places, keys
  removed, types changed) and as bytes (flips, truncations, other encodings).
* Unusual paths: FIFOs, devices, folders, symlink loops, names that are too long or hold odd
  characters, empty files, a database named ``.json``, a WAL database in a read-only folder.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mutant", "Seeds", "corpus", "path_mutants"]

#: Run ids of the seed database (tests/ui/evidence_dbs.py), the ones the commands ask for.
SEED_RUNS = ("ev-pass", "ev-warn", "ev-fail", "plain-0")


@dataclass
class Seeds:
    """The unmutated inputs: the seed database's bytes and the trace fixtures' texts."""

    db: bytes
    traces: dict[str, str]
    #: run id of each trace fixture (its ``run_id``), for ``show``.
    trace_runs: dict[str, str]

    @classmethod
    def build(cls, folder: Path, fixtures: Path) -> Seeds:
        from tests.ui.evidence_dbs import build_evidence_db

        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "seed.db"
        if db.exists():
            db.unlink()
        build_evidence_db(db)
        conn = sqlite3.connect(db)
        try:  # some payloads to mutate, beside the writers' own
            conn.execute("UPDATE traces SET metadata = ? WHERE run_id = 'ev-pass'",
                         (json.dumps({"note": "seed", "tags": ["a", "b"], "n": 1}),))
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        traces, runs = {}, {}
        for p in sorted(fixtures.glob("golden_*.json")):
            text = p.read_text(encoding="utf-8")
            traces[p.name] = text
            doc = json.loads(text)
            runs[p.name] = str(doc.get("run_id") or doc.get("trace_id") or p.stem)
        return cls(db.read_bytes(), traces, runs)


@dataclass
class Mutant:
    """One hostile input: ``make(folder)`` writes it into an empty folder and returns the path to
    give the commands (it may be the folder itself, or something that is not a file)."""

    name: str
    kind: str  # "sqlite", "json" or "path"
    make: Callable[[Path], Path]
    run_ids: tuple[str, ...] = ()
    #: the path is not one the test may list or hash beside (a device under /dev)
    foreign: bool = False
    #: names SQLite may create beside the source: a ``-wal`` is a live writer's, read ``mode=ro``
    #: (issue 15), which makes the ``-shm`` when the writer's is not there
    may_add: frozenset[str] = frozenset()


# --- SQLite, bytes ------------------------------------------------------------------------------

_PAGE = 4096
#: Offsets and widths of the database header's fields (sqlite.org/fileformat.html §1.3).
_HEADER_FIELDS = ((16, 2), (18, 1), (19, 1), (20, 1), (21, 1), (22, 1), (23, 1), (24, 4), (28, 4), (32, 4),
                  (36, 4), (40, 4), (44, 4), (48, 4), (52, 4), (56, 4), (60, 4), (64, 4), (68, 4), (92, 4), (96, 4))


def _byte_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    b = bytearray(data)
    pages = max(1, len(b) // _PAGE)
    kind = rng.choice(("flip", "flip", "flips", "truncate", "truncate_page", "zero_page", "swap_pages",
                       "copy_page", "header", "header", "schema_byte", "garbage_page", "append"))
    if kind == "flip":
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
        return f"flip@{pos}", bytes(b)
    if kind == "flips":
        n = rng.randint(2, 64)
        for _ in range(n):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return f"flips×{n}", bytes(b)
    if kind == "truncate":
        pos = rng.randrange(len(b))
        return f"truncate@{pos}", bytes(b[:pos])
    if kind == "truncate_page":
        n = rng.randrange(1, pages)
        return f"truncate_pages@{n}", bytes(b[: n * _PAGE])
    if kind in ("zero_page", "garbage_page"):
        p = rng.randrange(pages)
        fill = bytes(_PAGE) if kind == "zero_page" else rng.randbytes(_PAGE)
        b[p * _PAGE:(p + 1) * _PAGE] = fill
        return f"{kind}@{p}", bytes(b)
    if kind in ("swap_pages", "copy_page"):
        p, q = rng.randrange(pages), rng.randrange(pages)
        pa, qa = bytes(b[p * _PAGE:(p + 1) * _PAGE]), bytes(b[q * _PAGE:(q + 1) * _PAGE])
        b[q * _PAGE:(q + 1) * _PAGE] = pa
        if kind == "swap_pages":
            b[p * _PAGE:(p + 1) * _PAGE] = qa
        return f"{kind}@{p},{q}", bytes(b)
    if kind == "header":
        off, width = rng.choice(_HEADER_FIELDS)
        value = rng.choice((0, 1, 2, 0xFF, (1 << (8 * width)) - 1, rng.randrange(1 << (8 * width))))
        b[off:off + width] = value.to_bytes(width, "big")
        return f"header@{off}={value}", bytes(b)
    if kind == "schema_byte":
        # A byte of the schema's SQL text (page 1, after the header): invalid UTF-8, a newline,
        # a carriage return, a NUL.
        start = data.find(b"CREATE TABLE")
        pos = rng.randrange(start, min(len(b), _PAGE)) if 0 <= start < _PAGE else rng.randrange(100, _PAGE)
        b[pos] = rng.choice((0xFF, 0xC3, 0x80, 0x0A, 0x0D, 0x00, 0x27, 0x22))
        return f"schema_byte@{pos}={b[pos]:#x}", bytes(b)
    n = rng.randint(1, 3 * _PAGE)
    return f"append{n}", data + rng.randbytes(n)


def _sqlite_bytes(name: str, data: bytes, suffix: str = ".db") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        p = folder / f"traces{suffix}"
        p.write_bytes(data)
        return p
    return make


# --- SQLite, values -----------------------------------------------------------------------------

def _deep(n: int, obj: bool) -> str:
    return ('{"a":' * n + "1" + "}" * n) if obj else ("[" * n + "]" * n)


#: Odd values to store, as (label, SQL expression, parameters).
ODD_VALUES: tuple[tuple[str, str, tuple], ...] = (
    ("blob", "?", (b"\x00\xff\xfe\x80binary",)),
    ("blob_json", "?", (b'{"a": 1}',)),
    ("blob_empty", "?", (b"",)),
    ("nul_text", "?", ("a\x00b",)),
    ("nul_json", "?", ('{"k": "a\\u0000b"}',)),
    ("huge_int_text", "?", ("9" * 400,)),
    ("huge_int_json", "?", ('{"n": ' + "9" * 400 + "}",)),
    ("int_digits_limit", "?", ("1" * 5000,)),
    ("int64_max", "?", (2**63 - 1,)),
    ("int64_min", "?", (-(2**63),)),
    ("inf", "?", (float("inf"),)),
    ("-inf", "?", (float("-inf"),)),
    ("nan_text", "?", ("NaN",)),
    ("nan_json", "?", ('{"x": NaN, "y": [Infinity, -Infinity]}',)),
    ("e999", "?", ("-1e999",)),
    ("e999_json", "?", ('{"retry_count": -1e999, "cost_cents": 1e999}',)),
    ("invalid_json", "?", ('{"broken": tru',)),
    ("deep_array", "?", (_deep(10_000, False),)),
    ("deep_object", "?", (_deep(5_000, True),)),
    ("deep_1000", "?", (_deep(1_000, False),)),
    ("surrogate_json", "?", ('{"s": "\\ud800", "t": ["\\udfff"]}',)),
    ("surrogate_key", "?", ('{"\\ud800": 1}',)),
    ("surrogate_string", "?", ('"\\udc00"',)),
    ("not_utf8_text", "CAST(? AS TEXT)", (b"\xff\xfe\xc3(",)),
    ("cesu_surrogate_text", "CAST(? AS TEXT)", (b"\xed\xa0\x80",)),
    ("control_chars", "?", ("line1\nline2\r\x1b[31mred\x07",)),
    ("empty", "?", ("",)),
    ("null", "NULL", ()),
    ("zero", "?", (0,)),
    ("negative", "?", (-1,)),
    ("real", "?", (1.5,)),
    ("bool_text", "?", ("true",)),
    ("json_list", "?", ("[1, 2, 3]",)),
    ("json_string", "?", ('"text"',)),
    ("json_number", "?", ("12345678901234567890123",)),
    ("bad_date", "?", ("2026-13-45T99:99:99",)),
    ("far_date", "?", ("99999-01-01T00:00:00+00:00",)),
    ("long_text", "?", ("x" * 200_000,)),
    ("unicode", "?", ("日本語\u202eevil\ufeff",)),
)

#: The tables a value is stored into (every column of them is a candidate).
_VALUE_TABLES = ("traces", "trace_steps", "integrity_evidence", "activity_evidence", "provider_evidence",
                 "policy_decisions", "environment_evidence", "evidence_capture_failures", "runs")


def _columns(db: bytes, folder: Path) -> dict[str, list[str]]:
    p = folder / "columns.db"
    p.write_bytes(db)
    conn = sqlite3.connect(p)
    try:
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in _VALUE_TABLES}
    finally:
        conn.close()
        p.unlink()


def _sqlite_values(db: bytes, edits: list[tuple[str, str, str, tuple]], *, journal: str | None = None,
                   schema: str | None = None) -> Callable[[Path], Path]:
    """A copy of ``db`` with ``UPDATE table SET column = expr`` on one row (or every row) per edit."""
    def make(folder: Path) -> Path:
        p = folder / "traces.db"
        p.write_bytes(db)
        conn = sqlite3.connect(p)
        try:
            for table, column, expr, params in edits:
                where = "" if rows_all(table) else f" WHERE rowid = (SELECT rowid FROM {table} ORDER BY rowid LIMIT 1)"
                try:
                    conn.execute(f'UPDATE {table} SET "{column}" = {expr}{where}', params)
                except sqlite3.IntegrityError:  # a NOT NULL or UNIQUE column: keep the row as it is
                    pass
            conn.commit()
            if schema is not None:
                conn.execute("PRAGMA writable_schema = ON")
                conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'trace_steps'", (schema,))
                conn.commit()
            if journal is not None:
                conn.execute(f"PRAGMA journal_mode = {journal}")
        finally:
            conn.close()
        return p
    return make


def rows_all(table: str) -> bool:
    return table in ("runs",)


# --- Trace JSON ---------------------------------------------------------------------------------

_JSON_ODD: tuple[tuple[str, str], ...] = (
    ("nan", "NaN"), ("inf", "Infinity"), ("-inf", "-Infinity"), ("e999", "-1e999"), ("huge_int", "9" * 400),
    ("huge_neg", "-" + "9" * 400), ("surrogate", '"\\ud800"'), ("surrogate_pair_half", '"\\udfff x"'),
    ("nul", '"a\\u0000b"'), ("deep", _deep(10_000, False)), ("deep_obj", _deep(3_000, True)), ("null", "null"),
    ("true", "true"), ("list", "[1, 2]"), ("object", '{"a": {}}'), ("string", '"text"'), ("zero", "0"),
    ("neg", "-1"), ("float", "1.5e300"), ("control", '"a\\nb\\rc\\u001b[0m"'), ("empty_str", '""'),
    ("long", '"' + "y" * 100_000 + '"'), ("digits_limit", "1" * 5000),
)


def _json_paths(doc, prefix=()) -> Iterator[tuple]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _json_paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _json_paths(v, prefix + (i,))


_MARK = "\u0000__ODD__\u0000"


def _json_value_mutation(rng: random.Random, text: str) -> tuple[str, str]:
    doc = json.loads(text)
    paths = [p for p in _json_paths(doc) if p]
    n = rng.randint(1, 3)
    labels = []
    odd_texts = []
    for _ in range(n):
        path = rng.choice(paths)
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            action = rng.random()
            if action < 0.15 and isinstance(parent, dict):
                parent.pop(path[-1], None)
                labels.append(f"del:{'/'.join(map(str, path))}")
                continue
            label, odd = rng.choice(_JSON_ODD)
            parent[path[-1]] = f"{_MARK}{len(odd_texts)}{_MARK}"
            odd_texts.append(odd)
            labels.append(f"{'/'.join(map(str, path))}={label}")
        except (KeyError, IndexError, TypeError):
            continue
    out = json.dumps(doc, indent=1)
    for i, odd in enumerate(odd_texts):
        out = out.replace(json.dumps(f"{_MARK}{i}{_MARK}"), odd)
    return ",".join(labels) or "unchanged", out


def _json_byte_mutation(rng: random.Random, text: str) -> tuple[str, bytes]:
    data = text.encode("utf-8")
    kind = rng.choice(("flip", "truncate", "insert", "utf16", "bom", "latin1_byte", "delete", "top_level"))
    b = bytearray(data)
    if kind == "flip":
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
        return f"flip@{pos}", bytes(b)
    if kind == "truncate":
        pos = rng.randrange(len(b))
        return f"truncate@{pos}", bytes(b[:pos])
    if kind == "insert":
        pos = rng.randrange(len(b))
        ins = rng.choice((b"\xff", b"\x00", b"\xed\xa0\x80", b"\\ud800", b"{", b"]", b"\r\n", b"NaN"))
        b[pos:pos] = ins
        return f"insert@{pos}={ins!r}", bytes(b)
    if kind == "delete":
        pos = rng.randrange(len(b))
        del b[pos:pos + rng.randint(1, 40)]
        return f"delete@{pos}", bytes(b)
    if kind == "utf16":
        return "utf16", text.encode("utf-16")
    if kind == "bom":
        return "bom", b"\xef\xbb\xbf" + data
    if kind == "latin1_byte":
        return "latin1", data.replace(b'"', b'"\xe9', 1)
    return "top_level", rng.choice((b"[]", b"1", b'"x"', b"null", b"[" + data + b"]", b"  \n", b"{}"))


def _json_file(data: bytes | str, suffix: str = ".json") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        p = folder / f"trace{suffix}"
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8", errors="surrogatepass")
        else:
            p.write_bytes(data)
        return p
    return make


# --- Unusual paths ------------------------------------------------------------------------------

def path_mutants(seeds: Seeds) -> list[Mutant]:
    """Paths that are not a plain file to read, each with the words it should get."""
    db = seeds.db
    trace = next(iter(seeds.traces.values()))

    def write(name: str | bytes, data: bytes) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            p = os.path.join(os.fsencode(folder), os.fsencode(name))
            with open(p, "wb") as f:
                f.write(data)
            return Path(os.fsdecode(p))
        return make

    def fifo(folder: Path) -> Path:
        p = folder / "traces.db"
        os.mkfifo(p)
        return p

    def sock(folder: Path) -> Path:
        p = folder / "s.db"
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.close()
        return p

    def loop(folder: Path) -> Path:
        (folder / "a.db").symlink_to(folder / "b.db")
        (folder / "b.db").symlink_to(folder / "a.db")
        return folder / "a.db"

    def dangling(folder: Path) -> Path:
        (folder / "traces.db").symlink_to(folder / "gone.db")
        return folder / "traces.db"

    def subfolder(folder: Path) -> Path:
        (folder / "runs").mkdir()
        return folder / "runs"

    def through_file(folder: Path) -> Path:
        (folder / "f").write_bytes(b"x")
        return folder / "f" / "traces.db"

    def wal(folder: Path, *, read_only: bool, keep_wal: bool = False) -> Path:
        p = folder / "traces.db"
        p.write_bytes(db)
        conn = sqlite3.connect(p)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("UPDATE traces SET tenant_id = 'walled' WHERE run_id = 'ev-pass'")
            conn.commit()
            if keep_wal:
                # The -wal of a live writer: copied while the connection holds it.
                shutil.copy(folder / "traces.db-wal", folder / "saved-wal")
        finally:
            conn.close()
        if keep_wal:
            os.rename(folder / "saved-wal", folder / "traces.db-wal")
        if read_only:
            os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)
        return p

    def hot_journal(folder: Path) -> Path:
        p = folder / "traces.db"
        p.write_bytes(db)
        (folder / "traces.db-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + bytes(504))
        return p

    runs = SEED_RUNS
    return [
        Mutant("fifo", "path", fifo),
        Mutant("socket", "path", sock),
        Mutant("symlink_loop", "path", loop),
        Mutant("dangling_symlink", "path", dangling),
        Mutant("folder", "path", subfolder),
        Mutant("through_a_file", "path", through_file),
        Mutant("missing", "path", lambda f: f / "nope.db"),
        Mutant("name_too_long", "path", lambda f: f / ("x" * 300 + ".db")),
        Mutant("path_too_long", "path", lambda f: f.joinpath(*(["d" * 200] * 25), "traces.db")),
        Mutant("nul_in_name", "path", lambda f: Path(str(f) + "/a\x00b.db")),
        Mutant("newline_name", "path", write("new\nline\r.db", db), runs),
        Mutant("non_utf8_name", "path", write(b"\xff\xfe.db", db), runs),
        Mutant("dash_name", "path", write("-x.db", db), runs),
        Mutant("url_like_name", "path", write("postgresql%3A.db", db), runs),
        Mutant("empty_db", "path", write("traces.db", b"")),
        Mutant("empty_json", "path", write("trace.json", b"")),
        Mutant("whitespace_json", "path", write("trace.json", b" \n\t ")),
        Mutant("db_named_json", "path", write("trace.json", db), runs),
        Mutant("json_named_db", "path", write("traces.db", trace.encode()), tuple(seeds.trace_runs.values())),
        Mutant("one_byte", "path", write("traces.db", b"S")),
        Mutant("header_only", "path", write("traces.db", db[:100])),
        Mutant("png", "path", write("traces.db", bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(64))),
        Mutant("zip", "path", write("traces.db", b"PK\x05\x06" + bytes(18))),
        Mutant("wal_no_sidecars", "path", lambda f: wal(f, read_only=False), runs),
        Mutant("wal_read_only_folder", "path", lambda f: wal(f, read_only=True), runs),
        Mutant("wal_with_wal", "path", lambda f: wal(f, read_only=False, keep_wal=True), runs,
               may_add=frozenset({"traces.db-shm"})),
        Mutant("wal_with_wal_read_only_folder", "path", lambda f: wal(f, read_only=True, keep_wal=True), runs,
               may_add=frozenset({"traces.db-shm"})),
        Mutant("hot_journal", "path", hot_journal, runs),
        Mutant("dev_null", "path", lambda f: Path("/dev/null"), foreign=True),
        Mutant("dev_zero", "path", lambda f: Path("/dev/zero"), foreign=True),
        Mutant("dev_urandom", "path", lambda f: Path("/dev/urandom"), foreign=True),
        Mutant("proc_file", "path", lambda f: Path("/proc/self/status"), foreign=True),
    ]


# --- The corpus ---------------------------------------------------------------------------------

def corpus(seeds: Seeds, seed: int, n_sqlite_bytes: int, n_sqlite_values: int, n_json: int,
           scratch: Path) -> list[Mutant]:
    """``n_*`` mutants of each family from ``seed``, then the unusual paths."""
    rng = random.Random(seed)
    out: list[Mutant] = []
    for i in range(n_sqlite_bytes):
        label, data = _byte_mutation(rng, seeds.db)
        if rng.random() < 0.3:  # stacked mutations
            more, data = _byte_mutation(rng, data)
            label += "+" + more
        out.append(Mutant(f"db-bytes-{i}:{label}", "sqlite", _sqlite_bytes(label, data), (rng.choice(SEED_RUNS),)))
    columns = _columns(seeds.db, scratch)
    cells = [(t, c) for t, cols in columns.items() for c in cols]
    for i in range(n_sqlite_values):
        edits = []
        for _ in range(rng.randint(1, 4)):
            table, column = rng.choice(cells)
            label, expr, params = rng.choice(ODD_VALUES)
            edits.append((table, column, expr, params, label))
        label = ",".join(f"{t}.{c}={lbl}" for t, c, _e, _p, lbl in edits)
        schema = None
        journal = None
        r = rng.random()
        if r < 0.04:
            schema = rng.choice(("CREATE TABLE trace_steps(\n  id INTEGER,\r\n  broken",
                                 "CREATE TABLE trace_steps(id, run_id, step_index) -- \x1b[31m\n",
                                 "garbage\nsql\r"))
            label += f",schema={schema!r}"
        elif r < 0.08:
            journal = "WAL"
            label += ",wal"
        make = _sqlite_values(seeds.db, [(t, c, e, p) for t, c, e, p, _l in edits], journal=journal, schema=schema)
        out.append(Mutant(f"db-values-{i}:{label}", "sqlite", make, (rng.choice(SEED_RUNS),)))
    names = sorted(seeds.traces)
    for i in range(n_json):
        name = rng.choice(names)
        text = seeds.traces[name]
        if rng.random() < 0.6:
            label, mutated = _json_value_mutation(rng, text)
            make = _json_file(mutated)
        else:
            label, data = _json_byte_mutation(rng, text)
            make = _json_file(data)
        out.append(Mutant(f"json-{i}:{name}:{label}", "json", make, (seeds.trace_runs[name],)))
    return out + path_mutants(seeds)
