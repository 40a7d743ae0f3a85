"""A fast equivalent of ``phonenumbers.parse`` + ``is_valid_number`` for plain digit strings.

The library's general parser costs ~60 µs per number (extension and alpha handling, repeated
regex compilation lookups, object churn); a shop's phone field is almost always digits and
separators. For that shape this module follows the library's own steps — country code
extraction, national prefix stripping (``_maybe_strip_national_prefix_carrier_code``), length
test, region selection and the number-type patterns — with per-region precompiled patterns.
Anything it is not sure about returns ``UNSURE`` and the caller uses the library.
tests/unit/test_normalize_properties.py checks it against the library on every region's
example numbers and on random digit strings.
"""

from __future__ import annotations

import re
from functools import cache

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

__all__ = ["UNSURE", "fast_e164_digits"]

UNSURE = object()

_MIN_NSN, _MAX_NSN = 2, 17  # phonenumberutil._MIN_LENGTH_FOR_NSN / _MAX_LENGTH_FOR_NSN
# Validity is "any type matches", so the order only changes speed: the common types first
# (the library tests premium rate first because it also wants to name the type).
_TYPES = ("mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip",
          "personal_number", "pager", "uan", "voicemail")  # fmt: skip

_Desc = tuple[frozenset[int] | None, re.Pattern[str]]


def _desc(number_desc: object) -> _Desc | None:
    """(possible lengths or None, compiled pattern) — None when the desc can never match."""
    if number_desc is None:
        return None
    pattern = getattr(number_desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = getattr(number_desc, "possible_length", None) or ()
    return (frozenset(lengths) if lengths else None, re.compile(pattern))


class _Region:
    """One region's metadata with every pattern compiled once."""

    __slots__ = (
        "by_length",
        "calling_code",
        "general",
        "intl",
        "intl_literal",
        "leading",
        "lengths",
        "local_lengths",
        "max_length",
        "metadata",
        "min_length",
        "prefix",
        "prefix_literal",
        "sole",
        "transform",
        "types",
    )  # fmt: skip

    def __init__(self, region: str) -> None:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        general = metadata.general_desc if metadata is not None else None
        if metadata is None or general is None:  # _region() only builds known regions
            raise ValueError(f"the phone number library has no metadata for {region!r}")
        self.metadata = metadata
        self.general = _desc(metadata.general_desc)
        self.types = tuple(d for d in (_desc(getattr(metadata, t, None)) for t in _TYPES) if d)
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
        prefix = metadata.national_prefix_for_parsing
        self.prefix = re.compile(prefix) if prefix else None
        self.transform = metadata.national_prefix_transform_rule or None
        self.intl = re.compile(metadata.international_prefix) if metadata.international_prefix \
            else None  # fmt: skip
        # Most prefixes are plain digits ("0", "00", "011"): startswith() then does the
        # pattern's work at a fraction of a regex call.
        self.prefix_literal = prefix if prefix and prefix.isdigit() and prefix.isascii() else None
        intl = metadata.international_prefix
        self.intl_literal = intl if intl and intl.isdigit() and intl.isascii() else None
        self.lengths = frozenset(general.possible_length)
        self.local_lengths = frozenset(general.possible_length_local_only or ())
        self.min_length = general.possible_length[0]
        self.max_length = general.possible_length[-1]
        self.by_length: dict[int, re.Pattern[str] | None] = {}
        code = metadata.country_code
        self.calling_code = (code, str(code)) if code else None
        # The only region of its calling code (FR, DE…; not GB, US): the region of a number
        # with that code needs no leading-digits choice.
        self.sole = bool(code) and COUNTRY_CODE_TO_REGION_CODE.get(code or 0, ()) == (region,)

    def type_pattern(self, length: int) -> re.Pattern[str] | None:
        """One alternation of every number-type pattern that allows this length."""
        parts = [p.pattern for lengths, p in self.types if lengths is None or length in lengths]
        return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def valid_pattern(self, length: int) -> re.Pattern[str] | None:
        """The general pattern and the type alternation for this length as one pattern.

        A lookahead holds the general test, so one fullmatch answers both; None when no
        number of this length can be valid.
        """
        try:
            return self.by_length[length]
        except KeyError:
            compiled = None
            general = self.general
            if general is not None and (general[0] is None or length in general[0]):
                types = self.type_pattern(length)
                if types is not None:
                    compiled = re.compile(f"(?=(?:{general[1].pattern})\\Z)(?:{types.pattern})")
            self.by_length[length] = compiled
            return compiled

    def valid(self, nsn: str) -> bool:
        """phonenumbers._number_type_helper(nsn, metadata) != UNKNOWN."""
        length = len(nsn)
        pattern = self.by_length[length] if length in self.by_length else self.valid_pattern(length)
        return pattern is not None and pattern.fullmatch(nsn) is not None

    def valid_reference(self, nsn: str) -> bool:
        """valid() as separate tests, the library's steps; the reference valid() is tested on."""
        general = self.general
        if general is None:
            return False
        lengths, pattern = general
        length = len(nsn)
        if lengths is not None and length not in lengths:
            return False
        if pattern.fullmatch(nsn) is None:
            return False
        types = self.type_pattern(length)
        return types is not None and types.fullmatch(nsn) is not None

    def strip_national_prefix(self, number: str) -> str | object:
        """phonenumbers' national prefix stripping + the length test parse() applies after."""
        if self.prefix is None or not number:
            return number
        literal = self.prefix_literal
        if literal is not None:
            if not number.startswith(literal):
                return number
            end = len(literal)  # a literal has no groups, so no transform applies
        else:
            match = self.prefix.match(number)
            if match is None:
                return number
            if self.transform is not None and match.groups() and match.groups()[-1] is not None:
                return UNSURE  # digit-rewriting rules (AR, MX…): leave them to the library
            end = match.end()
        general = self.general[1] if self.general else None
        viable = general is not None and general.fullmatch(number) is not None
        stripped = number[end:]
        if viable and (general is None or general.fullmatch(stripped) is None):
            return number
        # parse() keeps the stripped form only if its length is possible (or too long).
        length = len(stripped)
        if length in self.local_lengths or length < self.min_length:
            return number
        if length <= self.max_length and length not in self.lengths:
            return number
        return stripped


# "33" → (33, ("FR",)): the library's int(number[:size]) lookup without the int().
_CALLING_CODES = {str(code): (code, regions)
                  for code, regions in COUNTRY_CODE_TO_REGION_CODE.items() if regions}  # fmt: skip


@cache
def _region(region: str) -> _Region | None:
    if PhoneMetadata.metadata_for_region(region, None) is None:
        return None  # not a region the library knows ("ZZ", a typo'd default country)
    return _Region(region)


def _is_valid(country_code: int, nsn: str) -> bool:
    """phonenumbers.is_valid_number for (country_code, nsn)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) == 1:
        only = _region(regions[0])
        return only is not None and only.valid(nsn)
    for code in regions:  # _region_code_for_number_from_list
        region = _region(code)
        if region is None:
            continue
        if region.leading is not None:
            if region.leading.match(nsn):
                return region.valid(nsn)
        elif region.valid(nsn):
            return True
    return False


def fast_e164_digits(digits: str, region: str | None) -> str | object | None:
    """E.164 digits for ``+<digits>`` (region None) or national ``digits`` of ``region``.

    ``digits`` holds ASCII digits only (after an optional leading ``+``); returns None when
    the library would find the number invalid, UNSURE when the case is not covered here.
    """
    if digits.startswith("+"):
        body = digits[1:]
        if not body or body[0] == "0" or len(body) <= _MIN_NSN:
            # After a "+", parse() raises for these (TOO_SHORT_AFTER_IDD, or
            # INVALID_COUNTRY_CODE: no calling code starts with 0). They are common: a national
            # number that is invalid in its region is retried as "+" + digits ("+0612…").
            return None
        for size in (1, 2, 3):
            found = _CALLING_CODES.get(body[:size])
            if found is not None:
                country_code, regions = found
                break
        else:
            return UNSURE
        if regions[0] == "001":  # non-geographic numbers (+800…): rare, let the library do it
            return UNSURE
        nsn = body[size:]
        info = _region(regions[0])
        if info is None:
            return UNSURE
    else:
        if region is None or region == "001":
            return UNSURE
        info = _region(region)
        if info is None:
            return UNSURE
        calling_code = info.calling_code
        if calling_code is None:
            return UNSURE
        country_code = calling_code[0]
        # The library treats a leading IDD ("011" in the US) or the region's own calling code
        # specially; those rare inputs go to it.
        if digits.startswith(calling_code[1]):
            return UNSURE
        if info.intl_literal is not None:
            if digits.startswith(info.intl_literal):
                return UNSURE
        elif info.intl is not None and info.intl.match(digits):
            return UNSURE
        nsn = digits
    if len(nsn) < _MIN_NSN:
        return None
    stripped = info.strip_national_prefix(nsn)
    if not isinstance(stripped, str):  # UNSURE
        return UNSURE
    nsn = stripped
    if len(nsn) > _MAX_NSN:
        return None
    # The library stores the national number as an int and re-adds Italian-style leading
    # zeros only when there is more than one digit; a number that is all zeros collapses.
    if nsn.startswith("0") and nsn.strip("0") == "":
        return UNSURE
    valid = info.valid(nsn) if info.sole else _is_valid(country_code, nsn)
    return f"{country_code}{nsn}" if valid else None
