"""The README is the front door and docs/ the reference: every relative link in them
points at a file that exists (and at a heading that exists, when it names one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.processes import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"```.*?```", re.S)
README_MAX_LINES = 200


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def _relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z]+:", t)]


def _broken_links(page: Path) -> list[str]:
    broken = []
    for link in _relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_reaches_an_existing_file_and_heading(page: Path) -> None:
    broken = _broken_links(page)
    assert not broken, f"{page.relative_to(REPO)}: {broken}"


def test_the_readme_is_a_front_door_of_at_most_200_lines() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    assert any("make run" in line for line in lines)
    assert any("make test" in line for line in lines)


def test_every_reference_page_is_linked_from_the_readme() -> None:
    linked = {Path(link.partition("#")[0]).name for link in _relative_links(REPO / "README.md")}
    pages = {p.name for p in (REPO / "docs").glob("*.md")}
    assert pages <= linked, f"not linked from README.md: {sorted(pages - linked)}"


def test_the_link_check_notices_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# Present\n")
    page.write_text("[a](there.md#present) [b](missing.md) [c](there.md#absent)\n")
    assert _broken_links(page) == [
        "missing.md: no such file",
        "there.md#absent: no heading #absent",
    ]
