"""docs/going-live.md is checked like docs/scale-out.md: every setting it names exists, every
command line is a real command with real options, every page and anchor it links exists, and
the doctor lines its checklist quotes are lines doctor prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs_checks import (
    command_line_problem,
    command_lines,
    heading_anchors,
    known_variables,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "going-live.md"
SRC = Path(__file__).resolve().parents[2] / "src" / "trackside"


def _text() -> str:
    return PAGE.read_text(encoding="utf-8")


def _anchors(page: Path) -> set[str]:
    return heading_anchors(page.read_text(encoding="utf-8"))


def test_every_setting_named_exists() -> None:
    named = set(re.findall(r"TRACKSIDE_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])", _text()))
    assert {"TRACKSIDE_ALLOWED_ORIGINS", "TRACKSIDE_TRUSTED_PROXIES"} <= named
    assert not named - known_variables(), f"not settings: {sorted(named - known_variables())}"


def test_the_page_shows_the_commands_it_is_about() -> None:
    shown = {" ".join(c.split()[1:2]) for c in command_lines(_text())}
    assert {"serve", "backup", "migrate", "doctor"} <= shown
    assert "trackside doctor --online" in command_lines(_text())


@pytest.mark.parametrize("line", sorted(set(command_lines(_text()))))
def test_every_command_line_is_a_real_command_with_real_options(line: str) -> None:
    assert command_line_problem(line) is None, command_line_problem(line)


def test_every_link_is_a_page_of_the_docs_with_its_anchor() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", _text())
    assert links
    for link in links:
        page, _, anchor = link.partition("#")
        assert re.fullmatch(r"[a-z0-9-]+\.md", page), f"{link}: not a page of docs/"
        assert (DOCS / page).exists(), f"links to missing {page}"
        if anchor:
            assert anchor in _anchors(DOCS / page), f"{link}: no such heading"


def test_pages_that_link_here_use_real_anchors() -> None:
    for page in DOCS.glob("*.md"):
        for anchor in re.findall(r"\]\(going-live\.md#([a-z0-9-]+)\)", page.read_text("utf-8")):
            assert anchor in _anchors(PAGE), f"{page.name} links to going-live.md#{anchor}"


def test_the_checklist_quotes_what_doctor_prints() -> None:
    checklist = _text().split("## 8. Final checklist", 1)[1]
    quoted = re.findall(r"\(`((?:store|Meta|GA4|PrestaShop): [^`]+)`", checklist)
    assert len(quoted) >= 4, quoted
    source = "\n".join(p.read_text("utf-8") for p in SRC.rglob("*.py"))
    for line in quoted:  # "…" stands for what the line fills in
        for words in filter(None, (piece.strip() for piece in line.split("…"))):
            assert words in source, f"doctor prints no {words!r} ({line!r})"


def test_the_readme_and_the_cli_page_link_it() -> None:
    assert "docs/going-live.md" in (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "going-live.md" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_the_environment_file_it_shows_is_a_valid_configuration(tmp_path: Path) -> None:
    from trackside.config import load_settings

    assignments = re.findall(r"^(TRACKSIDE_[A-Z0-9_]+)=(\S+)$", _text(), re.M)
    assert len(assignments) >= 8
    environ = {}
    for name, value in assignments:
        if name.endswith("_FILE"):  # the secret files the page names, with a stand-in secret
            secret = tmp_path / name
            secret.write_text("stand-in-secret-value\n", encoding="utf-8")
            value = str(secret)
        environ[name] = value
    settings = load_settings(environ=environ)
    assert settings.allowed_origins == ["https://shop.example"]
    assert settings.trusted_proxies == ["127.0.0.1", "::1"]
