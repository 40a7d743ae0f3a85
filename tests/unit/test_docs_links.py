"""README.md and docs/ point only at files the repository has: every relative link resolves,
every repository path they name (docs/..., tests/..., src/..., bench/...) exists, and nothing
refers to the project's design notes or research folder (DESIGN.md, spec/...), which a reader
of the repository does not have; a vendor fact is stated or linked at the vendor's own URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.references import references_outside

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REPOSITORY_PATH = re.compile(r"(?<![\w/.-])((?:docs|tests|bench|src|\.ci)/[\w./*-]*[\w*])")


def broken_references(page: Path, text: str) -> list[str]:
    """What `text`, read as the page `page`, points at that the repository does not have."""
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor on the same page
        path = target.split("#", 1)[0]
        if path.startswith("/") or not (page.parent / path).exists():
            broken.append(f"link {target}")
    for path in REPOSITORY_PATH.findall(text):
        if not any(ROOT.glob(path)):
            broken.append(f"path {path}")
    broken.extend(f"outside the repository: {name}" for name in references_outside(text))
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_the_page_refers_only_to_files_in_the_repository(page: Path) -> None:
    assert broken_references(page, page.read_text(encoding="utf-8")) == []


def test_the_check_finds_each_kind_of_broken_reference() -> None:
    page = ROOT / "docs" / "api.md"
    text = ("See [the map](architecture.md), [Meta](https://developers.facebook.com/docs/),"
            " [below](#errors) and [configuration](configuration.md#several-shops): fine.\n"
            "[gone](no-such-page.md), [absolute](/work/shared/DESIGN.md), tests/no_such.py,"
            " DESIGN.md \"Event ids\" and spec/meta-capi.md §5 are not.\n")
    assert broken_references(page, text) == [
        "link no-such-page.md", "link /work/shared/DESIGN.md", "path tests/no_such.py",
        "outside the repository: DESIGN.md", "outside the repository: spec/meta-capi.md",
        "outside the repository: §5"]
