"""Imports flow one way (DESIGN: ui -> drivers -> inspector; in the Qt app only the composition root
opens drivers), and every module's ``__all__`` is its public surface, no more and no less (STYLE
§1, §3; httpx ``tests/test_exported_members.py``)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import drivers
import inspector
import ui

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "inspector": {"drivers", "ui", "PySide6", "shiboken6", "pyqtgraph", "sqlalchemy", "sqlite3", "psycopg",
                  "asyncpg", "redis"},
    "drivers": {"ui", "PySide6", "shiboken6", "pyqtgraph"},
}
#: The Qt side reads sources through the session and the ports: only the composition root, which
#: builds the session and the Redis connector, imports the drivers (DESIGN: "only the composition
#: root and the session open drivers"; the session is given its opener).
QT_DRIVER_IMPORTERS = {"ui/qt/app.py"}


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


def qt_files() -> list[Path]:
    return sorted((ROOT / "ui" / "qt").rglob("*.py"))


@pytest.mark.parametrize("path", qt_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_qt_files_reach_the_drivers_only_through_the_composition_root(path):
    name = str(path.relative_to(ROOT))
    imports_drivers = "drivers" in imported_modules(path.read_text(encoding="utf-8"), "ui")
    assert imports_drivers == (name in QT_DRIVER_IMPORTERS), (
        f"{name} imports drivers: take what is needed from the session or the ports in inspector"
        if imports_drivers else f"{name} is the composition root and should build the drivers")


def test_the_qt_check_sees_the_rooms():
    names = {str(p.relative_to(ROOT / "ui" / "qt")) for p in qt_files()}
    assert {"app.py", "main_window.py", "session/session.py", "models/runs.py", "panels/evidence.py",
            "windows/compare.py"} <= names


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
    for pkg in (inspector, drivers, ui):
        names.append(pkg.__name__)
        names.extend(m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))
    return sorted(names)


def _is_logger(value: ast.expr) -> bool:
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "getLogger")


def defined_public_names(source: str) -> set[str]:
    """Names a module binds at its top level itself (functions, classes, assignments; not imports),
    that do not start with an underscore. A module's logger is not part of its surface."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign) and not _is_logger(node.value):
                for target in node.targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, (ast.If, ast.Try)):
                # Definitions made conditionally still land in the module (not TYPE_CHECKING blocks).
                if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                    continue
                visit(node.body)
                visit(getattr(node, "orelse", []))

    visit(ast.parse(source).body)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", all_modules())
def test_all_is_the_public_surface(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} declares no __all__ (STYLE §3: keep the public surface explicit)"
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names {missing}, which do not exist"
    source = Path(module.__file__).read_text(encoding="utf-8")
    unlisted = sorted(defined_public_names(source) - set(exported))
    assert not unlisted, f"{name} defines public names missing from __all__: {unlisted} (list them or make them _private)"


def test_the_surface_check_sees_definitions_not_imports():
    source = ("import logging\nfrom typing import Any\nlog = logging.getLogger(__name__)\n"
              "X = 1\n_Y = 2\ndef f(): pass\nclass C: pass\nif True:\n    Z = 3\n")
    assert defined_public_names(source) == {"X", "f", "C", "Z"}


@pytest.mark.parametrize(
    "name",
    ["inspector.model", "inspector.errors", "inspector.source", "inspector.records", "inspector.serialize",
     "drivers", "drivers.sqlite_schema", "drivers.sqlite_writer", "drivers.sqlite_reader", "drivers.files"],
)
def test_public_modules_declare_all(name):
    assert isinstance(importlib.import_module(name).__all__, list)


@pytest.mark.parametrize("path", sorted((ROOT / "drivers" / "demo").glob("*.py")), ids=lambda p: p.name)
def test_the_demo_recipe_uses_only_public_names(path):
    """The demo is a data generator written through the writers: what it takes from the rest of
    ``drivers`` (and from itself) is what those modules publish in ``__all__``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("drivers", "inspector"):
            published = set(importlib.import_module(node.module).__all__)
            private = [a.name for a in node.names if a.name not in published]
            assert not private, f"{path.name} takes {private} from {node.module}, which does not publish them"
