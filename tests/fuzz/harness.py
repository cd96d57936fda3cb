"""Run the command line in-process on a mutant and judge what it did.

Each invocation runs ``ui.cli.main`` on a worker thread with a watchdog: one that has not returned
in ``timeout`` seconds is a hang (the thread is left behind, a daemon). stdout is UTF-8 text as a
real terminal's is (strict: a lone surrogate written to it fails as it would on a real stdout);
stderr is captured. A result is judged by :func:`problems`:

* the exit code is 0, 1 or 2 and no exception escaped ``main``;
* on exit 2, stderr has exactly one error line, ``trace-inspector: …``, naming the input (other
  lines may only be ``note:`` lines) and free of control characters;
* ``--json`` output (exit 0/1) is one JSON document;
* the folder the source is in holds the same names, sizes and bytes afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.corpus import Mutant

__all__ = ["Invocation", "Report", "commands_for", "run_mutant"]


@dataclass
class Invocation:
    argv: list[str]
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # a traceback
    hung: bool = False
    seconds: float = 0.0


@dataclass
class Report:
    """Counts and the first examples of each kind of failure."""

    inputs: int = 0
    invocations: int = 0
    tracebacks: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    bad_errors: list[str] = field(default_factory=list)  # not one line, not naming the file, bad code
    bad_json: list[str] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        return self.tracebacks + self.hangs + self.changed + self.bad_errors + self.bad_json

    def summary(self) -> str:
        return (f"inputs tried: {self.inputs}\ninvocations: {self.invocations} (exit codes: "
                + ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items())) + ")\n"
                f"tracebacks: {len(self.tracebacks)}\nhangs: {len(self.hangs)}\n"
                f"files changed or added beside a source: {len(self.changed)}\n"
                f"errors not on one line / not naming the file / bad exit code: {len(self.bad_errors)}\n"
                f"--json output that is not one JSON document: {len(self.bad_json)}\n")


def commands_for(mutant: Mutant, path: str, run_id: str | None) -> list[list[str]]:
    """The commands each mutant goes through (the trace-file ones skip what needs evidence)."""
    run = run_id or "no-such-run"
    cmds = [["runs", path], ["runs", path, "--json"], ["show", path, run], ["show", path, run, "--json"],
            ["grade", path], ["grade", path, "--json"], ["grade", path, run, "--json"], ["grade", path, run],
            ["check", path, "--json"], ["check", path, run], ["search", path, "a"], ["search", path, "x", "--json"],
            ["activity", path, "--json"], ["activity", path]]
    return cmds


class _Stdout(io.TextIOWrapper):
    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="strict", newline="", write_through=True)

    def text(self) -> str:
        return self.buffer.getvalue().decode("utf-8")


_stderr_lock = threading.Lock()


def invoke(argv: Sequence[str], timeout: float) -> Invocation:
    from ui.cli import main

    inv = Invocation(list(argv))
    out = _Stdout()
    err = io.StringIO()
    done = threading.Event()

    def target() -> None:
        try:
            inv.code = main(list(argv), out=out)
        except BaseException:  # noqa: BLE001 - anything escaping main is the finding
            inv.error = traceback.format_exc()
        finally:
            done.set()

    import time

    t0 = time.perf_counter()
    with _stderr_lock, contextlib.redirect_stderr(err):
        th = threading.Thread(target=target, daemon=True, name="fuzz-cli")
        th.start()
        finished = done.wait(timeout)
    inv.seconds = time.perf_counter() - t0
    inv.hung = not finished
    out.flush()
    inv.stdout = out.text()
    inv.stderr = err.getvalue()
    return inv


def _snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry of the folder (not recursively) with its type, size and SHA-256."""
    snap = {}
    for entry in os.scandir(folder):
        st = entry.stat(follow_symlinks=False)
        digest = None
        if entry.is_file(follow_symlinks=False):
            with open(entry.path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        snap[entry.name] = (st.st_mode, st.st_size, digest)
    return snap


def _names_file(line: str, path: str) -> bool:
    """The line names ``path`` as an error prints it: on one line, cut when long (``one_line``)."""
    from inspector.errors import one_line

    printable = one_line(path)
    return printable in line or (printable.endswith("…") and printable[:-1] in line)


def _parse(text: str):
    """``json.loads``, also of a document nested deeper than its default recursion allows (a deep
    stored value written by the command: its output is right, the check needs more stack)."""
    try:
        return json.loads(text)
    except RecursionError:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 8000))
        try:
            return json.loads(text)
        finally:
            sys.setrecursionlimit(limit)


def problems(inv: Invocation, path: str) -> list[str]:
    """What is wrong with one invocation's outcome (empty: nothing)."""
    what = repr([a if len(a) < 120 else a[:60] + "…" + a[-40:] for a in inv.argv])
    if inv.hung:
        return [f"hang: {what}"]
    if inv.error is not None:
        return [f"traceback: {what}\n" + "\n".join(inv.error.rstrip().splitlines()[-7:])]
    out = []
    if inv.code not in (0, 1, 2):
        out.append(f"exit code {inv.code}: {what}")
    lines = inv.stderr.splitlines()
    if inv.code == 2:
        errors = [ln for ln in lines if not ln.startswith("note: ")]
        if len(errors) != 1 or not inv.stderr.endswith("\n"):
            out.append(f"error not on one line: {what}: {inv.stderr[:600]!r}")
        elif not errors[0].startswith("trace-inspector: ") or not _names_file(errors[0], path):
            out.append(f"error not naming the file: {what}: {inv.stderr[:600]!r}")
        elif any(ord(c) < 32 or c in "\x7f\u2028\u2029\x85" for c in errors[0]):
            out.append(f"control character in the error: {what}: {inv.stderr[:600]!r}")
    if inv.code in (0, 1) and "--json" in inv.argv:
        try:
            _parse(inv.stdout)
        except ValueError as exc:
            out.append(f"bad --json output ({exc}): {what}: {inv.stdout[:200]!r}")
    return out


def run_mutant(mutant: Mutant, folder: Path, report: Report, timeout: float,
               commands: Sequence[Sequence[str]] | None = None, verbose: bool = False) -> None:
    """Make the mutant in ``folder`` (empty), run every command on it and add what went wrong to
    ``report``."""
    try:
        path = mutant.make(folder)
    except (OSError, ValueError) as exc:  # the file system refuses to make this one: not a finding
        if verbose:
            print(f"skip {mutant.name}: {exc}", file=sys.stderr)
        return
    report.inputs += 1
    spath = str(path)
    watch = None if mutant.foreign else _watched_folder(path, folder)
    before = _snapshot(watch) if watch is not None else None
    run = mutant.run_ids[0] if mutant.run_ids else None
    for argv in commands or commands_for(mutant, spath, run):
        argv = [a.replace("{path}", spath).replace("{run}", run or "no-such-run") for a in argv]
        inv = invoke(argv, timeout)
        report.invocations += 1
        if inv.code is not None:
            report.codes[inv.code] = report.codes.get(inv.code, 0) + 1
        for p in problems(inv, spath):
            bucket = (report.hangs if p.startswith("hang") else report.tracebacks if p.startswith("traceback")
                      else report.bad_json if p.startswith("bad --json") else report.bad_errors)
            bucket.append(f"{mutant.name}: {p}")
        if inv.hung:  # the rest would hang too, and the thread still holds the source
            break
    if before is not None:
        after = {k: v for k, v in _snapshot(watch).items() if k not in mutant.may_add or k in before}
        if after != before:
            added = sorted(set(after) - set(before))
            gone = sorted(set(before) - set(after))
            changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
            report.changed.append(f"{mutant.name}: added {added}, removed {gone}, changed {changed}")


def _watched_folder(path: Path, folder: Path) -> Path | None:
    """The folder to list before and after: the mutant's own, when the path is in it."""
    try:
        if os.path.realpath(os.path.dirname(path)) == os.path.realpath(folder) or path == folder:
            return folder
    except (OSError, ValueError):
        pass
    return folder
