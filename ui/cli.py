"""The ``trace-inspector`` command line.

``trace-inspector SOURCE`` (no subcommand) opens the desktop app on SOURCE; ``--demo`` opens it on
the built-in demo database. Subcommands print for people or, with ``--json``, for scripts.
Exit codes: 0 ok, 1 a finding (``grade``: a run graded FAIL), 2 bad usage or unreadable input, or
a source that cannot do what was asked (``logs`` of a SQLite file, ``grade`` without an evidence
store): one line on stderr naming the input and the problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from inspector.errors import InspectorError, UsageError
from inspector.fastjson import stdlib_dumps
from inspector.model import RunFilter, RunSort, RunSummary, normalise_time_bound
from inspector.serialize import run_record_to_json, run_summary_to_json, step_json_text
from inspector.version import package_version
from inspector.source import HasLogs, KnowsEvidenceTables, StreamsRuns, TraceSource, TracesPerRun

if TYPE_CHECKING:  # loaded by the commands that use them
    from inspector.evidence import EvidenceReader
    from inspector.logs import LogsSource

__all__ = ["build_parser", "main"]

_EXIT_OK, _EXIT_FINDING, _EXIT_USAGE = 0, 1, 2
_PAGE = 500
#: Items of a JSON stream written at once.
_WRITE_BLOCK = 500
#: Runs graded (and printed) per block when grading many: one block of grouped counts at a time.
_GRADE_BLOCK = 5000


#: The commands as ``--help`` lists them: grouped by what they are for, the common ones first.
_COMMAND_GROUPS = (
    ("browse", ("runs", "show", "search", "activity")),
    ("integrity and consistency", ("grade", "check", "check-panel")),
    ("replays", ("diff", "replay-check")),
    ("Postgres logs", ("audit", "logs")),
    ("export bundles", ("export", "verify", "keygen")),
    ("setup", ("demo",)),
)
_SUBCOMMANDS = tuple(name for _, names in _COMMAND_GROUPS for name in names)
_PROG = "trace-inspector"
#: The top level's usage, for every form (the window's and the commands').
_USAGE = f"{_PROG} [-h] [-V] [--demo | SOURCE]\n       {_PROG} COMMAND [options] ..."
_SOURCE_HELP = ("a traces.db SQLite file, a trace JSON file, an export bundle (.zip) or "
                "postgresql://user@host:port/db")


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, except that a paragraph whose lines are indented (examples) is kept
    as written, and paragraphs stay apart; the others are filled to the width."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = text.split("\n\n")
        return "\n\n".join(
            "\n".join(indent + line for line in p.splitlines()) if "\n " in p or p.startswith(" ")
            else super(_Formatter, self)._fill_text(p, width, indent) for p in paragraphs)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # argparse exits 2 too, with a one-line reason
        self.print_usage(sys.stderr)
        raise SystemExit(f"{self.prog}: error: {message}") from None


class _TopParser(_Parser):
    """The top level: its help lists the commands in their groups (argparse lists a flat one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Each command's help line, by name (filled as they are added: :func:`_command`).
        self.command_help: dict[str, str] = {}

    def format_help(self) -> str:
        f = self._get_formatter()
        f.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        f.add_text(self.description)
        for title, names in _COMMAND_GROUPS:
            f.start_section(title)
            f.add_arguments([argparse.Action([], dest=n, metavar=n, help=self.command_help[n]) for n in names])
            f.end_section()
        f.start_section("options")
        f.add_arguments([a for a in self._actions if a.option_strings])
        f.end_section()
        f.add_text(self.epilog)
        return f.format_help()


def _command(sub: Any, top: _TopParser, name: str, usage: str, help: str, description: str | None = None,
             epilog: str | None = None) -> argparse.ArgumentParser:
    """A command's parser: ``usage`` is what follows ``trace-inspector NAME`` (argparse's own
    would list every option), ``help`` its line in the top level's list."""
    top.command_help[name] = help
    lines = usage.split("\n")
    text = "\n".join([f"%(prog)s {lines[0]}"] + [" " * 7 + f"%(prog)s {line}" for line in lines[1:]])
    return sub.add_parser(name, help=help, usage=text, epilog=epilog,
                          description=description or help[0].upper() + help[1:] + ".")


def build_parser() -> argparse.ArgumentParser:
    p = _TopParser(
        prog=_PROG, usage=_USAGE,
        description="Inspect AOS agent runs: their steps, integrity grades and replays, offline.\n\n"
                    "With a SOURCE (or --demo) and no COMMAND, the desktop app opens on it. A COMMAND prints "
                    "for people or, with --json, for scripts; trace-inspector COMMAND --help tells more. "
                    f"SOURCE is {_SOURCE_HELP}.",
        epilog="examples:\n"
               f"  {_PROG} demo --out demo.db && {_PROG} demo.db\n"
               f"  {_PROG} runs demo.db --status failed --limit 20\n"
               f"  {_PROG} diff demo.db REPLAY_RUN_ID --ignore /outcome_data/request_id\n\n"
               "Exit codes: 0 ok, 1 a finding (a FAIL grade, broken parity, violations), 2 bad usage or "
               "unreadable input.")
    p.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    p.add_argument("--demo", action="store_true", help="open the desktop app on the built-in demo database")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog=_PROG)

    runs = _command(
        sub, p, "runs", "[options] SOURCE", "list runs with their integrity grade",
        description="List the runs of a source, newest first, with the integrity grade the window's runs list "
                    "shows (upstream's rules over the evidence tables, read for the runs printed; a dash when "
                    "the source has no evidence store).",
        epilog=f"examples:\n  {_PROG} runs traces.db --limit 50\n"
               f"  {_PROG} runs traces.db --status failed --since 2026-10-01 --sort total_cost_cents")
    _add_source(runs)
    _add_run_filters(runs)
    out = runs.add_argument_group("order and output")
    out.add_argument("--sort", choices=[s.value for s in RunSort], default=RunSort.STARTED_AT.value,
                     metavar="FIELD", help="sort by one of: " + ", ".join(s.value for s in RunSort)
                     + " (default: started_at)")
    out.add_argument("--asc", action="store_true", help="ascending order (default: descending)")
    out.add_argument("--limit", type=int, default=None, metavar="N", help="at most N runs (default: all)")
    _add_json(out)
    _add_bundle_options(runs)

    show = _command(sub, p, "show", "[options] SOURCE RUN_ID", "show a run and all its steps")
    _add_source(show)
    show.add_argument("run_id", metavar="RUN_ID", help="a run id, or in Postgres a trace id (a run id picks its newest trace)")
    _add_json(show)
    _add_bundle_options(show)

    grade = _command(
        sub, p, "grade", "[options] SOURCE [RUN_ID]", "grade runs by their evidence (upstream's integrity rules)",
        description="Upstream's integrity grade (PASS/WARN/FAIL), score and explanation of one run, or of every "
                    "run in the filters (the same as runs'), computed now from the evidence tables, beside the "
                    "verdict upstream stored. One run also gets the reasons behind its grade, including how "
                    "evidence step indexes (1-based, counting retries) line up with the trace's; many runs are graded with "
                    "grouped counts and their reasons leave that check out. Exit 1 if any graded run is FAIL; "
                    "2 if the source has no evidence store.")
    _add_source(grade, "traces.db with evidence tables, or postgresql://user@host:port/db")
    grade.add_argument("run_id", metavar="RUN_ID", nargs="?",
                       help="grade this run only (in Postgres a trace id names its run); default: every run "
                            "in the filters")
    filters = _add_run_filters(grade)
    filters.add_argument("--grade", type=str.upper, choices=_GRADES, metavar="GRADE",
                         help="only runs of this grade: " + ", ".join(_GRADES))
    _add_json(grade)
    _add_bundle_options(grade)

    diff = _command(
        sub, p, "diff", "[options] SOURCE REPLAY\n[options] SOURCE RUN_A RUN_B\n[options] SOURCE_A RUN_A SOURCE_B RUN_B",
        "compare a run with its replay (exit 1 when parity is broken)",
        description="Compare two runs offline: upstream's parity verdict (compare_traces), both step lists "
                    "aligned, and the fields that differ. Forms: SOURCE REPLAY (the original is found through "
                    "metadata.replay_of), SOURCE RUN_A RUN_B (one source), SOURCE_A RUN_A SOURCE_B RUN_B (two "
                    "sources: databases, trace files, Postgres). Exit 1 when parity is broken: upstream's "
                    "verdict fails or an aligned step differs under the rules in force; once --ignore rules "
                    "absorb a difference in a field upstream hashes, only the aligned steps decide, since "
                    "upstream's signature cannot ignore fields.",
        epilog=f"examples:\n  {_PROG} diff traces.db REPLAY_RUN_ID\n"
               f"  {_PROG} diff local.db RUN_ID postgresql://reader@db/aos RUN_ID --ignore '/params/*/ts'")
    diff.add_argument("operands", nargs="+", metavar="OPERAND",
                      help="2 to 4 of them, as in the usage: sources and the runs in them")
    diff.add_argument("--ignore", action="append", default=[], metavar="POINTER",
                      help="JSON pointer into a step to leave out, e.g. /outcome_data/request_id or "
                           "/params/*/ts (* matches any key or index); repeatable")
    diff.add_argument("--limit", type=int, default=50, metavar="N",
                      help="differing rows to print (text output; default 50)")
    _add_json(diff)
    _add_bundle_options(diff)

    rc = _command(
        sub, p, "replay-check", "[options] SOURCE RUN_ID",
        "run a recorded replay through upstream's replay enforcer",
        description="Run a recorded replay through upstream's replay enforcer (execute / skip / check, outputs "
                    "cached by idempotency key) against its original's outputs, offline, and show each step's "
                    "outcome. The cache is in memory, seeded with the original's outputs; with --redis it is "
                    "the team's Redis with upstream's layout (aos:idempotency:{tenant}:{key}, 24 h TTL), which "
                    "the check reads and, as upstream's enforcer does, writes (up to its first mismatch). An "
                    "unreachable Redis falls back to memory and says so.")
    _add_source(rc)
    rc.add_argument("run_id", metavar="RUN_ID", help="the replay")
    rc.add_argument("--original", metavar="RUN", help="the original run (default: the replay's replay_of)")
    rc.add_argument("--original-source", metavar="SOURCE", help="where the original is (default: SOURCE)")
    rc.add_argument("--redis", metavar="URL", help="redis://[:password@]host:port/db for a shared cache")
    rc.add_argument("--seed-cache", action="store_true",
                    help="with --redis, also cache the original's outputs under their keys (a memory cache, also after a fallback, always is)")
    _add_json(rc)

    audit = _command(sub, p, "audit", "[options] SOURCE", "the audit ledger's governance events",
                     description="The audit ledger of an AOS Postgres database, newest first: every event of the source, or the "
                                 "governance events that name one run.")
    _add_source(audit, "postgresql://user@host:port/db")
    events = audit.add_argument_group("filters")
    events.add_argument("--run", metavar="RUN_ID", help="only events whose before/after state names this run")
    events.add_argument("--entity-type", metavar="T", help="e.g. POLICY_RULE, LIMIT, INCIDENT, SIGNAL")
    events.add_argument("--event-type", metavar="E", help="e.g. LimitBreached")
    events.add_argument("--actor", metavar="A", help="actor id or actor type (HUMAN, SYSTEM, AGENT)")
    events.add_argument("--tenant", metavar="ID", help="tenant_id")
    events.add_argument("--since", metavar="TIME", help="created at or after (ISO date or time; naive = UTC)")
    events.add_argument("--until", metavar="TIME", help="created at or before (a date includes the whole day)")
    audit.add_argument("--limit", type=int, default=None, metavar="N", help="at most N events (default: all)")
    _add_json(audit)
    _add_bundle_options(audit)

    logs = _command(sub, p, "logs", "[options] SOURCE RUN_ID", "the logs around one run: LLM, system and audit records",
                    description="LLM run records, system records, log exports, the replay window, "
                                "mismatches, audit events and policy activations of one run, from an AOS Postgres "
                                "database.")
    _add_source(logs, "postgresql://user@host:port/db")
    logs.add_argument("run_id", metavar="RUN_ID", help="a run id or a trace id")
    _add_json(logs, "print one JSON document (see docs/cli.md)")
    _add_bundle_options(logs)

    export = _command(
        sub, p, "export", "-o OUT.zip [options] SOURCE [RUN_ID ...]", "write a signed export bundle (.zip) of runs",
        description="Export runs as one signed bundle: the run data as JSON, upstream's EvidenceBundle / "
                    "SOC2Bundle / ExecutiveDebriefBundle with its content_hash, a PDF report, a custody log, and a "
                    "manifest of every file's SHA-256 signed with Ed25519. Give run ids, or filters (the same as "
                    "runs'; none: every run). The bundle appears only once complete. Without --key the user's "
                    "default signing key is used, and created the first time (its path is printed).")
    _add_source(export)
    export.add_argument("run_ids", metavar="RUN_ID", nargs="*", help="runs to export (default: the filters')")
    export.add_argument("-o", "--out", required=True, metavar="OUT.zip", help="the bundle to write")
    export.add_argument("--kind", choices=["evidence", "soc2", "executive"], default="evidence", metavar="KIND",
                        help="which upstream bundle it carries: evidence (the default), soc2 or executive")
    export.add_argument("--reason", metavar="TEXT", help="why the runs are exported (recorded, signed)")
    export.add_argument("--no-redact", action="store_true",
                        help="export payloads as stored (default: upstream's redaction plus card numbers and SSNs)")
    export.add_argument("--key", metavar="KEYFILE", help="Ed25519 private key (trace-inspector keygen)")
    export.add_argument("--by", metavar="NAME", help="the exporter's identity (default: the login name)")
    export.add_argument("--at", metavar="TIME",
                        help="the export time to record (ISO; default: the newest time in the exported runs, "
                             "so the same export gives the same bytes)")
    export.add_argument("--redis", metavar="URL",
                        help="remember export requests in this Redis (the same request returns the bundle "
                             "already written); default: in memory for this command")
    _add_json(export, "print the result as JSON")
    _add_run_filters(export)
    _add_bundle_options(export, untrusted=False)

    verify = _command(
        sub, p, "verify", "[options] BUNDLE", "verify an export bundle: signature, files, custody log",
        description="Check a bundle offline: its manifest's Ed25519 signature, every file's size and SHA-256, "
                    "that no file is missing or unlisted, the custody log's hash chain, and the zip itself "
                    "(unsafe names, symlinks, duplicates, encryption, zip bombs). With --trust, the signer must "
                    "be one of the keys given. Exit 0 when everything verifies, 1 on any failure, 2 when the "
                    "file is not a zip at all.")
    verify.add_argument("bundle", metavar="BUNDLE", help="the export bundle (.zip)")
    verify.add_argument("--trust", action="append", default=[], metavar="PUBKEY",
                        help="a trusted signer's public key file (.pub); repeatable")
    _add_json(verify, "print the verification as JSON")

    keygen = _command(sub, p, "keygen", "-o KEYFILE [--force]", "create an Ed25519 signing key for export bundles",
                      description="Write a private key (mode 0600) and its public key beside it "
                                  "(KEYFILE.pub): give the .pub to whoever verifies your bundles.")
    keygen.add_argument("-o", "--out", required=True, metavar="KEYFILE", help="the private key to write")
    keygen.add_argument("--force", action="store_true", help="replace an existing key")

    ck = _command(
        sub, p, "check", "[options] SOURCE [RUN_ID]",
        "check that the panels showing a run agree with each other",
        description="The inspector's panels as slots of signals (runs list, step tree, evidence, integrity, LLM "
                    "record, audit), checked against each other by rules with stable ids (INS-001…: step counts, "
                    "costs and durations equal, a completed run has a completion time, steps inside the run's "
                    "time bounds, a FAIL grade means a required class is missing, the stored verdict agrees, LLM "
                    "tokens equal provider evidence tokens…); --rules replaces them. One run, or every run of "
                    "the filters. Exit 1 on violations.")
    _add_source(ck)
    ck.add_argument("run_id", metavar="RUN_ID", nargs="?", help="check this run only (default: every run)")
    ck.add_argument("--rules", metavar="FILE", help="rules as JSON or TOML (they replace the inspector's)")
    _add_json(ck, "print JSON")
    _add_run_filters(ck)
    _add_bundle_options(ck)

    cp = _command(
        sub, p, "check-panel", "[options] PANEL_RESPONSE.json",
        "check an AOS panel response for contradicting signals",
        description="Upstream's panel consistency check on a panel adapter response: slots in document "
                    "order, each slot's output as its signals; the duplicate-signal check CONS-DUP and the rules "
                    "(upstream's defaults CONS-001…004, or --rules, which replace them). Conditions are parsed "
                    "and evaluated as written; where upstream's matcher would answer differently (it ignores the "
                    "operands of ==/!= and looks dotted names up literally) the finding says so. "
                    "--upstream gives upstream's own verdict instead. Exit 1 on violations.")
    cp.add_argument("panel", metavar="PANEL_RESPONSE.json", help="a panel adapter response (JSON)")
    cp.add_argument("--rules", metavar="FILE", help="rules as JSON (a list, or {\"rules\": [...]}) or TOML ([[rules]])")
    cp.add_argument("--upstream", action="store_true", help="upstream's checker exactly, its shortcuts included")
    _add_json(cp, "print upstream's result keys as JSON")

    act = _command(
        sub, p, "activity", "[options] SOURCE", "runs and failed runs per interval of time",
        description="How many runs of the filters started in each interval of their time span, and how many "
                    "of them failed (status failed, timeout, error or aborted). Intervals have a round width "
                    "(1 s … 30 days) chosen so there are at most --intervals of them; empty ones are not printed.")
    _add_source(act)
    act.add_argument("--intervals", type=int, default=60, metavar="N", help="at most this many intervals (default 60)")
    _add_json(act, "print JSON (every interval, empty ones included)")
    _add_run_filters(act)
    _add_bundle_options(act)

    sr = _command(
        sub, p, "search", "[options] SOURCE [TEXT]",
        "find text in the steps' params, outcome data and error codes",
        description="Case-insensitive plain text in the steps' params, outcome_data, outcome_code, "
                    "outcome_category and skill_name, as stored (also as JSON escapes it: \\\" or \\u00e9). "
                    "With --run, one run is read in step order; without, every run: through the full-text "
                    "index when one is built (--index build; SQLite files only, kept in the user's cache "
                    "folder), else run by run. One line per step and field: run, step, field, excerpt. "
                    "Exit 0 when something was found, 1 when nothing was.")
    _add_source(sr)
    sr.add_argument("text", metavar="TEXT", nargs="?", help="the text to find (optional with --index)")
    sr.add_argument("--run", metavar="RUN_ID", help="only this run (in Postgres a run id or a trace id)")
    sr.add_argument("--limit", type=int, default=None, metavar="N", help="at most N hits (default: all)")
    _add_json(sr, "print JSON")
    index = sr.add_argument_group("search index")
    index.add_argument("--index", choices=("build", "delete", "status"), metavar="ACTION",
                       help="build (or rebuild), delete, or show the status of the source's search index "
                            "before searching")
    index.add_argument("--cache-dir", metavar="DIR", help="where search indexes are kept (default: the user cache folder)")
    _add_bundle_options(sr)

    demo = _command(sub, p, "demo", "[options]", "generate the demo database",
                    description="Generate the demo database: runs, steps, replays, orphan steps and evidence, "
                                "the same for the same seed.")
    demo.add_argument("--out", metavar="PATH", help="where to write it (default: the user data folder)")
    demo.add_argument("--seed", type=int, default=7, metavar="N", help="random seed (same seed, same content)")
    demo.add_argument("--big-run-steps", type=int, default=100_000, metavar="N",
                      help="steps in the demo's one very large run (default 100000)")
    demo.add_argument("--force", action="store_true", help="replace PATH if it exists")
    demo.add_argument("--postgres", metavar="URL",
                      help="fill this Postgres database instead (empty, or without AOS tables: they are created) "
                           "with the same runs plus audit ledger, policy activations, LLM, system, export and "
                           "mismatch records")
    return p


#: ``IntegrityGrade``'s values (a test keeps them equal): the parser is built for every command, and
#: inspector.integrity costs a command's start 20 ms that only ``grade`` needs.
_GRADES = ("PASS", "WARN", "FAIL")


def _add_source(p: argparse.ArgumentParser, help: str = _SOURCE_HELP) -> None:
    p.add_argument("source", metavar="SOURCE", help=help)


def _add_json(p: Any, help: str = "print JSON (see docs/cli.md)") -> None:
    p.add_argument("--json", action="store_true", help=help)


def _add_run_filters(p: argparse.ArgumentParser) -> Any:
    """The run filters ``runs``, ``grade``, ``export``, ``check`` and ``activity`` share (see
    :func:`_filter`), in a group of their own; the group is returned."""
    g = p.add_argument_group("filters")
    g.add_argument("--status", help="run status as stored (e.g. completed, failed)")
    g.add_argument("--tenant", metavar="ID", help="tenant_id")
    g.add_argument("--agent", metavar="ID", help="agent_id")
    g.add_argument("--since", metavar="TIME", help="started at or after (ISO date or time; naive = UTC)")
    g.add_argument("--until", metavar="TIME", help="started at or before (a date includes the whole day)")
    g.add_argument("--archived", action="store_true",
                   help="Postgres: also list soft-archived traces (hidden by default)")
    return g


def _add_bundle_options(p: argparse.ArgumentParser, *, untrusted: bool = True) -> None:
    """Options for sources that are export bundles (verified when opened)."""
    g = p.add_argument_group("when SOURCE is an export bundle")
    g.add_argument("--trust", action="append", default=[], metavar="PUBKEY",
                   help="its signer must be one of these public keys (.pub); repeatable")
    if untrusted:
        g.add_argument("--untrusted", action="store_true",
                       help="open it even if it fails verification (the output is marked UNTRUSTED)")


def _build_gui_parser() -> argparse.ArgumentParser:
    """The window's form (no COMMAND). Its help is the top level's: ``main`` prints that one."""
    p = _Parser(prog=_PROG, usage=_USAGE, add_help=False)
    p.add_argument("source", nargs="?", metavar="SOURCE", help=_SOURCE_HELP)
    p.add_argument("--demo", action="store_true", help="open the built-in demo database")
    return p


def _open(location: str, args: argparse.Namespace | None = None):
    """Open a source; a Postgres server that wants a password gets it from ``PGPASSWORD`` /
    ``~/.pgpass`` (libpq reads them) or, at a terminal, from a prompt (never echoed or stored).
    A bundle is verified first (``--trust``, ``--untrusted``); one opened untrusted says so on stderr."""
    from drivers import open_source
    from inspector.errors import PasswordRequired

    kwargs: dict[str, Any] = {}
    if args is not None:
        trust = getattr(args, "trust", None) or []
        if trust:  # the signing library loads only for it
            from drivers.bundle import read_public_key

            kwargs["trusted_keys"] = [read_public_key(k) for k in trust]
        kwargs["allow_untrusted"] = bool(getattr(args, "untrusted", False))
    try:
        source = open_source(location, **kwargs)
        if getattr(source, "trusted", True) is False:
            sys.stderr.write(f"trace-inspector: {source.info.location}: UNTRUSTED: {source.verification.summary()}\n")
        return source
    except PasswordRequired:
        if not sys.stdin.isatty():
            raise
        import getpass

        from inspector.locations import redact_url

        password = getpass.getpass(f"Password for {redact_url(location)}: ")
        return open_source(location, password=password, **kwargs)


def _filter(args: argparse.Namespace) -> RunFilter:
    return RunFilter(
        status=args.status,
        tenant_id=args.tenant,
        agent_id=args.agent,
        since=normalise_time_bound(args.since) if args.since else None,
        until=normalise_time_bound(args.until, end=True) if args.until else None,
        include_archived=getattr(args, "archived", False),
    )


def _iter_runs(source: TraceSource, flt: RunFilter, sort: RunSort, descending: bool,
               limit: int | None) -> Iterable[RunSummary]:
    if isinstance(source, StreamsRuns):
        # One sorted scan, streamed (Postgres): paging would sort the table once per page.
        for n, run in enumerate(source.iter_runs(flt, sort, descending)):
            if limit is not None and n >= limit:
                return
            yield run
        return
    emitted = 0
    offset = 0
    while limit is None or emitted < limit:
        want = _PAGE if limit is None else min(_PAGE, limit - emitted)
        page = source.list_runs(flt, sort, descending, offset, want)
        yield from page
        emitted += len(page)
        offset += len(page)
        if len(page) < want:
            break
    if flt.is_empty and (limit is None or emitted < limit):
        # Orphan run ids (steps without a run row) are listed last, flagged, never dropped. (Looked
        # for only when the limit leaves room: it is a pass over every step's run id.)
        for orphan in source.orphan_runs():
            if limit is not None and emitted >= limit:
                return
            emitted += 1
            yield orphan


def _source_json(source) -> dict[str, Any]:
    return {"location": source.info.location, "kind": source.info.kind, "notes": list(source.info.notes)}


def _write_json_stream(out: TextIO, head: dict[str, Any], key: str, items: Iterable[Any],
                       tail: dict[str, Any] | None = None, dumps: Callable[[Any], str] = stdlib_dumps) -> int:
    """Write ``{**head, key: [items…], **tail}`` without holding the items in memory; ``dumps``
    writes one item (default: ``json.dumps(item, ensure_ascii=False)``). Items are written a block
    at a time: one write per item costs as much as encoding it."""
    text = stdlib_dumps(head)
    out.write(text[:-1] + (", " if head else "") + json.dumps(key) + ": [")
    n = 0
    block: list[str] = []
    for item in items:
        block.append(("\n  " if n == 0 else ",\n  ") + dumps(item))
        n += 1
        if len(block) == _WRITE_BLOCK:
            out.write("".join(block))
            block.clear()
    out.write("".join(block))
    out.write("\n]" if n else "]")
    out.writelines(f", {json.dumps(k)}: {stdlib_dumps(v(n) if callable(v) else v)}" for k, v in (tail or {}).items())
    out.write("}\n")
    return n


def _write_json(out: TextIO, value: Any, indent: int | None = None) -> None:
    """One JSON document and a newline, as every command writes it (``fastjson.stdlib_dumps``:
    stored values JSON has no type for, a BLOB, written as text; a lone surrogate as an escape)."""
    out.write(stdlib_dumps(value, indent=indent) + "\n")


def _table(rows: Sequence[Sequence[str]], out: TextIO, right: set[int] = frozenset()) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        out.write("  ".join(cells).rstrip() + "\n")


#: Runs whose grades ``runs`` reads at once: one grouped count per evidence table for them all.
_GRADE_PAGE = 500
#: The Grade cell without an evidence store (the window's dash), and when the grade could not be read.
_NO_STORE, _UNREAD = "—", "?"


def _grades_reader(source: TraceSource) -> EvidenceReader | None | str:
    """What the Grade column is read with: the source's evidence reader; None when it has no
    evidence store (asked without loading the evidence modules where the source can say:
    ``KnowsEvidenceTables``); why not, as text, when the evidence tables could not be looked at."""
    if isinstance(source, KnowsEvidenceTables) and not source.has_evidence_tables():
        return None
    try:
        found = source.evidence()
        return found if found is not None and found.has_store else None
    except InspectorError as exc:
        return str(exc)


def _graded(reader: EvidenceReader | None | str, runs: Iterable[RunSummary]) -> Iterator[tuple[RunSummary, str | None]]:
    """Each run with its integrity grade as the window's runs list shows it (``grades_of`` a page
    of runs at a time: only the runs listed are graded): None without an evidence store, ``"?"``
    when it could not be read, which a note on stderr says once (the runs are listed all the same)."""
    import itertools

    if reader is None:
        yield from ((r, None) for r in runs)
        return
    from inspector.services.grading import grades_of

    failed = isinstance(reader, str)
    if failed:
        sys.stderr.write(f"note: the integrity grades could not be read: {reader}\n")
    it = iter(runs)
    while page := list(itertools.islice(it, _GRADE_PAGE)):
        grades: dict[str, Any] = {}
        if not failed:
            try:
                grades = grades_of(reader, [r.run_id for r in page])
            except InspectorError as exc:
                failed = True
                sys.stderr.write(f"note: the integrity grades could not be read: {exc}\n")
        for r in page:
            info = grades.get(r.run_id)
            yield r, (_UNREAD if info is None else info.grade.value)


def _cmd_runs(args: argparse.Namespace, out: TextIO) -> int:
    from ui.format import fmt_cost, fmt_count, fmt_duration, fmt_timestamp

    flt = _filter(args)
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 or more")
    source = _open(args.source, args)
    try:
        reader = _grades_reader(source)
        runs = _graded(reader, _iter_runs(source, flt, RunSort(args.sort), not args.asc, args.limit))
        if args.json:
            docs = ({**run_summary_to_json(r), "integrity_grade": None if grade == _UNREAD else grade}
                    for r, grade in runs)
            _write_json_stream(out, {"source": _source_json(source), "evidence_store": reader is not None}, "runs",
                               docs, {"count": lambda n: n})
            return _EXIT_OK
        traces = source.info.kind == "postgres"
        rows = [["RUN ID", "STATUS", "GRADE", "TENANT", "AGENT", "STEPS", "FAIL", "COST", "DURATION", "STARTED"]
                + (["TRACE ID"] if traces else [])]
        for r, grade in runs:
            rows.append([
                r.run_id + (" (replay)" if r.replay_of else ""),
                "orphan steps" if r.orphan else (r.status or "") + (" (archived)" if r.archived else ""),
                _NO_STORE if grade is None else grade,
                r.tenant_id or "", r.agent_id or "",
                fmt_count(r.total_steps or 0), fmt_count(r.failure_count or 0),
                fmt_cost(r.total_cost_cents), fmt_duration(r.total_duration_ms), fmt_timestamp(r.started_at),
            ] + ([r.trace_id or ""] if traces else []))
        _table(rows, out, right={5, 6, 7, 8})
        out.write(f"{len(rows) - 1} run(s)\n")
        return _EXIT_OK
    finally:
        source.close()


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    from ui.format import fmt_cost, fmt_duration

    source = _open(args.source, args)
    try:
        record = source.get_run(args.run_id)
        key = record.summary.key
        steps = source.iter_steps(key)
        others = ([t for t in source.traces_of(record.summary.run_id) if t.key != key]
                  if isinstance(source, TracesPerRun) else [])
        if others:
            sys.stderr.write(f"note: run {record.summary.run_id} has {len(others) + 1} traces; showing "
                             f"{key}; the others: {', '.join(t.key for t in others)}\n")
        if args.json:
            # Each step through orjson where it writes the same values (inspector.fastjson).
            _write_json_stream(out, {"source": _source_json(source), "run": run_record_to_json(record)}, "steps",
                               steps, dumps=step_json_text)
            return _EXIT_OK
        s = record.summary
        if s.orphan:
            out.write(f"Orphan steps of run {s.run_id}: its run row is missing (deleted upstream; steps remain)\n")
        else:
            out.write(f"Run {s.run_id}  status={s.status}  tenant={s.tenant_id}  agent={s.agent_id}\n")
            if s.trace_id:
                root = "not computed" if record.root_hash == "pending" else record.root_hash
                out.write(f"  trace={s.trace_id}  root_hash={root}" + ("  (archived)" if s.archived else "") + "\n")
            out.write(f"  correlation={s.correlation_id}  started={s.started_at}  completed={s.completed_at}\n")
            if s.replay_of:
                out.write(f"  replay of {s.replay_of}\n")
        out.write(f"  steps={s.total_steps}  successes={s.success_count}  failures={s.failure_count}  "
                  f"cost={fmt_cost(s.total_cost_cents)}  duration={fmt_duration(s.total_duration_ms)}\n")
        rows = [["#", "STATUS", "SKILL", "OUTCOME", "CODE", "COST", "DURATION", "RETRIES", "TIMESTAMP"]]
        warnings = []
        for st in steps:
            r = st.row
            raw = "" if r.status_raw is None else str(r.status_raw)
            rows.append([str(r.step_index), raw if raw.lower() == r.status.value else f"{raw}→{r.status.value}",
                         r.skill_name or "", r.outcome_category or "", r.outcome_code or "", fmt_cost(r.cost_cents),
                         fmt_duration(r.duration_ms), "" if r.retry_count is None else str(r.retry_count),
                         r.timestamp or ""])
            for name, p in (("params", st.params), ("outcome_data", st.outcome_data)):
                if p.error:
                    warnings.append(f"step {r.step_index} {name}: {p.error}")
        if len(rows) > 1:
            _table(rows, out, right={0, 5, 6, 7})
        out.writelines(f"warning: {w}\n" for w in warnings)
        return _EXIT_OK
    finally:
        source.close()


_FILTER_OPTIONS = (("status", "--status"), ("tenant", "--tenant"), ("agent", "--agent"), ("since", "--since"),
                   ("until", "--until"), ("archived", "--archived"), ("grade", "--grade"))


def _evidence_store(source: TraceSource) -> EvidenceReader:
    """The source's evidence reader; a source without evidence tables (or a trace file, which
    cannot hold evidence) has nothing to grade, which is not a FAIL (DESIGN: "no evidence store")."""
    ev = source.evidence()
    if ev is None or not ev.has_store:
        raise UsageError("no evidence store (no evidence tables) — nothing to grade", location=source.info.location)
    return ev


def _grade_line(result, stored, width: int, differs: bool) -> str:
    """``RUN_ID  GRADE  n/6  explanation`` and, when upstream's stored verdict disagrees with the
    grade computed now, ``(stored: DEGRADED ≠ now)``."""
    line = f"{result.run_id:<{width}}  {result.grade.value:<4}  {len(result.facts.observed)}/6  {result.explanation}"
    if differs:
        line += f"  (stored: {stored.integrity_status or '—'} ≠ now)"
    return line


def _grade_summary(counts: dict[str, int], differ: int) -> str:
    n = sum(counts.values())
    text = f"{n:,} run{'' if n == 1 else 's'}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
    if differ:
        text += f"; {differ:,} stored verdict{' differs' if differ == 1 else 's differ'} from the grade now"
    return text + "\n"


def _cmd_grade(args: argparse.Namespace, out: TextIO) -> int:
    flt = dataclasses.replace(_filter(args), grade=args.grade)
    if args.run_id is not None:
        given = [opt for name, opt in _FILTER_OPTIONS if getattr(args, name)]
        if given:
            raise UsageError(f"RUN_ID grades one run: {', '.join(given)} filter the runs graded without it")
    source = _open(args.source, args)
    try:
        ev = _evidence_store(source)
        if args.run_id is not None:
            return _grade_one(source, ev, args.run_id, args.json, out)
        return _grade_many(source, ev, flt, args.json, out)
    finally:
        source.close()


def _grade_one(source: TraceSource, ev: EvidenceReader, key: str, as_json: bool, out: TextIO) -> int:
    """One run, from its evidence rows (``inspector.services.grading.grade_one``)."""
    from inspector.integrity import IntegrityGrade
    from inspector.services.grading import grade_one

    graded = grade_one(source, ev, key)
    if graded.run_id != key:
        sys.stderr.write(f"note: trace {key} is of run {graded.run_id}; grading the run (all its traces)\n")
    if as_json:
        _write_json(out, graded.report(), indent=1)
    else:
        out.write(_grade_line(graded.result, graded.stored, len(graded.run_id), bool(graded.differences)) + "\n")
        for r in graded.reasons:
            out.write(f"  {r.severity.value.upper():<4}  {r.message}\n")
            out.write(textwrap.fill(r.meaning, width=100, initial_indent=" " * 8, subsequent_indent=" " * 8) + "\n")
    return _EXIT_FINDING if graded.result.grade is IntegrityGrade.FAIL else _EXIT_OK


def _grade_many(source: TraceSource, ev: EvidenceReader, flt: RunFilter, as_json: bool, out: TextIO) -> int:
    """Every run id in the filter, in run id order, a block of grouped counts at a time (printed as
    each block is graded; ``inspector.services.grading.FilterGrading``)."""
    from inspector.integrity import IntegrityGrade
    from inspector.services.grading import FilterGrading

    grading = FilterGrading.of(source, ev, flt)
    total = grading.total
    for table, why in ev.unusable.items():
        sys.stderr.write(f"note: table {table} exists but cannot be read ({why}); it counts as empty, as upstream "
                         "counts a table it cannot query\n")
    counts = {g.value: 0 for g in IntegrityGrade}
    differ = [0]
    shown = [0]
    tty = sys.stderr.isatty()

    def progress(done: int, _total: int) -> None:
        if tty and done:
            text = f"\rgrading: {done:,} of {total:,} runs"
            shown[0] = len(text)
            sys.stderr.write(text)
            sys.stderr.flush()

    def clear_progress() -> None:
        if shown[0]:
            sys.stderr.write("\r" + " " * shown[0] + "\r")
            sys.stderr.flush()
            shown[0] = 0

    def graded():
        for block in grading.blocks(_GRADE_BLOCK, with_stored=True, progress=progress):
            clear_progress()
            for g in block:
                counts[g.result.grade.value] += 1
                yield g
            out.flush()

    if as_json:
        _write_json_stream(out, {"source": _source_json(source)}, "runs", (grading.report(g) for g in graded()),
                           {"count": lambda n: n, "grades": lambda _n: counts})
    else:
        width = max(map(len, grading.run_ids), default=0)
        for g in graded():
            differs = g.stored_differs
            differ[0] += differs
            out.write(_grade_line(g.result, g.stored, width, differs) + "\n")
        out.write(_grade_summary(counts, differ[0]))
    clear_progress()
    return _EXIT_FINDING if counts[IntegrityGrade.FAIL.value] else _EXIT_OK


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _diff_row_text(cmp, row) -> list[str]:
    from inspector.model import MISSING

    def side(pos, docs):
        return "—" if pos is None else f"step {docs[pos].step_index} {docs[pos].skill_name or '?'}"

    lines = [f"  {row.kind.value:<10} {side(row.left, cmp.left)}  ↔  {side(row.right, cmp.right)}"]
    for c in row.differences:
        before = "(absent)" if c.before is MISSING else _short(c.before)
        after = "(absent)" if c.after is MISSING else _short(c.after)
        lines.append(f"      {c.pointer or '/'}: {before} → {after}")
    if row.left is not None and row.right is not None and row.kind.value == "changed":
        lh, rh = cmp.left_hashes[row.left], cmp.right_hashes[row.right]
        lines.append(f"      determinism hash {lh.determinism} / {rh.determinism}; "
                     f"output hash {lh.output} / {rh.output}")
    for a in row.absorbed:
        lines.append(f"      (equal by rule: {a.rule}: {a.change.pointer})")
    return lines


def _diff_side(source: Any, ref: str) -> tuple[Any, Callable[[], Any]]:
    """A run's summary and a way to stream its steps (a run id, or on Postgres a trace id)."""
    record = source.get_run(ref)
    key = record.summary.key
    return record.summary, lambda: source.iter_steps(key)


#: Below this many steps on both sides, diff digests in its own process (starting workers costs ~1 s).
_DIFF_PARALLEL_MIN_STEPS = 50_000


def _digest_sqlite(path: str, key: str):
    """One side of a diff digested in a worker process, from its own read-only connection."""
    from drivers.sqlite_reader import SQLiteTraceReader
    from inspector.compare_stream import digest_steps

    reader = SQLiteTraceReader(path)
    try:
        return digest_steps(reader.iter_steps(key))
    finally:
        reader.close()


def _diff_digests(sides: Sequence[tuple[Any, Any]]):
    """Both sides' digests read and hashed in two worker processes at once (the CPU floor of a
    diff is hashing: on two CPUs this halves it), when both are SQLite files and long enough;
    None otherwise (``TRACE_INSPECTOR_DIFF_WORKERS=0`` turns it off)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from drivers.sqlite_reader import SQLiteTraceReader

    if os.environ.get("TRACE_INSPECTOR_DIFF_WORKERS", "2") == "0" or (os.cpu_count() or 1) < 2:
        return None
    if not all(isinstance(src, SQLiteTraceReader) for src, _ in sides):
        return None
    if sum(summ.total_steps or 0 for _, summ in sides) < _DIFF_PARALLEL_MIN_STEPS:
        return None
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_digest_sqlite, str(src.path), summ.key) for src, summ in sides]
        return tuple(f.result() for f in futures)


def _cmd_diff(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.compare import IgnoreRule, original_of
    from inspector.compare_stream import compare_streams

    ops = args.operands
    if len(ops) not in (2, 3, 4):
        raise UsageError("diff takes SOURCE REPLAY, SOURCE RUN_A RUN_B or SOURCE_A RUN_A SOURCE_B RUN_B")
    try:
        rules = [IgnoreRule(p) for p in args.ignore]
    except ValueError as exc:
        raise UsageError(f"--ignore: {exc} (a JSON pointer starts with '/')") from None
    sources = []
    try:
        a = _open(ops[0], args)
        sources.append(a)
        if len(ops) == 4:
            b = _open(ops[2], args)
            sources.append(b)
        else:
            b = a
        if len(ops) == 2:
            rsum, rsteps = _diff_side(a, ops[1])
            lsum, lsteps = _diff_side(a, original_of(a, rsum))
        else:
            lsum, lsteps = _diff_side(a, ops[1])
            rsum, rsteps = _diff_side(b, ops[-1])
        # Both runs are streamed (read once to digest, again only for the steps that differ).
        cmp = compare_streams(lsteps, rsteps, rules=rules, digests=_diff_digests(((a, lsum), (b, rsum))))
    finally:
        for s in sources:
            s.close()
    sides = ((lsum, a.info.location, len(cmp.left)), (rsum, b.info.location, len(cmp.right)))
    broken = cmp.parity_broken
    if args.json:
        extra = {side: {"source": loc, "run_id": summ.run_id, "trace_id": summ.trace_id, "steps": n}
                 for side, (summ, loc, n) in zip(("left", "right"), sides, strict=True)}
        extra["parity_broken"] = broken
        out.writelines(cmp.json_chunks(extra))
        out.write("\n")
        return _EXIT_FINDING if broken else _EXIT_OK
    p = cmp.parity
    for name, (summ, loc, n), sig in (("Original", sides[0], p.original_signature),
                                      ("Replay", sides[1], p.replay_signature)):
        trace = f" (trace {summ.trace_id})" if summ.trace_id else ""
        out.write(f"{name:<9} {summ.run_id}{trace} in {loc}: {n} steps, signature {sig}\n")
    if p.is_parity:
        out.write("Upstream verdict: parity\n")
    else:
        at = "" if p.divergence_step is None else f" at position {p.divergence_step}"
        out.write(f"Upstream verdict: NO parity{at}: {p.divergence_reason}\n")
    counts = cmp.counts()
    out.write(f"Aligned by {cmp.aligned_by}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "\n")
    out.writelines(f"Note: {note}\n" for note in cmp.notes)
    out.write("Rules in force:\n" + "".join(f"  - {r}\n" for r in cmp.rules_in_force()))
    differing = cmp.difference_rows()
    if differing:
        out.write(f"First divergence (row {differing[0]}):\n")
    for shown, i in enumerate(differing):
        if shown >= args.limit:
            out.write(f"  … and {len(differing) - shown} more differing row(s) (--limit, or --json for all)\n")
            break
        out.write("\n".join(_diff_row_text(cmp, cmp.rows[i])) + "\n")
    out.write("Parity broken\n" if broken else "Parity holds\n")
    return _EXIT_FINDING if broken else _EXIT_OK


def _cmd_replay_check(args: argparse.Namespace, out: TextIO) -> int:
    from drivers.redis_store import open_replay_cache
    from inspector.services.replay_check import check_replay, load_replay

    sources = []
    try:
        a = _open(args.source, args)
        sources.append(a)
        b = None
        if args.original_source:
            b = _open(args.original_source, args)
            sources.append(b)
        loaded = load_replay(a, args.run_id, b, args.original)
    finally:
        for s in sources:
            s.close()
    cache = open_replay_cache(args.redis)
    try:
        if cache.fallback_reason:
            sys.stderr.write(f"trace-inspector: {cache.kind}; the check uses an in-memory cache\n")
        checked = check_replay(loaded, cache, seed_shared=args.seed_cache)
    finally:
        cache.close()
    replay, original, result, tenant = loaded.replay, loaded.original, checked.result, checked.tenant_id
    if args.json:
        _write_json(out, {"replay": {"source": replay.location, "run_id": replay.summary.run_id,
                              "trace_id": replay.summary.trace_id},
                   "original": {"source": original.location, "run_id": original.summary.run_id,
                                "trace_id": original.summary.trace_id},
                   "tenant_id": tenant, "cache": result.cache_kind, "ok": result.ok,
                   "upstream_stop": result.upstream_stop, "counts": result.counts(), "notes": list(result.notes),
                   "steps": [s.as_json() for s in result.steps]})
        return _EXIT_OK if result.ok else _EXIT_FINDING
    out.write(f"Replay {replay.summary.run_id} against original {original.summary.run_id} "
              f"(tenant {tenant}, cache: {result.cache_kind})\n")
    rows = [["POS", "STEP", "SKILL", "BEHAVIOR", "OUTCOME", "EXPECTED", "ACTUAL", "NOTE"]]
    for st in result.steps:
        rows.append([str(st.position), str(st.step_index), st.skill_name or "", st.behavior,
                     st.outcome.value + (" *" if st.after_stop else ""), st.expected_hash or "—",
                     st.actual_hash or "—", st.note])
    _table(rows, out, right={0, 1})
    out.writelines(f"Note: {n}\n" for n in result.notes)
    if any(st.after_stop for st in result.steps):
        out.write("* after the step where upstream's enforce_trace stops\n")
    out.write(", ".join(f"{n} {k}" for k, n in result.counts().items() if n) + "\n")
    out.write(result.headline() + "\n")
    return _EXIT_OK if result.ok else _EXIT_FINDING


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from drivers.bundle import ZipBundleTarget, default_key_path, load_or_create_key, read_private_key
    from drivers.redis_store import open_idempotency_store
    from drivers.report import render_report
    from inspector.services.export import ExportOptions, RunSelection, export_bundle

    options = ExportOptions(kind=args.kind, reason=args.reason, redact=not args.no_redact,
                            exported_by=args.by or _login(), exported_at=args.at, producer_version=package_version())
    options.check()
    target = ZipBundleTarget(args.out)
    if args.key:
        key = read_private_key(args.key)
    else:
        key, created = load_or_create_key(default_key_path())
        if created:
            sys.stderr.write(f"trace-inspector: created the signing key {default_key_path()} "
                             f"(public key: {default_key_path()}.pub)\n")
    selection = RunSelection(tuple(args.run_ids)) if args.run_ids else RunSelection(flt=_filter(args))
    store = open_idempotency_store(args.redis, prefix="export")
    source = _open(args.source, args)
    show_progress = sys.stderr.isatty() and not args.json

    def progress(p) -> None:
        if show_progress:
            eta = f", about {p.eta_seconds} s left" if p.eta_seconds else ""
            sys.stderr.write(f"\r{p.percentage:5.1f}% {p.message[:60]}{eta}\033[K")
            sys.stderr.flush()

    def on_retry(attempt: int, delay: float, error: str) -> None:
        sys.stderr.write(f"\ntrace-inspector: retry {attempt} in {delay:.1f} s: {error}\n")

    try:
        result = export_bundle(source, selection, target, key, options, idempotency=store,
                               render_report=render_report, progress=progress, on_retry=on_retry)
    finally:
        if show_progress:
            sys.stderr.write("\r\033[K")
        source.close()
        store.close()
    m = result.manifest
    if args.json:
        _write_json(out, {"bundle": result.location, "reused": result.reused, "request_hash": result.request_hash,
                   "signer_fingerprint": key.public.fingerprint, "files": result.files,
                   "retries": result.retries, "completeness": m.get("completeness"),
                   "content_digest": m.get("content_digest")})
        return _EXIT_OK
    if result.reused:
        out.write(f"{result.location}: the same export was already written (request {result.request_hash[:16]})\n")
        return _EXIT_OK
    c = m["completeness"]
    out.write(f"Wrote {result.location}: {c['runs']['found']} run{'s' if c['runs']['found'] != 1 else ''}, "
              f"{c['steps']['found']:,} steps, {result.files} files; signed by {key.public.short}\n")
    if c["runs"]["missing"]:
        out.write(f"Not found: {', '.join(c['runs']['missing_ids'])}\n")
    return _EXIT_OK


def _cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    from drivers.bundle import read_public_key, verify_path

    trusted = [read_public_key(k) for k in args.trust]
    v = verify_path(args.bundle, trusted)
    if args.json:
        _write_json(out, {"bundle": os.path.abspath(args.bundle), **v.as_json()})
        return _EXIT_OK if v.ok else _EXIT_FINDING
    m = v.manifest or {}
    out.write(v.summary() + "\n")
    if m:
        c = m.get("completeness") or {}
        runs = c.get("runs") or {}
        steps = c.get("steps") or {}
        producer = m.get("producer") or {}
        lines = [
            ("Signer", f"{v.signer.fingerprint if v.signer else '—'}"
                       + {True: " (trusted)", False: " (NOT trusted)", None: ""}[v.signer_trusted]),
            ("Exported", f"{m.get('exported_at')} by {m.get('exported_by')}"
                         + (f": {m.get('export_reason')}" if m.get("export_reason") else "")),
            ("Source", f"{(m.get('source') or {}).get('location')} ({(m.get('source') or {}).get('kind')})"),
            ("Producer", f"{producer.get('name')} {producer.get('version')}, format {m.get('format_version')}"),
            ("Complete", f"{runs.get('found')} of {runs.get('asked')} runs, {steps.get('found')} of "
                         f"{steps.get('asked')} steps"),
            ("Redaction", ", ".join((m.get("redaction") or {}).get("rules") or []) or "not applied"),
            ("Custody", f"{v.custody_events} events, chain intact" if v.custody_events and not any(
                p.code == "CUSTODY_BROKEN" for p in v.problems) else "—"),
            ("Manifest", v.manifest_sha256 or "—"),
            ("Content", str(m.get("content_digest") or "—")),
        ]
        _table([[k + ":", val] for k, val in lines], out)
    for p in v.problems:
        out.write(f"FAILED {p.code}: {p}\n")
    return _EXIT_OK if v.ok else _EXIT_FINDING


def _read_text(path: str, what: str) -> str:
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a folder, not a {what}")
    if p.exists() and not p.is_file():
        raise UsageError(f"{path}: is not a regular file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _load_rules(path: str | None):
    if not path:
        return None
    from inspector.consistency import rules_from_text

    return rules_from_text(_read_text(path, "rule file"), location=path, toml=path.lower().endswith(".toml"))


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.services.consistency import check_run

    rules = _load_rules(args.rules)
    source = _open(args.source, args)
    try:
        reader = source.evidence()
        evidence = reader if reader is not None and reader.has_store else None
        logs = source.logs() if isinstance(source, HasLogs) else None
        if args.run_id:
            keys = [args.run_id]
        else:
            keys = [r.key for r in _iter_runs(source, _filter(args), RunSort.STARTED_AT, True, None)]
        checked = (check_run(source, k, rules, evidence=evidence, logs=logs) for k in keys)
        bad = 0
        if args.json:
            def docs():
                nonlocal bad
                for rc in checked:
                    bad += not rc.result.is_consistent
                    yield rc.as_json()

            _write_json_stream(out, {"source": _source_json(source)}, "runs", docs(),
                               {"inconsistent_runs": lambda n: bad})
            return _EXIT_FINDING if bad else _EXIT_OK
        n = 0
        for rc in checked:
            n += 1
            if rc.result.is_consistent:
                continue
            bad += 1
            for v in rc.result.violations:
                out.write(f"{rc.run_id}  {v.rule_id} {v.rule_name}: {v.actual}\n")
            out.writelines(f"{rc.run_id}  note: {x}\n" for x in rc.result.notes)
        out.write(f"{n} run{'s' if n != 1 else ''} checked, {bad} with violations\n")
        return _EXIT_FINDING if bad else _EXIT_OK
    finally:
        source.close()


def _cmd_activity(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.activity import iso_utc
    from inspector.services.activity import runs_over_time
    from ui.format import fmt_count, fmt_interval

    if not 1 <= args.intervals <= 10_000:
        raise UsageError("--intervals must be between 1 and 10000")
    flt = _filter(args)
    source = _open(args.source, args)
    try:
        act = runs_over_time(source, flt, max_intervals=args.intervals)
    finally:
        source.close()
    edges = act.edges()
    if args.json:
        _write_json(out, {"source": _source_json(source), "interval_seconds": act.width, "runs": act.total,
                   "failures": act.total_failures, "undated": act.undated,
                   "intervals": [{"since": iso_utc(edges[i]), "until": iso_utc(edges[i + 1]), "runs": int(n),
                                  "failures": int(f)} for i, (n, f) in enumerate(zip(act.runs, act.failures, strict=True))]})
        return _EXIT_OK
    if not len(act):
        out.write("No run of the filters has a start time" + (f" ({fmt_count(act.undated)} undated)" if act.undated
                                                              else "") + "\n")
        return _EXIT_OK
    out.write(f"{fmt_count(act.total)} runs ({fmt_count(act.total_failures)} failed) from {iso_utc(act.start)} to "
              f"{iso_utc(act.end)}, in intervals of {fmt_interval(act.width)}"
              + (f"; {fmt_count(act.undated)} without a start time" if act.undated else "") + "\n")
    top = int(act.runs.max())
    for i, (n, f) in enumerate(zip(act.runs, act.failures, strict=True)):
        if n:
            bar = "#" * max(1, round(40 * int(n) / top))
            out.write(f"{iso_utc(edges[i])}  {int(n):>9,}  {int(f):>9,} failed  {bar}\n")
    return _EXIT_OK


def _cmd_check_panel(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.consistency import check, json_document, slots_from_panel_response, upstream_check

    doc = json_document(_read_text(args.panel, "panel response"), location=args.panel)
    try:
        panel_id, slots = slots_from_panel_response(doc)
    except ValueError as exc:
        raise UsageError(f"{args.panel}: {exc}") from None
    rules = _load_rules(args.rules)
    result = (upstream_check if args.upstream else check)(panel_id, slots, rules)
    if args.json:
        _write_json(out, result.as_json())
        return _EXIT_OK if result.is_consistent else _EXIT_FINDING
    n = len(result.violations)
    out.write(f"Panel {panel_id}: {len(slots)} slots, "
              + ("consistent" if not n else f"{n} violation{'s' if n != 1 else ''}")
              + (" (upstream's checker)" if args.upstream else "") + "\n")
    for v in result.violations:
        out.write(f"{v.rule_id} {v.rule_name} [{', '.join(v.slots_involved)}]\n"
                  f"  expected: {v.expected}\n  actual:   {v.actual}\n")
        if v.note:
            out.write(f"  note:     {v.note}\n")
    out.writelines(f"Note: {n_}\n" for n_ in result.notes)
    return _EXIT_OK if result.is_consistent else _EXIT_FINDING


def _cmd_keygen(args: argparse.Namespace, out: TextIO) -> int:
    from drivers.bundle import write_keypair

    key = write_keypair(args.out, overwrite=args.force)
    out.write(f"Wrote {args.out} (private, mode 0600) and {args.out}.pub\nFingerprint: {key.public.fingerprint}\n")
    return _EXIT_OK


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from drivers.demo import default_demo_path, generate_demo

    if args.postgres:
        if args.out or args.force:
            raise UsageError("--postgres writes to a database: --out and --force do not apply")
        return _demo_postgres(args, out)
    path = Path(args.out) if args.out else default_demo_path(args.seed)
    if path.exists():
        if not args.force:
            raise UsageError(f"{path} exists (use --force to replace it)")
        path.unlink()
    last = [-1]

    def progress(done: int, total: int) -> None:
        pct = int(done * 100 / total) if total else 100
        if pct != last[0] and sys.stderr.isatty():
            last[0] = pct
            sys.stderr.write(f"\rgenerating {path.name}: {pct}%")
            sys.stderr.flush()

    summary = generate_demo(path, args.seed, big_run_steps=args.big_run_steps, progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    out.write(
        f"{path}\n{summary.runs:,} runs, {summary.steps:,} steps, {summary.replay_count} replays, "
        f"{len(summary.orphan_run_ids)} orphan run ids; largest run {summary.big_run_id} "
        f"({summary.big_run_steps:,} steps)\n"
    )
    return _EXIT_OK


def _cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.services.search import IndexedSource, SearchQuery, search_index, search_run

    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 or more")
    if args.text is None and args.index is None:
        raise UsageError("give the TEXT to search for (or --index build|delete|status)")
    query = SearchQuery(args.text) if args.text is not None else None
    source = _open(args.source, args)
    try:
        index = source.payload_index(args.cache_dir) if isinstance(source, IndexedSource) else None
        if args.index is not None:
            if index is None:
                raise UsageError(f"a {source.info.kind} source has no search index (SQLite files only); "
                                 "search without --index reads it run by run", location=source.info.location)
            _index_command(args.index, index, args.json, out if query is None else sys.stderr)
        if query is None:
            return _EXIT_OK
        tty = sys.stderr.isatty()

        def progress(done: int, total: int) -> None:
            if tty:
                sys.stderr.write(f"\rsearching: {done:,} of {total:,} steps")
                sys.stderr.flush()

        if args.run is not None:
            key = source.get_run(args.run).summary.key
            hits = search_run(source, key, query, progress=progress)
            scope: dict[str, Any] = {"run": args.run, "key": key}
        elif index is not None and index.status().ready:
            hits = search_index(index, query)
            scope = {"index": index.status().path}
        else:
            why = "the search index is out of date" if index is not None and index.status().state == "stale" else \
                "no search index"
            sys.stderr.write(f"note: {why}; reading every run" + (" (build one with --index build)\n"
                                                                  if index is not None else "\n"))
            hits = (h for rid in _all_keys(source) for h in search_run(source, rid, query))
            scope = {"runs": "all"}
        if args.limit is not None:
            import itertools

            hits = itertools.islice(hits, args.limit)
        if args.json:
            n = _write_json_stream(out, {"source": _source_json(source), "query": query.text, **scope}, "hits",
                                   (h.to_json() for h in hits), {"count": lambda n: n})
        else:
            n = 0
            for h in hits:
                if tty:
                    sys.stderr.write("\r\x1b[K")
                out.write(f"{h.run_id}\t{h.step_index}\t{h.field}\t{h.excerpt}\n")
                n += 1
            if tty:
                sys.stderr.write("\r\x1b[K")
            out.write(f"{n} hit(s)\n")
        return _EXIT_OK if n else _EXIT_FINDING
    finally:
        source.close()


def _all_keys(source: TraceSource) -> Iterable[str]:
    for run in _iter_runs(source, RunFilter(include_archived=True), RunSort.RUN_ID, False, None):
        yield run.key


def _index_command(action: str, index, as_json: bool, out: TextIO) -> None:
    """Build, delete or describe the index; what it did goes to ``out`` (stderr when hits follow)."""
    from ui.format import fmt_bytes

    if action == "delete":
        existed = index.delete()
        status = index.status()
        text = "deleted" if existed else "there was no index"
    elif action == "build":
        estimate = index.estimate()
        tty = sys.stderr.isatty()
        sys.stderr.write(f"building the search index (about {fmt_bytes(estimate)}) in {index.status().path}\n")

        def progress(done: int, total: int) -> None:
            if tty:
                sys.stderr.write(f"\rindexing: {done:,} of {total:,} steps")
                sys.stderr.flush()

        status = index.build(progress)
        if tty:
            sys.stderr.write("\r\x1b[K")
        text = f"built: {status.steps:,} steps, {fmt_bytes(status.size_bytes)}"
    else:
        status = index.status()
        text = {"none": "not built", "ready": f"ready: {status.steps:,} steps, {fmt_bytes(status.size_bytes)}, "
                f"built {status.built_at}", "stale": "out of date (the source changed since it was built)"}[status.state]
        if status.state != "ready":
            text += f"; building it would take about {fmt_bytes(index.estimate())}"
    if as_json and out is not sys.stderr:
        out.write(json.dumps({"index": status.to_json()}) + "\n")
    else:
        out.write(f"search index {status.path}: {text}\n")


def _logs_reader(source: TraceSource) -> LogsSource:
    if not isinstance(source, HasLogs):
        raise UsageError(f"{source.info.location}: the logs tables (audit ledger, LLM and system records, "
                         "exports, mismatches) live in the AOS Postgres database; this is a "
                         f"{source.info.kind} source")
    return source.logs()


def _cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.logs import MAX_PAGE, LedgerFilter
    from inspector.serialize import audit_event_to_json

    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 or more")
    since = normalise_time_bound(args.since) if args.since else None
    until = normalise_time_bound(args.until, end=True) if args.until else None
    source = _open(args.source, args)
    try:
        reader = _logs_reader(source)

        def events():
            if args.run:
                n = 0
                found = reader.audit_for_run(args.run, args.tenant, limit=MAX_PAGE)
                if len(found) >= MAX_PAGE:
                    sys.stderr.write(f"note: only the newest {MAX_PAGE:,} events naming {args.run} are read\n")
                for e in found:
                    if args.entity_type and e.entity_type != args.entity_type:
                        continue
                    if args.event_type and e.event_type != args.event_type:
                        continue
                    if args.actor and args.actor not in (e.actor_id, e.actor_type):
                        continue
                    if (since and (e.created_at or "") < since) or (until and (e.created_at or "") > until):
                        continue
                    if args.limit is not None and n >= args.limit:
                        return
                    n += 1
                    yield e
                return
            flt = LedgerFilter(tenant_id=args.tenant, event_type=args.event_type, entity_type=args.entity_type,
                               actor=args.actor, since=since, until=until)
            cursor, n = None, 0
            while True:
                want = 500 if args.limit is None else min(500, args.limit - n)
                if want <= 0:
                    return
                page = reader.list_ledger(flt, cursor, want)
                yield from page.events
                n += len(page.events)
                cursor = page.cursor
                if cursor is None or not page.events:
                    return

        if args.json:
            head = {"source": _source_json(source), "run_id": args.run}
            _write_json_stream(out, head, "events", (audit_event_to_json(e) for e in events()),
                               {"count": lambda n: n})
            return _EXIT_OK
        rows = [["CREATED", "TENANT", "ACTOR", "EVENT", "ENTITY", "REASON"]]
        for e in events():
            rows.append([e.created_at or "", e.tenant_id, f"{e.actor_type}:{e.actor_id or '-'}", e.event_type,
                         f"{e.entity_type}:{e.entity_id}", (e.action_reason or "")[:60]])
        if len(rows) > 1:
            _table(rows, out)
        out.write(f"{len(rows) - 1} event(s)\n")
        for note in reader.missing_notes:
            sys.stderr.write(f"note: {note}\n")
        return _EXIT_OK
    finally:
        source.close()


def _cmd_logs(args: argparse.Namespace, out: TextIO) -> int:
    from inspector.serialize import audit_event_to_json, logs_to_json
    from ui.format import fmt_cost

    source = _open(args.source, args)
    try:
        reader = _logs_reader(source)
        record = source.get_run(args.run_id, with_aggregates=False)
        s = record.summary
        logs = reader.run_logs(s.run_id, s.trace_id)
        if args.json:
            doc = {"source": _source_json(source), **logs_to_json(logs)}
            doc["audit"] = [audit_event_to_json(e) for e in logs.audit]
            _write_json(out, doc, indent=1)
            return _EXIT_OK
        out.write(f"Run {s.run_id}  trace={logs.trace_id}  tenant={s.tenant_id}\n")
        out.write(f"\nLLM run records ({len(logs.llm_records)})\n")
        out.writelines(f"  {r.provider}/{r.model}  {r.execution_status}  tokens {r.input_tokens}→{r.output_tokens}  "
                      f"cost {fmt_cost(r.cost_cents)}  prompt {(r.prompt_hash or '-')[:16]}  response "
                      f"{(r.response_hash or '-')[:16]}\n" for r in logs.llm_records)
        window = logs.replay_window
        if window is not None:
            out.write(f"\nReplay window ({len(window.entries)}), ±30 s around {window.anchor} "
                      f"(from {window.anchor_from})\n")
            out.writelines(f"  {w.timestamp}  {w.source:<6}  {w.action or '-'}  {w.outcome or '-'}  [{w.ref}]\n" for w in window.entries)
        out.write(f"\nSystem records ({len(logs.system_records)})\n")
        out.writelines(f"  {r.created_at}  {r.severity:<8}  {r.component}/{r.event_type}  {r.summary}"
                      f"{'' if r.tenant_id else '  (system-wide)'}\n" for r in logs.system_records)
        out.write(f"\nLog exports ({len(logs.exports)})\n")
        out.writelines(f"  {x.created_at}  {x.scope}  {x.format}  {x.status}  by {x.requested_by}\n" for x in logs.exports)
        out.write(f"\nMismatches ({len(logs.mismatches)})\n")
        out.writelines(f"  {m.created_at}  {m.state:<8}  step {m.step_index}  {m.reason}  "
                      f"expected {m.expected_hash} actual {m.actual_hash}\n" for m in logs.mismatches)
        out.write(f"\nAudit events ({len(logs.audit)})\n")
        out.writelines(f"  {e.created_at}  {e.event_type}  {e.entity_type}:{e.entity_id}  "
                      f"{e.actor_type}:{e.actor_id or '-'}\n" for e in logs.audit)
        out.write(f"\nPolicy activations ({len(logs.policy_activations)})\n")
        out.writelines(f"  {p.activated_at}  {p.policy_id}  confidence {p.confidence_at_activation}  "
                      f"via {p.approval_path}  loop {p.loop_trace_id}\n" for p in logs.policy_activations)
        out.writelines(f"note: {note}\n" for note in logs.notes)
        return _EXIT_OK
    finally:
        source.close()


def _demo_postgres(args: argparse.Namespace, out: TextIO) -> int:
    from drivers.demo.postgres import demo_summary_text, generate_pg_demo
    from inspector.errors import PasswordRequired
    from inspector.locations import PgLocation

    shown = PgLocation(args.postgres).display
    last = [-1]

    def progress(done: int, total: int) -> None:
        pct = int(done * 100 / total) if total else 100
        if pct != last[0] and sys.stderr.isatty():
            last[0] = pct
            sys.stderr.write(f"\rfilling {shown}: {pct}%")
            sys.stderr.flush()

    try:
        summary = generate_pg_demo(args.postgres, args.seed, big_run_steps=args.big_run_steps, progress=progress)
    except PasswordRequired:
        if not sys.stdin.isatty():
            raise
        import getpass

        password = getpass.getpass(f"Password for {shown}: ")
        summary = generate_pg_demo(args.postgres, args.seed, big_run_steps=args.big_run_steps, password=password,
                                   progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    out.write(demo_summary_text(summary))
    return _EXIT_OK


def _no_display(env: Mapping[str, str], platform: str) -> str | None:
    """Why the window cannot open here (Qt would abort, telling the user to reinstall), or None."""
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc, eglfs…: no display server needed
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): the commands "
            "work without one (trace-inspector --help), or run the app under xvfb-run")


def _not_a_command(argv: Sequence[str]) -> None:
    """A first word that is neither a command nor a source, followed by more: a mistyped command
    (argparse would only say the words after it are not understood)."""
    words = [a for a in argv if not a.startswith("-")]
    first = words[0] if words else None
    if first is None or len(words) < 2 or "://" in first or os.path.exists(first):
        return
    import difflib

    close = difflib.get_close_matches(first, _SUBCOMMANDS, n=1)
    hint = f"did you mean {close[0]}?" if close else f"the commands: {', '.join(_SUBCOMMANDS)}"
    raise UsageError(f"{first}: not a command, nor a file to open ({hint})")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    # The drivers log what they fall back on (an unreachable Redis); the commands say it themselves,
    # once, in their own words: without a handler Python would print it a second time.
    logging.getLogger("drivers").addHandler(logging.NullHandler())
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    if getattr(out, "errors", None) == "strict" and hasattr(out, "reconfigure"):
        # A stored value may hold a lone surrogate (a JSON "\ud800" escape), which UTF-8 cannot
        # carry: printed as an escape, as stderr prints one, rather than failing the command.
        # (--json output has none: it is ASCII then, fastjson.stdlib_dumps.)
        out.reconfigure(errors="backslashreplace")
    try:
        if argv and argv[0] in _SUBCOMMANDS:
            args = build_parser().parse_args(argv)
            handler = {"runs": _cmd_runs, "show": _cmd_show, "grade": _cmd_grade, "diff": _cmd_diff,
                       "replay-check": _cmd_replay_check, "audit": _cmd_audit,
                       "logs": _cmd_logs, "export": _cmd_export, "verify": _cmd_verify, "keygen": _cmd_keygen,
                       "check": _cmd_check, "check-panel": _cmd_check_panel,
                       "activity": _cmd_activity, "search": _cmd_search,
                       "demo": _cmd_demo}[args.command]
            return handler(args, out)
        options = argv[:argv.index("--")] if "--" in argv else argv
        if "-h" in options or "--help" in options:
            build_parser().print_help(out)
            return _EXIT_OK
        if "-V" in options or "--version" in options:
            out.write(f"trace-inspector {package_version()} (Python {sys.version.split()[0]})\n")
            return _EXIT_OK
        _not_a_command(options)
        args = _build_gui_parser().parse_args(argv)
        if args.source and args.demo:
            raise UsageError("give a SOURCE or --demo, not both")
        no_display = _no_display(os.environ, sys.platform)
        if no_display:
            raise UsageError(no_display)
        from ui.qt.app import run_gui

        return run_gui(args.source, demo=args.demo)
    except InspectorError as exc:
        sys.stderr.write(f"trace-inspector: {exc}\n")
        return _EXIT_USAGE
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
            return _EXIT_USAGE
        return int(exc.code or 0)
    except BrokenPipeError:
        # `trace-inspector runs db | head`: the reader left; not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return _EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
