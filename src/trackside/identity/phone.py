"""Phone numbers → E.164 digits without ``+`` (spec/meta-capi.md §3.1 ``ph``).

Meta: "remove symbols, letters and leading zeros; must include country code". A national
number ("06 12 34 56 78") only becomes that with its country, which Meta's SDK never adds
(§9.2) — the most common cause of phone keys that never match (§11 problem 13). We use
Google's libphonenumber port (``phonenumbers``) for the country rules and validation.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

__all__ = ["normalize_phone"]

# What a phone field holds in practice: digits and the separators people type. Anything else
# (letters, extensions) goes through the library's full parser.
_SIMPLE = re.compile(r"[+]?[0-9 ()./\-\u00a0]+")
_SEPARATORS = re.compile(r"[ ()./\-\u00a0]+")


@lru_cache(maxsize=512)
def _national_prefix(region: str) -> str | None:
    metadata = PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata is not None else None


def _e164_digits(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    # national_significant_number keeps Italy's leading zero (+39 06…), unlike national_number.
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def normalize_phone(value: str, region: str | None = None) -> str | None:
    """E.164 digits without ``+`` (``33612345678``), or None when not a valid number.

    ``region`` is the event's lowercase alpha-2 country (or the configured default). Rules:
    ``+…`` and ``00…`` are international; a number that starts with its region's trunk prefix
    (``0`` in most of Europe) is national; other digit strings may be either, so both readings
    are tried — the international one first when the region has a trunk prefix (a French
    customer who omits the ``0`` wrote a country code), the national one first otherwise
    (US/ES/IT numbers have no trunk prefix). The first *valid* reading wins, which also makes
    the function idempotent on its own output.
    """
    return _normalize_phone(value.strip(), region.upper() if region else None)


@lru_cache(maxsize=8192)
def _normalize_phone(text: str, region: str | None) -> str | None:
    if not text:
        return None
    if _SIMPLE.fullmatch(text):
        digits = _SEPARATORS.sub("", text)
        if digits.startswith("+"):
            return _e164_digits(digits, None)
        if digits.startswith("00"):
            # The 00 international prefix (most of the world); the library only knows it when
            # the region's own prefix is 00, so make it explicit.
            return _e164_digits("+" + digits[2:], None)
        if region is None:
            return _e164_digits("+" + digits, None)
        prefix = _national_prefix(region)
        if prefix and digits.startswith(prefix):
            return _e164_digits(digits, region)
        if prefix:
            return _e164_digits("+" + digits, None) or _e164_digits(digits, region)
        return _e164_digits(digits, region) or _e164_digits("+" + digits, None)
    # Letters, extensions ("ext. 12"), vanity numbers: the library's full parser decides.
    return _e164_digits(text, region)
