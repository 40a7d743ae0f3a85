"""Client IP addresses for ``client_ip_address``.

Meta wants a valid IPv4 or IPv6 address in clear: no spaces, never hashed
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters).
Rule 25 of trackside's Meta validator (destinations/meta/rules/events.py) also refuses a port or
brackets. A port glued to the address is a recurring cause of rejected or useless IPs, so it
is removed here rather than sent.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

__all__ = ["normalize_ip"]

# Parameter Builder appendix after an IP (Meta's example: "168.212.226.204.ABcDEFGh").
_APPENDIX = re.compile(r"(.+)\.([A-Za-z0-9_-]{8})", re.DOTALL)
_BRACKETED = re.compile(r"\[([^\]]+)\](?::[0-9]{1,5})?")
_IPV4_PORT = re.compile(r"([0-9.]+):[0-9]{1,5}")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed:
        text = bracketed.group(1)
    else:
        with_port = _IPV4_PORT.fullmatch(text)
        if with_port:
            text = with_port.group(1)
    # A zone id ("fe80::1%eth0") only means something on the sender's host.
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:1.2.3.4 is an IPv4 client seen through a dual-stack socket.
        return address.ipv4_mapped
    return address


# Canonical dotted quad (no leading zeros, which ipaddress refuses too): the common case,
# checked without building an ipaddress object.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"({_OCTET})\.({_OCTET})\.{_OCTET}\.{_OCTET}")


def _special_16() -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, int]]] | None:
    """(/16 blocks wholly non-global, /16 blocks only partly so), from ipaddress's own table.

    Every special-purpose IPv4 block is either /16-aligned or smaller, so an address's
    ``is_global`` is one set lookup on its first two octets except in the few "partly"
    blocks, which ipaddress decides per address. None (ipaddress for every address) if this
    Python's table is not where we expect it.
    """
    constants = getattr(ipaddress, "_IPv4Constants", None)
    networks = getattr(constants, "_private_networks", None)
    public = getattr(constants, "_public_network", None)
    exceptions = getattr(constants, "_private_networks_exceptions", ())
    if not networks or public is None or any(n.prefixlen <= 16 for n in exceptions):
        return None
    whole: set[tuple[int, int]] = set()
    partly: set[tuple[int, int]] = set()
    for network in [*networks, public, *exceptions]:
        first = int(network.network_address) >> 16
        if network.prefixlen > 16:
            partly.add((first >> 8, first & 0xFF))
            continue
        for block in range(first, first + (1 << (16 - network.prefixlen))):
            whole.add((block >> 8, block & 0xFF))
    return frozenset(whole), frozenset(partly)


_SPECIAL_16 = _special_16()


def _ipv4_fast(text: str) -> tuple[str, bool] | None:
    match = _IPV4.fullmatch(text)
    if match is None:
        return None
    block = (int(match.group(1)), int(match.group(2)))
    if _SPECIAL_16 is None or block in _SPECIAL_16[1]:
        return text, ipaddress.IPv4Address(text).is_global
    return text, block not in _SPECIAL_16[0]


@lru_cache(maxsize=4096)
def normalize_ip(value: str) -> tuple[str | None, bool]:
    """(canonical address or None, is_public). Keeps a Parameter Builder appendix verbatim."""
    text = value.strip()
    if not text:
        return None, False
    fast = _ipv4_fast(text)
    if fast is not None:
        return fast
    address = _address(text)
    appendix = ""
    if address is None:
        match = _APPENDIX.fullmatch(text)
        if match is None or match.group(2).isdigit():
            return None, False
        address = _address(match.group(1))
        if address is None:
            return None, False
        appendix = "." + match.group(2)
    return str(address) + appendix, address.is_global
