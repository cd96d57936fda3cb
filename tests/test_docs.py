"""The README and the guide in docs/: every relative link and image points at a file of the
repository (and an anchor at a heading of it), the README stays short, and nothing cites a spec
file the repository does not contain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README is the front page: what it is, two commands, what it needs, links. The rest is in docs/.
README_MAX_BYTES = 5 * 1024
#: Pages linked before they exist, each written on another branch; remove an entry once it lands.
WRITTEN_ELSEWHERE: set[Path] = set()

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images in ``text``, outside code."""
    text = _CODE.sub("", _FENCE.sub("", text))
    return _LINK.findall(text)


def anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of ``text``: lower case, punctuation dropped, spaces as
    hyphens, a repeated one numbered."""
    seen: dict[str, int] = {}
    out = set()
    for title in _HEADING.findall(_FENCE.sub("", text)):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with ``page``'s relative links (within ``root``), one line each."""
    text = page.read_text(encoding="utf-8")
    problems = []
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if root not in dest.parents and dest != root:
            problems.append(f"{target}: outside the repository")
        elif not dest.exists():
            if dest not in WRITTEN_ELSEWHERE:
                problems.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {dest.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_cites_a_spec_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert not re.findall(r"spec §|§\s*\d|shared/spec|aos-formats\.md", text)


def test_the_readme_stays_short():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes; move detail into docs/"


def test_the_readme_keeps_the_makefiles_two_commands():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE)
        assert re.search(rf"^make {target}\b", readme, re.MULTILINE), f"make {target} is not in the README"


def test_every_docs_page_is_reachable_from_the_index():
    index = ROOT / "docs" / "index.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in links(index.read_text(encoding="utf-8"))}
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p != index and p not in linked]
    assert unlinked == []


def test_the_checks_find_what_is_wrong(tmp_path):
    """The link check itself: a missing file, a missing heading and a path out of the repository
    are reported; a good link, a link in code and a web address are not."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "img.png").write_bytes(b"")
    (docs / "other.md").write_text("# Other page\n\n## What it needs (Postgres)\n", encoding="utf-8")
    page = docs / "page.md"
    page.write_text(
        "[ok](other.md#what-it-needs-postgres) ![img](../img.png) [web](https://example.com/x)\n"
        "`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n"
        "[gone](missing.md) [bad anchor](other.md#nope) [out](../../etc/passwd)\n",
        encoding="utf-8")
    assert broken_links(page, tmp_path) == [
        "missing.md: no such file",
        "other.md#nope: no heading #nope in docs/other.md",
        "../../etc/passwd: outside the repository",
    ]
