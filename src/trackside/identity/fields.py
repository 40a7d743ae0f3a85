"""One normalizer per customer-information field: clear value in, normalized clear value out.

Each returns the string Meta wants hashed
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters),
or None when the value cannot be normalized. None of them raise on any ``str``;
``normalize_user`` turns a None into a warning that names the field. Deliberate departures
from Meta's SDK are listed in tests/unit/test_normalize_oracle.py.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from trackside.identity.geo import country_code, gender_code, lookup_key, state_code
from trackside.identity.phone import normalize_phone

__all__ = [
    "normalize_city",
    "normalize_country",
    "normalize_date_of_birth",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_name",
    "normalize_phone",
    "normalize_state",
    "normalize_zip",
]

# One "@", no whitespace, a dot in the domain: what Meta's SDK checks (.+@.+\..+) made
# stricter so that "a@b@c.d" or "john smith@x.com" are refused rather than hashed.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+")
# ASCII fast paths: most names and cities are plain ASCII, where str.translate beats a per-
# character Unicode category test by an order of magnitude.
_ASCII_PUNCTUATION = "!\"#$%&'()*+,./:;<=>?@[\\]^_`{|}~-"
_NAME_ASCII_DROP = str.maketrans("", "", _ASCII_PUNCTUATION)
_WHITESPACE = re.compile(r"\s+")
_NOT_ASCII_LOWER = re.compile(r"[^a-z]+")
_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]+")
_DOB_YMD = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?:[T ].*)?", re.DOTALL)
_DOB_XXY = re.compile(r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})")
_DOB_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_US_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_ZIP_PLUS_4 = re.compile(r"([0-9]{5})-[0-9]{4}")


def normalize_email(value: str) -> str | None:
    """Trimmed, lowercased address (Meta's ``em``); None if it is not shaped like an address."""
    text = value.strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def _unicode_keep(text: str, keep: str) -> str:
    """Keep characters whose Unicode category starts with one of ``keep`` (L, M, N, Z)."""
    category = unicodedata.category
    return "".join(c for c in text if category(c)[0] in keep)


def _lower_nfc(text: str) -> str:
    # lower() first: it can decompose (İ → i + U+0307); NFC afterwards recomposes, so Meta's
    # "valéry" example hashes the same whether the input was composed or not.
    return unicodedata.normalize("NFC", text.lower())


# Non-ASCII fast paths: after NFC + lowercase, a Latin name or city ("müller", "saint-étienne")
# is letters plus ASCII punctuation, spaces and digits. Dropping those with str.translate and
# checking isalpha() (letters only: a subset of category L) gives exactly what the
# per-character category test would, so it is taken only when that check holds; the category
# test stays the general path (tests/unit/test_normalize_properties.py checks them equal).
_CITY_ASCII_DROP = str.maketrans("", "", _ASCII_PUNCTUATION + " 0123456789")


def _unicode_name(value: str) -> str:
    text = _lower_nfc(value).translate(_NAME_ASCII_DROP)
    if text.replace(" ", "").isalpha():
        return text
    return _unicode_keep(text, "LMNZ")


def _unicode_city(value: str) -> str:
    text = _lower_nfc(value).translate(_CITY_ASCII_DROP)
    if text.isalpha():
        return text
    return _unicode_keep(text, "LM")


def normalize_name(value: str) -> str | None:
    """First or last name: NFC, lowercase, punctuation and symbols removed, accents kept.

    ``O'Brien`` → ``obrien``, ``Jean-Luc`` → ``jeanluc``, ``Valéry`` → ``valéry``, ``정`` kept
    (Meta's fn/ln: lowercase, no punctuation; non-Latin kept, UTF-8). Inner whitespace is
    kept as one space: Meta's rule removes punctuation, not spaces ("mary ann").
    """
    text = value.lower().translate(_NAME_ASCII_DROP) if value.isascii() else _unicode_name(value)
    if text.isalpha():  # one word: no whitespace to collapse or strip (the usual name)
        return text
    text = _WHITESPACE.sub(" ", text).strip()
    return text or None


def normalize_city(value: str) -> str | None:
    """Lowercase letters only: no spaces, punctuation or digits (Meta's ct: ``newyork``)."""
    if value.isascii():
        # One ASCII word ("Paris") has nothing to drop; the pattern is for the rest.
        text = value.lower() if value.isalpha() else _NOT_ASCII_LOWER.sub("", value.lower())
    else:
        text = _unicode_city(value)
    return text or None


def normalize_state(value: str) -> str | None:
    """US state / Canadian province → 2-letter code; else lowercase, no punctuation or spaces.

    Meta's st: US, the 2-letter ANSI/FIPS code lowercase; elsewhere lowercase, no
    punctuation, special characters or spaces. Full names are mapped (``California`` → ``ca``,
    ``Québec`` → ``qc``); two-letter input is taken as a code.
    """
    code = state_code(lookup_key(value))
    if code is not None:
        return code
    if value.isascii():
        text = value.lower() if value.isalnum() else _NOT_ASCII_ALNUM.sub("", value.lower())
    else:
        text = _unicode_keep(_lower_nfc(value), "LMN")
    return text or None


def normalize_zip(value: str, country: str | None = None) -> str | None:
    """Lowercase, no spaces or dashes; US ZIP+4 → its first 5 digits (Meta's zp).

    US rule applies when the country is ``us`` or the shape is unmistakably ZIP+4
    (``94035-1234``). UK postcodes keep the whole code (``m11ae``).
    """
    text = value.strip()
    if country != "us" and text.isascii() and text.isalnum():
        # Letters and digits only ("75001", "m11ae"): no ZIP+4 dash, nothing to drop.
        return text.lower()
    if country == "us":
        match = _US_ZIP.fullmatch(text)
        if match:
            return match.group(1)
    else:
        match = _ZIP_PLUS_4.fullmatch(text)
        if match:
            return match.group(1)
    if text.isascii():
        text = _NOT_ASCII_ALNUM.sub("", text.lower())
    else:
        text = _unicode_keep(_lower_nfc(text), "LN")
    return text or None


def normalize_country(value: str) -> str | None:
    """Lowercase ISO 3166-1 alpha-2 from a code, alpha-3 code or (multilingual) name."""
    return country_code(value.strip())


def normalize_gender(value: str) -> str | None:
    """``f`` or ``m`` (Meta's ge) from words and titles (``Mme``, ``Herr``, ``female``…)."""
    return gender_code(value.strip())


def _valid_date(year: int, month: int, day: int, today: date) -> str | None:
    # Meta's db: year 1900..current year; and it must be a real date not in the future.
    if year < 1900 or year > today.year:
        return None
    try:
        born = date(year, month, day)
    except ValueError:
        return None
    if born > today:
        return None
    return f"{year:04d}{month:02d}{day:02d}"


def normalize_date_of_birth(
    value: str | date, *, day_first: bool = True, today: date | None = None
) -> str | None:
    """``YYYYMMDD`` from ISO, compact, day-first or month-first dates, or a date object.

    ``31/01/1990`` and ``01/31/1990`` are read in the configured order (``day_first``); when
    that reading is not a real date but the other one is (``2/16/1997`` with day_first), the
    other one is used: the input cannot mean anything else.
    """
    today = today or date.today()
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return _valid_date(value.year, value.month, value.day, today)
    text = value.strip()
    fast = _fixed_width_date(text, day_first, today)
    if fast != _NOT_FIXED_WIDTH:
        return fast
    return _date_of_birth_text(text, day_first, today)


_NOT_FIXED_WIDTH = ""  # never a normalized date, which is eight digits or None
_DATE_SEPARATORS = frozenset("-/.")


def _fixed_width_date(text: str, day_first: bool, today: date) -> str | None:
    """The three common shapes (``YYYYMMDD``, ``YYYY-MM-DD``, ``DD/MM/YYYY``) by slicing.

    Same answer as the patterns in _date_of_birth_text, which stay the general path;
    ``_NOT_FIXED_WIDTH`` for any other text.
    """
    length = len(text)
    if not text.isascii():  # isdigit() also takes other scripts' digits; [0-9] does not
        return _NOT_FIXED_WIDTH
    if length == 8:
        if text.isdigit():
            return _valid_digits(text[:4], text[4:6], text[6:], today)
        return _NOT_FIXED_WIDTH
    if length != 10:
        return _NOT_FIXED_WIDTH
    if text[4] in _DATE_SEPARATORS and text[7] in _DATE_SEPARATORS:
        year, month, day = text[:4], text[5:7], text[8:]
        if year.isdigit() and month.isdigit() and day.isdigit():
            return _valid_digits(year, month, day, today)
    elif text[2] in _DATE_SEPARATORS and text[5] in _DATE_SEPARATORS:
        first, second, year = text[:2], text[3:5], text[6:]
        if first.isdigit() and second.isdigit() and year.isdigit():
            if not day_first:
                first, second = second, first
            return _valid_digits(year, second, first, today) or _valid_digits(
                year, first, second, today
            )
    return _NOT_FIXED_WIDTH


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_digits(year: str, month: str, day: str, today: date) -> str | None:
    """_valid_date for 4, 2 and 2 ASCII digits, without building a date or formatting one."""
    y, m, d = int(year), int(month), int(day)
    if y < 1900 or y > today.year or not 1 <= m <= 12 or d < 1:
        return None
    if d > _DAYS_IN_MONTH[m] and not (
        m == 2 and d == 29 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    ):
        return None
    if y == today.year and (m > today.month or (m == today.month and d > today.day)):
        return None
    return year + month + day


def _date_of_birth_text(text: str, day_first: bool, today: date) -> str | None:
    """normalize_date_of_birth for stripped text, by pattern: the general path."""
    match = _DOB_COMPACT.fullmatch(text) or _DOB_YMD.fullmatch(text)
    if match:
        return _valid_date(int(match[1]), int(match[2]), int(match[3]), today)
    match = _DOB_XXY.fullmatch(text)
    if match:
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        day, month = (first, second) if day_first else (second, first)
        return _valid_date(year, month, day, today) or _valid_date(year, day, month, today)
    return None


def normalize_external_id(value: str) -> str | None:
    """Trimmed; the id is an opaque advertiser key, so case and inner content are kept."""
    text = value.strip()
    return text or None
