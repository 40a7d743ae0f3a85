"""docs/prestashop.md and the module's README stay true: settings that exist, links and
anchors that resolve, the module's configuration fields and hooks as trackside.php has them."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs_checks import heading_anchors
from trackside.config import env_name, setting_keys

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
MODULE = REPO / "integrations" / "prestashop" / "trackside"


def _page() -> str:
    return (DOCS / "prestashop.md").read_text(encoding="utf-8")


def test_every_setting_it_names_exists() -> None:
    known = {env_name(key) for key in setting_keys()}
    named = set(re.findall(r"TRACKSIDE_[A-Z0-9_]+", _page()))
    assert named
    # _FILE variants of secrets are read by the loader; the rest must be real settings.
    assert {n for n in named if n.removesuffix("_FILE") not in known} == set()


def test_every_link_and_anchor_resolves() -> None:
    pages = {name: (DOCS / name).read_text(encoding="utf-8")
             for name in ("prestashop.md", "cli.md", "consent-and-privacy.md", "sources.md")}
    for source, text in pages.items():
        for target, anchor in re.findall(r"\]\(([a-z0-9-]+\.md)(?:#([a-z0-9-]+))?\)", text):
            path = DOCS / target
            assert path.exists(), f"{source} links to missing {target}"
            if anchor:
                assert anchor in heading_anchors(path.read_text(encoding="utf-8")), \
                    f"{source} links to {target}#{anchor}, no such heading"
    assert not re.search(r"\]\((\.\./|/work|DESIGN|spec/)", _page())  # nothing outside docs/


def test_the_hooks_and_fields_it_describes_are_the_modules() -> None:
    php = (MODULE / "trackside.php").read_text(encoding="utf-8")
    page = _page()
    for hook in re.findall(r"registerHook\('(\w+)'\)", php):
        assert f"`{hook}`" in page
        assert f"function hook{hook[0].upper()}{hook[1:]}(" in php
    for label in ("Gateway URL", "Signing key", "Shop prefix", "Push paid orders", "API key"):
        assert f"'label' => $this->l('{label}')" in php
        assert f"**{label}**" in page
    assert "'timeout' => (float) $timeout" in (MODULE / "lib" / "trackside_functions.php"
                                               ).read_text(encoding="utf-8")
    assert "1.0," in php and "**1 second**" in page  # the push's timeout, as documented
