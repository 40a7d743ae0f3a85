"""What /collect checks before it trusts a browser: origin, client IP, rate, cookies.

Pure helpers with no request object in their signatures, so each is unit-tested on its own
(tests/unit/test_browser.py) and the endpoint (collect.py) only wires them together.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping

from trackside.identity.param_builder import CookieDecision, decide_by_hand, decide_with_meta

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: _fbp and _fbc live 90 days, as Meta says and its parameter builder sets them:
#: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc
COOKIE_MAX_AGE_S = 90 * 24 * 3600


# -- origin ---------------------------------------------------------------------------------


class OriginPolicy:
    """``TRACKSIDE_ALLOWED_ORIGINS``: exact origins, ``*``, or ``https://*.shop.com`` patterns.

    With no origins configured only same-origin pages may post: the Origin's host[:port] must
    equal the request's Host (the gateway served under the shop's own origin, which is also
    what keeps its cookies first-party: Safari caps cookies set from another IP range to 7
    days).
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self.any = False
        self.exact: set[str] = set()
        self.suffixes: list[tuple[str, str]] = []  # (scheme://, .domain[:port])
        for entry in allowed:
            origin = entry.strip().rstrip("/").lower()
            if origin == "*":
                self.any = True
            elif "://*." in origin:
                scheme, rest = origin.split("://*.", 1)
                self.suffixes.append((scheme + "://", "." + rest))
            elif origin:
                self.exact.add(origin)
        self.same_origin_only = not (self.any or self.exact or self.suffixes)

    def allows(self, origin: str | None, host: str | None) -> bool:
        if not origin or origin == "null":
            # Browsers send Origin on every POST; a missing or opaque one is not a shop page.
            return False
        origin = origin.rstrip("/").lower()
        if self.same_origin_only:
            _, _, netloc = origin.partition("://")
            return bool(host) and netloc == (host or "").lower()
        if self.any or origin in self.exact:
            return True
        return any(origin.startswith(scheme) and origin.endswith(suffix)
                   for scheme, suffix in self.suffixes)


# -- client IP ------------------------------------------------------------------------------


def parse_networks(entries: Iterable[str]) -> list[IPNetwork]:
    """``TRACKSIDE_TRUSTED_PROXIES`` entries (addresses or CIDR, IPv4 or IPv6) as networks."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRACKSIDE_TRUSTED_PROXIES: {entry!r} is not an address or CIDR "
                             "network") from None
    return networks


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5123"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def client_ip(peer: str | None, forwarded_for: str | None,
              trusted: list[IPNetwork]) -> str | None:
    """The shopper's address: the peer, or, when the peer is a trusted proxy, the nearest
    X-Forwarded-For hop that is not itself trusted (read right to left: every hop appends the
    address it saw, so only the part added by our own proxies is believable)."""
    address = _address(peer) if peer else None
    if address is None:
        return None
    if not forwarded_for or not any(address in net for net in trusted):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _address(hop)
        if hop_address is None:
            break  # garbage from beyond our proxies: stop at the last address we trust
        address = hop_address
        if not any(address in net for net in trusted):
            break
    return str(address)


def from_trusted_proxy(peer: str | None, trusted: list[IPNetwork]) -> bool:
    """Whether the connection's peer is one of our proxies (whose X-Forwarded-* we believe)."""
    address = _address(peer) if peer else None
    return address is not None and any(address in net for net in trusted)


def rate_key(ip: str) -> str:
    """IPv6 clients are limited per /64: one household or phone holds a whole /64."""
    if ":" in ip:
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False).network_address)
    return ip


# -- rate limit -----------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per client key: ``rate`` beacons per second, bursts up to ``burst``.

    In memory and per process (N serve processes allow N times the rate). Bounded: when more
    than ``max_keys`` clients are tracked, idle buckets (full again) are dropped.
    """

    def __init__(self, rate: float = 20.0, burst: float = 200.0, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def check(self, key: str, now: float | None = None) -> float | None:
        """None when allowed (a token is taken), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens - 1.0, now)
        return None

    def _prune(self, now: float) -> None:
        refill_s = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill_s}
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()  # a flood of distinct addresses: forget rather than grow


# -- cookies --------------------------------------------------------------------------------


def subdomain_index(cookie_domain: str | None) -> int:
    """Meta's subdomainIndex: 'com' 0, 'shop.com' 1, 'www.shop.com' 2; 1 when the cookie is
    host-only, as Meta says for server-made values:
    https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc
    """
    if not cookie_domain:
        return 1
    return max(0, len(cookie_domain.strip(".").split(".")) - 1)


def first_party_cookies(existing: Mapping[str, str], fbclid: str | None, *, builder: str,
                        host: str | None, index: int, now_ms: int,
                        may_store: bool) -> CookieDecision:
    """Which _fbp/_fbc the event carries and which cookies the response sets:
    TRACKSIDE_FB_COOKIE_BUILDER ``meta`` (Meta's Parameter Builder on ``host``, the appendix
    included) or ``trackside`` (the hand-written four-part values, ``index`` from the cookie
    domain). Both never raise (identity/param_builder.py)."""
    if builder == "trackside":
        return decide_by_hand(existing, fbclid, now_ms, index, may_store)
    return decide_with_meta(existing, fbclid, host, now_ms, may_store)
