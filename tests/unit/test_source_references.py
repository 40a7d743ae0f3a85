"""The code, tests, benches and shipped assets cite nothing outside the repository: no
research notes (DESIGN.md, spec/…) and no section numbers of them (``§3.1``, "spec §13").
A vendor fact cites the vendor's own documentation URL instead, so the next engineer can
check it from here (docs/ pages: tests/unit/test_docs_links.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.references import references_outside

ROOT = Path(__file__).resolve().parents[2]
#: Where code and its comments live. integrations/ is a symlink into src/ (the PrestaShop
#: module), so it is read there.
TREES = ("src", "tests", "bench", ".ci")
TEXT_SUFFIXES = {".py", ".js", ".php", ".tpl", ".sql", ".md", ".html", ".css", ".toml",
                 ".txt", ".sh", ".json", ".yml", ".yaml", ".xml", ""}
#: These hold the patterns as test data.
CHECKERS = {Path(__file__).resolve(), ROOT / "tests" / "references.py",
            *(ROOT / "tests" / "unit" / name for name in (
                "test_docs_links.py", "test_cli_help.py", "test_docs_prestashop.py"))}


def _files() -> list[Path]:
    found = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if (path.is_file() and path.suffix in TEXT_SUFFIXES and path.resolve() not in CHECKERS
                    and "__pycache__" not in path.parts and ".egg-info" not in str(path)):
                found.append(path)
    return found


def test_the_check_finds_each_kind_of_reference() -> None:
    text = ('# see DESIGN.md "Event ids", spec/meta-capi.md and spec §13 rule 26, (§9.2)\n'
            "# https://developers.facebook.com/docs/marketing-api/conversions-api and\n"
            "# RFC 6265 §6.1 are fine\n")
    assert references_outside(text) == ["DESIGN.md", "spec/meta-capi.md", "spec §13", "§9.2"]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_file_cites_nothing_outside_the_repository(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not text")
    found = references_outside(text)
    assert not found, f"{path.relative_to(ROOT)} cites files outside the repository: {found}"
