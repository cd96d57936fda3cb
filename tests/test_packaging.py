"""What an installed app needs besides its code: the icon and the desktop entry, found through
importlib.resources (as the wheel and the PyInstaller build install them), declared as package
data, and agreeing with each other; the window uses the icon. (Building a wheel or running
PyInstaller is packaging/build.py's, not the suite's.)"""

from __future__ import annotations

import configparser
import struct
import tomllib
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "aos-trace-inspector"
ICON_SIZES = (48, 128, 256)
RUNTIME_FILES = [f"{APP_ID}.svg", f"{APP_ID}.desktop", *(f"{APP_ID}-{s}.png" for s in ICON_SIZES)]


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def desktop_entry(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", RUNTIME_FILES)
def test_runtime_files_are_found_through_importlib_resources(name):
    resource = files("resources").joinpath(name)
    assert resource.is_file(), f"resources/{name} is missing"
    assert resource.read_bytes()


@pytest.mark.parametrize("size", ICON_SIZES)
def test_icon_pngs_have_their_size(size):
    assert png_size(files("resources").joinpath(f"{APP_ID}-{size}.png").read_bytes()) == (size, size)


def test_icon_svg_is_a_square_svg():
    text = files("resources").joinpath(f"{APP_ID}.svg").read_text(encoding="utf-8")
    assert "<svg" in text and 'viewBox="0 0 256 256"' in text


def test_desktop_entry_has_the_required_keys():
    entry = desktop_entry(files("resources").joinpath(f"{APP_ID}.desktop").read_text(encoding="utf-8"))
    assert entry["Type"] == "Application"
    assert entry["Name"] and entry["Comment"]
    assert entry["Terminal"] == "false"
    assert "Development" in entry["Categories"].split(";") and entry["Categories"].endswith(";")
    mime = entry["MimeType"].split(";")
    assert "application/vnd.sqlite3" in mime and entry["MimeType"].endswith(";")
    # Exec starts the console script the wheel installs, with the file the menu was given
    command, *args = entry["Exec"].split()
    assert command == entry["TryExec"]
    assert pyproject()["project"]["scripts"][command] == "ui.cli:main"
    assert args == ["%f"]


def test_desktop_entry_icon_names_the_icon_files():
    entry = desktop_entry(files("resources").joinpath(f"{APP_ID}.desktop").read_text(encoding="utf-8"))
    # An icon theme name (no path, no extension): the files installed into hicolor are named after it
    assert entry["Icon"] == APP_ID
    assert files("resources").joinpath(f"{entry['Icon']}.svg").is_file()
    for size in ICON_SIZES:
        assert files("resources").joinpath(f"{entry['Icon']}-{size}.png").is_file()


def test_desktop_entry_parser_rejects_a_broken_entry():
    with pytest.raises(configparser.Error):
        desktop_entry("Name=no group header\n")
    with pytest.raises(KeyError):
        desktop_entry("[Desktop Entry]\nName=x\n")["Exec"]


def declared(name: str) -> bool:
    config = pyproject()["tool"]["setuptools"]
    included = config["package-data"]["resources"]
    excluded = config.get("exclude-package-data", {}).get("resources", [])
    return any(fnmatch(name, p) for p in included) and not any(fnmatch(name, p) for p in excluded)


@pytest.mark.parametrize("name", RUNTIME_FILES)
def test_runtime_files_are_declared_package_data(name):
    assert declared(name), f"pyproject.toml's package-data leaves resources/{name} out of the wheel"
    assert any(fnmatch("resources", p) for p in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"])


def test_readme_screenshots_stay_out_of_the_wheel():
    shots = sorted(p.name for p in (ROOT / "resources").glob("screenshot-*.png"))
    assert shots, "the README's screenshots moved: check exclude-package-data"
    assert not [name for name in shots if declared(name)]
    assert not declared("anything.py.orig")


@pytest.mark.gui
def test_the_application_has_the_icon(qapp):
    from ui.qt.app import APP_ID as APP_ID_IN_APP

    sizes = {(s.width(), s.height()) for s in qapp.windowIcon().availableSizes()}
    assert sizes == {(s, s) for s in ICON_SIZES}
    assert APP_ID_IN_APP == APP_ID == qapp.desktopFileName()
