"""Phone numbers → E.164 digits without ``+`` (Meta's ``ph``).

Meta: "remove symbols, letters and leading zeros; must include country code"
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters).
A national number ("06 12 34 56 78") only becomes that with its country, which Meta's SDK
(facebook-business 26.0.3) never adds — the most common cause of phone keys that never match.
We use Google's libphonenumber port (``phonenumbers``) for the country rules and validation.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException

from trackside.identity.phone_fast import UNSURE, fast_e164_digits

__all__ = ["normalize_phone", "normalize_stripped_phone"]

# What a phone field holds in practice: digits and the separators people type. Anything else
# (letters, extensions) goes through the library's full parser.
_SIMPLE = re.compile(r"[+]?[0-9 ()./\-\u00a0]+")
_SEPARATORS = re.compile(r"[ ()./\-\u00a0]+")
# The same separators for str.translate, about twice as fast as the two patterns above on a
# typical number; _digits_only checks it gives exactly what they give.
_DROP_SEPARATORS = str.maketrans("", "", " ()./-\u00a0")


@lru_cache(maxsize=512)
def _calling_code(region: str) -> str:
    code = phonenumbers.country_code_for_region(region)  # 0 for an unknown region
    return str(code) if code else "+"  # "+" never starts a digits-only string


def _e164_digits(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    # national_significant_number keeps Italy's leading zero (+39 06…), unlike national_number.
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def _e164_digits_fast(digits: str, region: str | None) -> str | None:
    """_e164_digits for a digits-only string (optional leading +), via phone_fast if it can."""
    result = fast_e164_digits(digits, region)
    if result is UNSURE:
        return _e164_digits(digits, region)
    return result  # type: ignore[return-value]


def normalize_phone(value: str, region: str | None = None) -> str | None:
    """E.164 digits without ``+`` (``33612345678``), or None when not a valid number.

    ``region`` is the event's lowercase alpha-2 country (or the configured default). ``+…``
    and ``00…`` are international. Other digit strings are read as a national number of the
    region first (the shopper typed it for their own country: ``(650) 555-1212``, ``06 12…``),
    then as an international number without its ``+`` (``33612345678``); the first *valid*
    reading wins. Digits that start with the region's own calling code are read as
    international first (``4915123456789`` in Germany). Without a region only the
    international reading exists.

    Idempotent on its own output without a region or with the number's own region. E.164
    digits of a *foreign* number without ``+`` are ambiguous under another region and may read
    as a national number there; that is why the output is only ever hashed, never re-parsed.
    """
    return _normalize_phone(value.strip(), region.upper() if region else None)


def _digits_only(text: str) -> str | None:
    """``_SEPARATORS.sub("", text)`` when ``_SIMPLE.fullmatch(text)``, else None."""
    if text[:1] == "+":
        body = text[1:].translate(_DROP_SEPARATORS)
        plus = "+"
    else:
        body = text.translate(_DROP_SEPARATORS)
        plus = ""
    if body.isdigit() and body.isascii():  # isdigit() alone takes other scripts' digits
        return plus + body
    if body or len(text) == len(plus):
        return None  # something that is neither a digit nor a separator; or "" or "+"
    return plus  # nothing but separators: _SIMPLE matches them too


@lru_cache(maxsize=8192)
def _normalize_phone(text: str, region: str | None) -> str | None:
    if not text:
        return None
    digits = _digits_only(text)
    if digits is not None:
        if digits.startswith("+"):
            return _e164_digits_fast(digits, None)
        if digits.startswith("00"):
            # The 00 international prefix (most of the world); the library only knows it when
            # the region's own prefix is 00, so make it explicit.
            return _e164_digits_fast("+" + digits[2:], None)
        if region is None:
            return _e164_digits_fast("+" + digits, None)
        if digits.startswith(_calling_code(region)):
            # "49 151 23456789" typed in Germany: the region's own calling code without "+".
            # Loose national plans (DE, ID) would also accept it as a long national number,
            # but nobody dials their own country code domestically.
            own = _e164_digits_fast("+" + digits, None)
            if own is not None:
                return own
        return _e164_digits_fast(digits, region) or _e164_digits_fast("+" + digits, None)
    # Letters, extensions ("ext. 12"), vanity numbers: the library's full parser decides.
    return _e164_digits(text, region)


#: normalize_phone for text that is already stripped and an uppercase region (or None): what
#: normalize_user has in hand, so its hot path skips one call, one strip and one upper().
normalize_stripped_phone = _normalize_phone
