"""No text the user sees cites a section of the spec (``§11.15``, ``spec §6.1``): the spec is not
shipped with the app, so a user cannot look one up; the text says the fact in plain words instead.

Every string constant in ``ui/``, ``inspector/`` and ``drivers/`` may reach a user (messages,
tooltips, notes, CLI help and JSON, log lines), except docstrings and other bare string statements,
which are for developers, as comments are (comments are not in the AST, so they are left out by
construction)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ui", "inspector", "drivers")
MARK = "§"

#: ``"path:line"`` → why that constant may keep a section sign. Empty: none needs to.
ALLOWED: dict[str, str] = {}


def citing_constants(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string constant holding a section sign, docstrings and other bare string
    statements left out; f-strings are checked part by part."""
    tree = ast.parse(source)
    bare = {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and MARK in node.value and id(node) not in bare)


def test_the_scan_sees_strings_and_skips_docstrings_and_comments():
    source = '''"""Module docstring (spec §1)."""
# a comment (§2)
def f(x):
    """Docstring (§3)."""
    "a bare string statement (§4)"
    tip = "a tooltip (§5)"
    return f"{x} an f-string part (§6)", tip
'''
    assert [line for line, _ in citing_constants(source)] == [6, 7]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_user_visible_text_cites_a_spec_section(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, text in citing_constants(path.read_text(encoding="utf-8")):
            if f"{rel}:{line}" not in ALLOWED:
                found.append(f"{rel}:{line}: {text!r}")
    assert not found, "say the fact in plain words instead of citing the spec:\n" + "\n".join(found)
