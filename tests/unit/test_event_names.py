"""Browser event names: Meta's standard events in any case, declared custom ones, nothing else."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from trackside.sources.event_names import META_STANDARD_EVENTS, BrowserEventNames


@pytest.mark.parametrize(
    ("sent", "canonical"),
    [
        ("AddToCart", "AddToCart"),
        ("addtocart", "AddToCart"),
        ("ADDTOCART", "AddToCart"),
        ("purchase", "Purchase"),  # then refused as a 'track' by /collect, as Purchase is
        ("pageview", "PageView"),
        ("WishlistShared", "WishlistShared"),
        ("wishlistshared", "WishlistShared"),  # declared spelling wins
        ("FreeMoney", None),
        ("AddToCart ", None),  # no trimming: the name is exact but for case
        ("Purch\u0430se", None),  # a Cyrillic а
        ("", None),
    ],
)
def test_canonical_names(sent: str, canonical: str | None) -> None:
    names = BrowserEventNames(["WishlistShared", " Spaced "])
    assert names.canonical(sent) == canonical


def test_declared_names_never_shadow_standard_ones() -> None:
    names = BrowserEventNames(["purchase", "addtocart"])
    assert names.canonical("purchase") == "Purchase"
    assert names.canonical("AddToCart") == "AddToCart"


def test_refusal_names_the_setting() -> None:
    assert "TRACKSIDE_BROWSER_CUSTOM_EVENTS" in BrowserEventNames().refusal()


def test_standard_list_matches_metas_reference_and_the_tag() -> None:
    # Meta Pixel reference (https://developers.facebook.com/docs/meta-pixel/reference) lists 17
    # standard events; PageView besides.
    assert len(META_STANDARD_EVENTS) == 18 and "PageView" in META_STANDARD_EVENTS
    tag = (resources.files("trackside.web") / "static" / "t.js").read_text(encoding="utf-8")
    match = re.search(r'var STANDARD = ((?:"[^"]*"\s*\+?\s*)+);', tag)
    assert match is not None
    in_tag = "".join(re.findall(r'"([^"]*)"', match.group(1))).strip("|").split("|")
    assert in_tag == sorted(META_STANDARD_EVENTS) == list(META_STANDARD_EVENTS)
