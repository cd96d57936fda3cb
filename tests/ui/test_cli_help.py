"""The command line's help: one usage block at the top level, every command in a group, every
command and argument with a help line, usage lines that read (``diff``'s three forms), examples."""

from __future__ import annotations

import argparse
import io

import pytest

from ui.cli import _COMMAND_GROUPS, _SUBCOMMANDS, build_parser, main


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, what was printed (argparse prints a command's help on stdout itself) and stderr."""
    capsys.readouterr()
    out = io.StringIO()
    code = main(list(args), out=out)
    captured = capsys.readouterr()
    return code, out.getvalue() + captured.out, captured.err


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def _missing_help(parser: argparse.ArgumentParser) -> list[str]:
    """Every argument of the tree without a help line, as ``COMMAND ARGUMENT`` (empty: none)."""
    missing = [f"(top) {a.option_strings or a.dest}" for a in _arguments(parser)
               if not isinstance(a, argparse._SubParsersAction) and not (a.help or "").strip()]
    for name, sub in _commands(parser).items():
        if not (parser.command_help.get(name) or "").strip() or not (sub.description or "").strip():
            missing.append(f"{name} (the command itself)")
        missing += [f"{name} {'/'.join(a.option_strings) or a.metavar or a.dest}" for a in _arguments(sub)
                    if not (a.help or "").strip() or a.help == argparse.SUPPRESS]
    return missing


def test_every_command_and_argument_has_a_help_line():
    assert _missing_help(build_parser()) == []


def test_the_help_check_finds_what_has_none():
    parser = build_parser()
    runs = _commands(parser)["runs"]
    runs.add_argument("--quiet", action="store_true")
    runs.add_argument("extra")
    parser.command_help["show"] = ""
    assert _missing_help(parser) == ["runs --quiet", "runs extra", "show (the command itself)"]


def test_the_groups_list_every_command_once():
    assert sorted(_SUBCOMMANDS) == sorted(_commands(build_parser()))
    assert len(_SUBCOMMANDS) == len(set(_SUBCOMMANDS))
    assert all(names for _, names in _COMMAND_GROUPS)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["--demo", "--help"], ["traces.db", "-h"]])
def test_the_top_level_help_is_one_block(argv, capsys, monkeypatch):
    """One usage block, and each group's commands one to a line at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    code, text, _ = cli(capsys, *argv)
    assert code == 0
    assert text.count("usage:") == 1 and text.startswith("usage: trace-inspector ")
    lines = text.splitlines()
    for title, names in _COMMAND_GROUPS:
        at = lines.index(f"{title}:")
        listed = [ln.split()[0] for ln in lines[at + 1: at + 1 + len(names)]]
        assert listed == list(names), title
    assert "examples:" in lines and "  trace-inspector runs demo.db --status failed --limit 20" in lines
    assert "--version" in text and "--demo" in text


def test_the_help_is_the_same_wherever_asked(capsys):
    assert cli(capsys, "--help") == cli(capsys, "--demo", "-h")


def test_a_file_named_like_an_option_after_double_dash_is_not_help(tmp_path):
    """``-- --help`` names a file: the window opens on it (here: it does not exist, so the start
    page and its banner; the screenshot mode saves the window and quits), no help is printed."""
    from tests.ui.test_start_page import run_window

    proc, shot = run_window(tmp_path, "--", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" not in proc.stdout and shot.exists()


def _usage(capsys, command: str) -> list[str]:
    code, text, _ = cli(capsys, command, "--help")
    assert code == 0
    return text.split("\n\n")[0].splitlines()


def test_diffs_usage_names_its_three_forms(capsys):
    assert _usage(capsys, "diff") == [
        "usage: trace-inspector diff [options] SOURCE REPLAY",
        "       trace-inspector diff [options] SOURCE RUN_A RUN_B",
        "       trace-inspector diff [options] SOURCE_A RUN_A SOURCE_B RUN_B",
    ]


@pytest.mark.parametrize("command", _SUBCOMMANDS)
def test_each_usage_is_short_and_names_what_is_required(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    usage = _usage(capsys, command)
    assert all(len(line) <= 80 for line in usage), usage
    sub = _commands(build_parser())[command]
    text = " ".join(usage)
    for a in _arguments(sub):
        if not a.option_strings and command != "diff":
            assert a.metavar in text, (command, a.metavar)
        if a.required and a.option_strings:
            assert f"{a.option_strings[0]} {a.metavar}" in text, (command, a.option_strings)


def test_a_mistyped_command_is_named_with_a_suggestion(capsys):
    assert cli(capsys, "rnus", "traces.db") == (
        2, "", "trace-inspector: rnus: not a command, nor a file to open (did you mean runs?)\n")


def test_commands_still_parse_their_arguments():
    args = build_parser().parse_args(["diff", "a.db", "r1", "r2", "--ignore", "/x", "--json"])
    assert (args.command, args.operands, args.ignore, args.json) == ("diff", ["a.db", "r1", "r2"], ["/x"], True)
    args = build_parser().parse_args(["grade", "a.db", "--grade", "fail", "--status", "failed"])
    assert (args.grade, args.status, args.run_id) == ("FAIL", "failed", None)
