"""Which customer-information keys an event carries, and a rough match-quality estimate.

Two different things live here:

- ``has_sufficient_customer_information`` is a hard rule: Meta rejects an event whose keys are
  empty or a subset of one of four "too broad" sets, subcode 2804050 (Meta's "baseline
  matching rule"; rule 29 in destinations/meta/rules/events.py). One such event fails the
  whole batch, so the pipeline must catch it before sending.
- ``match_keys_report`` is an *estimate* on a 0-10 scale in the spirit of Meta's Event Match
  Quality. Meta publishes no weights; ours only encode Meta's qualitative guidance (em, IP,
  fn/ln, ph are "high quality"; fbc/fbp/external_id + IP + UA are the levers). It is for the
  dashboard's "what to improve" hints, never compared with Meta's own score.

Meta's rule and guidance: https://developers.facebook.com/documentation/ads-commerce/conversions-api/best-practices
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trackside.identity.keys import CUSTOMER_INFORMATION_KEYS, too_broad

__all__ = [
    "CUSTOMER_INFORMATION_KEYS",
    "MATCH_KEYS",
    "customer_information_keys",
    "estimate_score",
    "has_sufficient_customer_information",
    "keys_of_mask",
    "match_key_mask",
    "match_keys_report",
]

# Estimate weights (sum of all = 10). Not Meta's: see the module docstring. Direct
# identifiers weigh most (email, phone, click id, lead id), then browser/device ids, then
# demographic keys that only help in combination.
_WEIGHTS: dict[str, float] = {
    "em": 2.5,
    "ph": 1.5,
    "fbc": 1.25,
    "external_id": 0.75,
    "client_ip_address": 0.75,
    "client_user_agent": 0.5,
    "fbp": 0.75,
    "fn": 0.35,
    "ln": 0.35,
    "ct": 0.25,
    "st": 0.15,
    "zp": 0.25,
    "country": 0.25,
    "db": 0.25,
    "ge": 0.15,
}
#: Keys that identify one Meta account on their own (Meta's CRM payload specification ranks
#: lead id = click id = hashed email highest). Any of them lifts the estimate to at least this
#: floor.
_DIRECT_IDS = {"lead_id": 6.0, "fb_login_id": 6.0, "page_scoped_user_id": 6.0, "ig_sid": 6.0}

#: What the report suggests adding, in order of usefulness (Meta's best practices, above).
_RECOMMENDED = (
    "em", "ph", "client_ip_address", "client_user_agent", "fbc", "fbp", "external_id",
    "fn", "ln", "ct", "zp", "country",
)  # fmt: skip


_SIZED = (str, list, tuple, dict)

#: The keys the match-quality report shows the share of (issue 15), in the order of their bit
#: in a stored event's ``match_keys`` flags, followed by the direct ids that set the estimate's
#: floor. A storage format: append only, never reorder (stored flags would change meaning).
MATCH_KEYS: tuple[str, ...] = (
    "em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id", "fbp",
    "fbc", "client_ip_address", "client_user_agent",
)  # fmt: skip
_FLAGGED_KEYS: tuple[str, ...] = (*MATCH_KEYS, *_DIRECT_IDS)
_BIT = {key: 1 << position for position, key in enumerate(_FLAGGED_KEYS)}


def customer_information_keys(user_data: dict[str, Any]) -> set[str]:
    """The recognized customer-information keys that hold a non-empty value."""
    # Present means not None and, if sized, not empty; inline: this runs for every accepted event.
    return {
        key
        for key, value in user_data.items()
        if key in CUSTOMER_INFORMATION_KEYS and value is not None
        and (not isinstance(value, _SIZED) or len(value) > 0)
    }


def has_sufficient_customer_information(user_data: dict[str, Any]) -> bool:
    """False when Meta would reject the event with 2804050 (the baseline matching rule above)."""
    keys = customer_information_keys(user_data)
    if not keys:
        return False
    return not too_broad(keys)


def match_key_mask(user_data: dict[str, Any]) -> int:
    """The flags a store keeps beside an event: one bit per key of :data:`MATCH_KEYS` (and per
    direct id) the event carries, so reports count keys without reading bodies."""
    mask = 0
    for key in customer_information_keys(user_data):
        mask |= _BIT.get(key, 0)
    return mask


def keys_of_mask(mask: int) -> frozenset[str]:
    """The keys whose bit is set in ``mask`` (the inverse of :func:`match_key_mask`)."""
    return frozenset(key for key, bit in _BIT.items() if mask & bit)


def estimate_score(keys: Iterable[str]) -> float:
    """trackside's 0-10 estimate for one event carrying ``keys``, unrounded: the sum of the
    keys' weights (they add up to 10), at least a direct id's floor, at most 10."""
    present = set(keys)
    score = sum(_WEIGHTS.get(key, 0.0) for key in present)
    for key, floor in _DIRECT_IDS.items():
        if key in present:
            score = max(score, floor)
    return min(score, 10.0)


def match_keys_report(user_data: dict[str, Any]) -> dict[str, Any]:
    """Keys present and missing, plus a 0-10 *estimate* (Meta publishes no weights).

    Returns ``{"present": [...], "missing": [...], "score": float, "sufficient": bool,
    "estimate": True, "note": str}``; ``missing`` lists the recommended keys not sent, most
    useful first.
    """
    keys = customer_information_keys(user_data)
    score = round(estimate_score(keys), 1)
    return {
        "present": sorted(keys),
        "missing": [key for key in _RECOMMENDED if key not in keys],
        "score": score,
        "sufficient": has_sufficient_customer_information(user_data),
        "estimate": True,
        "note": "trackside's estimate from the keys present; Meta publishes no weights and "
        "computes Event Match Quality itself in Events Manager",
    }
