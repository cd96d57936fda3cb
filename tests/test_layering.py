"""Imports flow one way (DESIGN: ui -> drivers -> inspector), and every module's ``__all__`` is real
(STYLE §1, §3; httpx ``tests/test_exported_members.py``)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import drivers
import inspector

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "inspector": {"drivers", "ui", "PySide6", "shiboken6", "pyqtgraph", "sqlalchemy", "sqlite3", "psycopg",
                  "asyncpg", "redis"},
    "drivers": {"ui", "PySide6", "shiboken6", "pyqtgraph"},
}


def imported_modules(source: str, package: str) -> set[str]:
    """Top-level names of everything a module imports, anywhere in it (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module.split(".")[0])
            else:
                # A relative import cannot leave its top-level package (both are top-level).
                found.add(package)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module", "__import__"
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value.split(".")[0])
    return found


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "path",
    [p for pkg in FORBIDDEN for p in package_files(pkg)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_layering(path):
    package = path.relative_to(ROOT).parts[0]
    bad = imported_modules(path.read_text(encoding="utf-8"), package) & FORBIDDEN[package]
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("inspector", "import sqlite3\n", {"sqlite3"}),
        ("inspector", "def f():\n    from PySide6.QtCore import QObject\n", {"PySide6"}),
        ("inspector", "from drivers.sqlite_reader import SQLiteTraceReader\n", {"drivers"}),
        ("inspector", "import importlib\nimportlib.import_module('redis.asyncio')\n", {"redis"}),
        ("drivers", "import pyqtgraph as pg\n", {"pyqtgraph"}),
        ("drivers", "from ui import cli\n", {"ui"}),
        ("inspector", "from .model import Payload\nimport json\n", set()),
    ],
)
def test_layering_check_finds_forbidden_imports(package, source, expected):
    assert imported_modules(source, package) & FORBIDDEN[package] == expected


def test_layering_check_sees_the_packages():
    assert {p.name for p in package_files("inspector")} >= {"model.py", "errors.py", "source.py", "records.py",
                                                            "serialize.py"}
    assert {p.name for p in package_files("drivers")} >= {"sqlite_schema.py", "sqlite_writer.py",
                                                          "sqlite_reader.py", "files.py", "__init__.py"}


def all_modules() -> list[str]:
    names = []
    for pkg in (inspector, drivers):
        names.append(pkg.__name__)
        names.extend(m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))
    return sorted(names)


@pytest.mark.parametrize("name", all_modules())
def test_all_names_exist(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} declares no __all__ (STYLE §3: keep the public surface explicit)"
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names {missing}, which do not exist"


@pytest.mark.parametrize(
    "name",
    ["inspector.model", "inspector.errors", "inspector.source", "inspector.records", "inspector.serialize",
     "drivers", "drivers.sqlite_schema", "drivers.sqlite_writer", "drivers.sqlite_reader", "drivers.files"],
)
def test_public_modules_declare_all(name):
    assert isinstance(importlib.import_module(name).__all__, list)
