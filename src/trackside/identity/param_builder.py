"""``_fbp``/``_fbc`` through Meta's Parameter Builder, inside trackside's own checks.

Meta's ``capi-param-builder-python`` builds and reads the two cookies the way Meta expects,
including the fifth "appendix" segment that tells Meta how the value was made (new, modified or
unchanged, by which library and version):
https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameter-builder-library
and https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc.

The library checks little, so what goes in and what comes out passes trackside's own rules
(cookies.py): a cookie that is not a well-formed ``_fbp``/``_fbc``, an fbclid with characters
Graph refuses (2804001) or over the length limit, and a Host that is not a host name are
dropped with a warning before the library sees them; its answer is checked again, and if it
fails those checks or raises, the hand-written decision (``decide_by_hand``) is used instead.
Nothing here raises.

The eTLD+1 (which gives Meta's subdomainIndex) comes from the Public Suffix List bundled in the
``publicsuffixlist`` package, read from the package's own file (never fetched), rather than the
library's "drop the first label" guess, which is wrong for ``shop.example.co.uk``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from capi_param_builder import EtldPlusOneResolver, ParamBuilder
from publicsuffixlist import PublicSuffixList

from trackside.identity.cookies import (
    build_fbc,
    fbclid_of,
    is_valid_fbclid,
    new_fbp,
    parse_fbc,
    parse_fbp,
)

__all__ = [
    "MAX_COOKIE_CHARS",
    "MAX_FBCLID_CHARS",
    "CookieDecision",
    "PublicSuffixResolver",
    "decide_by_hand",
    "decide_with_meta",
]

log = logging.getLogger("trackside.cookies")

#: The Beacon model's own limit on ``fbclid`` (sources/browser.py); a URL's may be longer.
MAX_FBCLID_CHARS = 1000
#: A cookie value longer than a browser would store (4096 bytes per cookie, RFC 6265 §6.1)
#: cannot be one the browser sent back.
MAX_COOKIE_CHARS = 4096
# A host name or an IP literal, optionally with a port: nothing else reaches the library.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
                   r"(?::[0-9]{1,5})?")


@dataclass
class CookieDecision:
    fbp: str | None  # the value the event carries
    fbc: str | None
    set_fbp: bool  # whether the response writes the cookie
    set_fbc: bool


@cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the package's bundled list file: no network access


class PublicSuffixResolver(EtldPlusOneResolver):  # type: ignore[misc]  # untyped base
    """eTLD+1 from the Public Suffix List: ``shop.example.co.uk`` → ``example.co.uk``.

    A host that is itself a public suffix, or has a single label (``localhost``), is its own
    eTLD+1 (subdomainIndex = its dots).
    """

    def resolve(self, host_name: str) -> str:
        host = host_name.strip(".").lower()
        return _public_suffixes().privatesuffix(host) or host


_BUILDERS = threading.local()
_MAX_BUILDERS = 64  # hosts per thread; a flood of made-up Host headers only empties it


def _builder(host: str) -> ParamBuilder:
    """A builder for ``host`` on this thread. A ParamBuilder keeps the eTLD+1 of the first host
    it saw and each request's values in itself, so one is never shared between hosts or
    threads; it is reused because making one (its three appendices) costs more than a request.
    """
    builders: dict[str, ParamBuilder] | None = getattr(_BUILDERS, "by_host", None)
    if builders is None or len(builders) >= _MAX_BUILDERS:
        builders = _BUILDERS.by_host = {}
    builder = builders.get(host)
    if builder is None:
        builder = builders[host] = ParamBuilder(PublicSuffixResolver())
    return builder


def decide_by_hand(existing: Mapping[str, str], fbclid: str | None, now_ms: int,
                   index: int, may_store: bool) -> CookieDecision:
    """trackside's own rule: four-part values, ``index`` from TRACKSIDE_COOKIE_DOMAIN.

    _fbp only when missing; _fbc when the URL carries an fbclid that differs from the
    cookie's (Meta's fbp-and-fbc page: rewrite only then, keeping the creation time otherwise).
    Nothing is written without ad_storage consent (docs/browser-tag.md, "Cookies it sets").
    """
    fbp = parse_fbp(existing.get("_fbp"))
    fbc = parse_fbc(existing.get("_fbc"))
    set_fbp = set_fbc = False
    if may_store and fbp is None:
        fbp, set_fbp = new_fbp(now_ms, index), True
    if may_store and fbclid and is_valid_fbclid(fbclid) and fbclid_of(fbc or "") != fbclid:
        fbc, set_fbc = build_fbc(fbclid, now_ms, index), True
    return CookieDecision(fbp, fbc, set_fbp, set_fbc)


def _checked_cookies(existing: Mapping[str, str]) -> dict[str, str]:
    """The request's _fbp/_fbc that are well formed; each other one dropped with a warning."""
    kept: dict[str, str] = {}
    for name, parse in (("_fbp", parse_fbp), ("_fbc", parse_fbc)):
        value = existing.get(name)
        if value is None:
            continue
        if isinstance(value, str) and len(value) <= MAX_COOKIE_CHARS and parse(value):
            kept[name] = value
        else:
            log.warning("The %s cookie is not a valid value (fb.<n>.<ms>.<id>[.<appendix>]), "
                        "ignored.", name)
    return kept


def _checked_fbclid(fbclid: str | None) -> str | None:
    if not fbclid:
        return None
    if len(fbclid) <= MAX_FBCLID_CHARS and is_valid_fbclid(fbclid):
        return fbclid
    log.warning("The fbclid is not a valid click id (at most %d letters, digits, - and _), "
                "ignored.", MAX_FBCLID_CHARS)
    return None


def decide_with_meta(existing: Mapping[str, str], fbclid: str | None, host: str | None,
                     now_ms: int, may_store: bool) -> CookieDecision:
    """The Parameter Builder's decision for a request to ``host`` (the cookie domain, or the
    request's Host when cookies are host-only), with trackside's checks on both sides.

    Without ad_storage consent nothing is built or rewritten: the event carries the cookies
    as the browser holds them (appendix or not). ``now_ms`` is only used by the fallback: the
    library reads the clock itself.
    """
    cookies = _checked_cookies(existing)
    click = _checked_fbclid(fbclid)
    fallback_index = 1  # Meta: 1 for a value made server-side without a cookie
    if not may_store:
        return decide_by_hand(cookies, click, now_ms, fallback_index, may_store=False)
    if not host or not _HOST.fullmatch(host):
        log.warning("The request's Host is not a host name; _fbp/_fbc made by trackside.")
        return decide_by_hand(cookies, click, now_ms, fallback_index, may_store=True)
    try:
        builder = _builder(host)
        written = builder.process_request(host, {"fbclid": [click]} if click else {}, cookies)
        fbp, fbc = builder.get_fbp(), builder.get_fbc()
        names = {cookie.name for cookie in written}
    except Exception as exc:  # noqa: BLE001 (a library bug must not cost the event)
        log.warning("Meta's parameter builder failed (%s); _fbp/_fbc made by trackside.",
                    type(exc).__name__)
        return decide_by_hand(cookies, click, now_ms, fallback_index, may_store=True)
    if not (isinstance(fbp, str) and parse_fbp(fbp)) or (
            fbc is not None and not (isinstance(fbc, str) and parse_fbc(fbc))):
        log.warning("Meta's parameter builder made a value trackside refuses; _fbp/_fbc made "
                    "by trackside.")
        return decide_by_hand(cookies, click, now_ms, fallback_index, may_store=True)
    return CookieDecision(fbp, fbc, "_fbp" in names, "_fbc" in names)
