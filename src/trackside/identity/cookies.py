"""Meta ``_fbp``/``_fbc`` and Google ``_ga``/``_ga_<stream>`` cookie values.

fbc/fbp formats and the appendix:
https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc
(a malformed fbc gets 2804001 "Click ID Incorrectly Formatted"; rules 26-27 of trackside's
Meta validator, destinations/meta/rules/events.py). Values are never case-changed: Meta says
"ClickID value is case sensitive". Google does not document the ``_ga`` formats (and
discourages parsing them); they are described below.
"""

from __future__ import annotations

import re
import secrets

__all__ = [
    "build_fbc",
    "fbclid_of",
    "ga_client_id",
    "ga_session_id",
    "is_valid_fbclid",
    "new_fbp",
    "parse_fbc",
    "parse_fbp",
]

# Explicit ASCII classes everywhere: Python's \d also matches e.g. Arabic-Indic digits, which
# Graph would reject.
_APPENDIX = r"(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?"
# Rule 26 (meta/rules/events.py); the fbclid is base64url-like (letters, digits, '-', '_'):
# validators allowing only [A-Za-z0-9] broke on real values.
_FBC = re.compile(r"fb\.[0-9]+\.[0-9]{10,13}\.([A-Za-z0-9_-]+)" + _APPENDIX)
# Rule 27 (meta/rules/events.py): the random part is digits.
_FBP = re.compile(r"fb\.[0-9]+\.[0-9]{10,13}\.[0-9]+" + _APPENDIX)
_FBCLID = re.compile(r"[A-Za-z0-9_-]+")
# GA1.<domain depth>.<random>.<first seen>: strip the first two fields, do not assume the
# random part's length. Depth may carry a path depth ("1-2").
_GA_COOKIE = re.compile(r"GA[0-9]+\.[0-9]+(?:-[0-9]+)?\.([0-9]+\.[0-9]+)")
_GS1 = re.compile(r"GS1\.[0-9]+(?:-[0-9]+)?\.([0-9]+)(?:\..*)?", re.DOTALL)
_GS2_PREFIX = re.compile(r"GS2\.[0-9]+(?:-[0-9]+)?\.")
_DIGITS = re.compile(r"[0-9]+")


def parse_fbp(value: object) -> str | None:
    """``value`` unchanged if it is a valid ``_fbp`` (4 or 5 dot parts), else None."""
    if not isinstance(value, str):
        return None
    return value if _FBP.fullmatch(value) else None


def parse_fbc(value: object) -> str | None:
    """``value`` unchanged (case kept) if it is a valid ``_fbc`` (4 or 5 dot parts), else None."""
    if not isinstance(value, str):
        return None
    return value if _FBC.fullmatch(value) else None


def is_valid_fbclid(fbclid: str) -> bool:
    return _FBCLID.fullmatch(fbclid) is not None


def build_fbc(fbclid: str, now_ms: int, subdomain_index: int = 1) -> str:
    """``fb.<subdomain_index>.<now_ms>.<fbclid>``; Meta says index 1 when made server-side.

    The fbclid is used verbatim: it is case-sensitive, never lower-cased or decoded again.
    """
    if not _FBCLID.fullmatch(fbclid):
        raise ValueError("fbclid must be letters, digits, '-' or '_'")
    return f"fb.{subdomain_index}.{now_ms}.{fbclid}"


def new_fbp(now_ms: int, subdomain_index: int = 1) -> str:
    """A fresh ``_fbp`` value: random part in 0..2^31-1 like the Pixel and Meta's builder."""
    return f"fb.{subdomain_index}.{now_ms}.{secrets.randbelow(2**31)}"


def fbclid_of(fbc: str) -> str | None:
    """The fbclid inside a valid fbc (appendix excluded), else None."""
    if not isinstance(fbc, str):
        return None
    match = _FBC.fullmatch(fbc)
    return match.group(1) if match else None


def ga_client_id(cookie: str) -> str | None:
    """``GA1.1.1197596843.1673515099`` → ``1197596843.1673515099``; None if not a _ga value."""
    if not isinstance(cookie, str):
        return None
    match = _GA_COOKIE.fullmatch(cookie.strip())
    return match.group(1) if match else None


def ga_session_id(cookie: str) -> str | None:
    """The session id from a ``_ga_<stream>`` value, legacy GS1 or GS2 format.

    GS1: ``GS1.1.<session_id>.<session_number>....`` (3rd field). GS2 (since ~May 2025):
    ``GS2.1.s1747132561$o1$g0$t...``, ``$``-separated tokens in no guaranteed order; the
    session id is the token that starts with ``s``.
    """
    if not isinstance(cookie, str):
        return None
    text = cookie.strip()
    match = _GS1.fullmatch(text)
    if match:
        return match.group(1)
    prefix = _GS2_PREFIX.match(text)
    if prefix is None:
        return None
    for token in text[prefix.end() :].split("$"):
        if token[:1] == "s" and _DIGITS.fullmatch(token, 1):
            return token[1:]
    return None
