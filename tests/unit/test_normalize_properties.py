"""Property tests: normalizers never raise, are idempotent, and hashes are 64 lowercase hex."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackside.events import User
from trackside.identity import (
    normalize_city,
    normalize_country,
    normalize_date_of_birth,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_ip,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_user,
    normalize_zip,
)
from trackside.identity.normalize import HASHED_KEYS

HEX64 = re.compile(r"[0-9a-f]{64}")
TODAY = date(2026, 11, 22)
REGIONS = st.sampled_from([None, "fr", "de", "gb", "es", "it", "us", "be", "ch", "nl", "zz"])

# Arbitrary Unicode plus text shaped like the field, so both garbage and near-misses are hit.
any_text = st.text(max_size=40)
phone_like = st.from_regex(r"\A(\+|00)?[0-9 ()./-]{0,16}\Z")
date_like = st.from_regex(r"\A[0-9]{1,4}[-/. ]?[0-9]{1,2}[-/. ]?[0-9]{1,4}\Z")
email_like = st.from_regex(r"\A[^@]{0,8}@[^@]{0,8}\.[a-zA-Z]{0,4}\Z")
ip_like = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"{a}:{443}"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]:8080"),
)

SIMPLE_NORMALIZERS = [
    normalize_email,
    normalize_name,
    normalize_city,
    normalize_state,
    normalize_country,
    normalize_gender,
    normalize_external_id,
]


@given(any_text)
def test_simple_normalizers_never_raise_and_are_idempotent(text: str) -> None:
    for normalizer in SIMPLE_NORMALIZERS:
        once = normalizer(text)
        if once is not None:
            assert normalizer(once) == once, normalizer.__name__


@given(st.one_of(any_text, email_like))
def test_email(text: str) -> None:
    once = normalize_email(text)
    if once is not None:
        assert normalize_email(once) == once
        assert once == once.strip().lower()


@given(st.one_of(any_text, phone_like), REGIONS)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_phone_never_raises_and_is_idempotent(text: str, region: str | None) -> None:
    once = normalize_phone(text, region)
    if once is not None:
        assert once.isascii() and once.isdigit() and not once.startswith("0")
        # E.164 digits read back as themselves without a region and with the number's own
        # region (under a foreign region they are ambiguous: see normalize_phone).
        assert normalize_phone(once, None) == once
        assert normalize_phone(once, _region_of(once)) == once


def _region_of(e164: str) -> str | None:
    import phonenumbers

    region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + e164))
    return region.lower() if region and region != "001" else None


@given(st.one_of(any_text, date_like), st.booleans())
def test_date_of_birth_never_raises_and_is_idempotent(text: str, day_first: bool) -> None:
    once = normalize_date_of_birth(text, day_first=day_first, today=TODAY)
    if once is not None:
        assert re.fullmatch(r"(19|20)[0-9]{6}", once)
        assert normalize_date_of_birth(once, day_first=day_first, today=TODAY) == once


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_every_real_date_round_trips(born: date) -> None:
    expected = born.strftime("%Y%m%d")
    assert normalize_date_of_birth(born.isoformat(), today=TODAY) == expected
    assert normalize_date_of_birth(born.strftime("%d/%m/%Y"), today=TODAY) == expected
    assert normalize_date_of_birth(born.strftime("%m/%d/%Y"), day_first=False, today=TODAY) == (
        expected
    )


@given(st.one_of(any_text, st.from_regex(r"\A[0-9]{5}(-[0-9]{4})?\Z")), st.sampled_from(
    [None, "us", "gb", "fr"]))  # fmt: skip
def test_zip_never_raises_and_is_idempotent(text: str, country: str | None) -> None:
    once = normalize_zip(text, country)
    if once is not None:
        assert normalize_zip(once, country) == once
        assert " " not in once and "-" not in once


@given(st.one_of(any_text, ip_like))
def test_ip_never_raises_and_is_idempotent(text: str) -> None:
    once, _public = normalize_ip(text)
    if once is not None:
        assert normalize_ip(once)[0] == once


def _field_values() -> st.SearchStrategy:
    scalar = st.one_of(st.none(), any_text, phone_like, date_like, email_like)
    return st.one_of(scalar, st.lists(any_text, max_size=3))


user_strategy = st.builds(
    User,
    email=_field_values(),
    phone=_field_values(),
    first_name=_field_values(),
    last_name=_field_values(),
    date_of_birth=_field_values(),
    gender=_field_values(),
    city=_field_values(),
    state=_field_values(),
    zip=_field_values(),
    country=st.one_of(st.none(), any_text, st.sampled_from(["France", "US", "DEU", "uk"])),
    external_id=_field_values(),
    ip=st.one_of(st.none(), any_text, ip_like),
    user_agent=st.one_of(st.none(), any_text),
    fbp=st.one_of(st.none(), any_text),
    fbc=st.one_of(st.none(), any_text),
    fbclid=st.one_of(st.none(), any_text),
    ga_client_id=st.one_of(st.none(), any_text),
    ga_session_id=st.one_of(st.none(), any_text),
    lead_id=st.one_of(st.none(), any_text, st.from_regex(r"\A[0-9]{14,18}\Z")),
)


@given(user_strategy, REGIONS, st.booleans(), st.booleans())
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
def test_normalize_user_never_raises_and_hashes_are_hex(
    user: User, default_country: str | None, day_first: bool, hash_external_id: bool
) -> None:
    result = normalize_user(
        user,
        default_country=default_country,
        day_first=day_first,
        hash_external_id=hash_external_id,
        now_ms=1_795_000_000_000,
    )
    for key in HASHED_KEYS:
        values = result.user_data.get(key)
        if values is None:
            continue
        assert values == sorted(set(values)) and values
        if key == "external_id" and not hash_external_id:
            continue
        for value in values:
            assert HEX64.fullmatch(value), (key, value)
    for key in ("client_ip_address", "client_user_agent", "fbc", "fbp", "lead_id"):
        if key in result.user_data:
            assert isinstance(result.user_data[key], str) and result.user_data[key]
    for warning in result.warnings:
        assert warning.startswith("user.")


def _example_numbers() -> list[tuple[str, str, str, str]]:
    """(region, national format, international format, E.164 digits) for every region."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None or not phonenumbers.is_valid_number(number):
                continue
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
            cases.append((
                region.lower(),
                phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
                phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
                e164,
            ))  # fmt: skip
    return cases


EXAMPLES = _example_numbers()


def test_every_regions_example_numbers_normalize_to_e164() -> None:
    assert len(EXAMPLES) > 400
    failures = []
    for region, national, international, e164 in EXAMPLES:
        for text, used_region in ((national, region), (international, None),
                                  (international, "us"), (e164, region), (e164, None)):  # fmt: skip
            if normalize_phone(text, used_region) != e164:
                failures.append((region, text, used_region))
    assert failures == []


ALL_REGIONS = st.sampled_from([*sorted(__import__("phonenumbers").SUPPORTED_REGIONS), "ZZ"])


@given(st.from_regex(r"\A\+?[0-9]{1,17}\Z"), st.one_of(st.none(), ALL_REGIONS))
@settings(max_examples=400)
def test_fast_phone_path_agrees_with_the_library(digits: str, region: str | None) -> None:
    from trackside.identity.phone import _e164_digits
    from trackside.identity.phone_fast import UNSURE, fast_e164_digits

    if region is None and not digits.startswith("+"):
        digits = "+" + digits
    fast = fast_e164_digits(digits, region)
    if fast is not UNSURE:
        assert fast == _e164_digits(digits, region)


def test_fast_phone_path_agrees_on_every_example_number() -> None:
    from trackside.identity.phone import _e164_digits
    from trackside.identity.phone_fast import UNSURE, fast_e164_digits

    checked = 0
    for region, national, _international, e164 in EXAMPLES:
        for digits, used in (("+" + e164, None), (re.sub(r"[^0-9]", "", national), region.upper())):
            fast = fast_e164_digits(digits, used)
            if fast is not UNSURE:
                checked += 1
                assert fast == _e164_digits(digits, used), (digits, used)
    assert checked > 800


# Fast paths against the general path they shortcut (issue 17): the general path is the
# reference, so each fast path must give exactly its answer on any input.
latin_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F), max_size=30
)


@given(st.one_of(any_text, latin_text))
def test_fast_unicode_name_and_city_paths_agree_with_the_category_test(text: str) -> None:
    from trackside.identity.fields import (
        _lower_nfc,
        _unicode_city,
        _unicode_keep,
        _unicode_name,
    )

    assert _unicode_name(text) == _unicode_keep(_lower_nfc(text), "LMNZ")
    assert _unicode_city(text) == _unicode_keep(_lower_nfc(text), "LM")


@given(user_strategy, REGIONS, st.booleans())
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
def test_inlined_single_string_path_agrees_with_the_list_path(
    user: User, default_country: str | None, hash_external_id: bool
) -> None:
    # normalize_user inlines the one-short-string case; a one-element list takes the general
    # per-value path (_hash_value), which must produce the same user_data.
    as_lists = user.model_copy(
        update={
            name: [value]
            for name, value in user.__dict__.items()
            if isinstance(value, str) and name in _LISTABLE
        }
    )
    options: dict[str, Any] = {
        "default_country": default_country,
        "hash_external_id": hash_external_id,
        "now_ms": 1_795_000_000_000,
    }
    fast = normalize_user(user, **options)
    general = normalize_user(as_lists, **options)
    assert fast.user_data == general.user_data
    assert len(fast.warnings) == len(general.warnings)


_LISTABLE = {
    "email", "phone", "first_name", "last_name", "date_of_birth", "gender", "city", "state",
    "zip", "country", "external_id",
}  # fmt: skip


@given(st.integers(min_value=-2_000_000_000_000, max_value=250_000_000_000_000))
def test_utc_date_is_the_date_of_the_utc_datetime(now_ms: int) -> None:
    from datetime import UTC, datetime

    from trackside.identity.normalize import utc_date

    assert utc_date(now_ms) == datetime.fromtimestamp(now_ms / 1000, tz=UTC).date()


# Phone fast paths of the third pass (issue 17).
phone_text = st.one_of(
    phone_like,
    st.text(alphabet="+0123456789 ()./-\u00a0x٣", max_size=20),
    any_text,
)


@given(phone_text)
def test_translate_digits_agree_with_the_separator_patterns(text: str) -> None:
    from trackside.identity.phone import _SEPARATORS, _SIMPLE, _digits_only

    expected = _SEPARATORS.sub("", text) if _SIMPLE.fullmatch(text) else None
    assert _digits_only(text) == expected


def _mutated_examples() -> st.SearchStrategy[tuple[str, str | None]]:
    """Example numbers with digits changed, added or removed: near-valid numbers of a region,
    national or international, where random digit strings are almost never valid."""

    def mutate(case: tuple[str, str, str, str], draw: st.DrawFn) -> tuple[str, str | None]:
        region, national, _international, e164 = case
        international = draw(st.booleans())
        digits = "+" + e164 if international else re.sub(r"[^0-9]", "", national)
        tail = draw(st.text(alphabet="0123456789", max_size=3))
        cut = draw(st.integers(min_value=0, max_value=3))
        digits = digits[: len(digits) - cut] + tail
        return digits, (None if international else region.upper())

    @st.composite
    def strategy(draw: st.DrawFn) -> tuple[str, str | None]:
        return mutate(draw(st.sampled_from(EXAMPLES)), draw)

    return strategy()


@given(_mutated_examples())
@settings(max_examples=600)
def test_fast_phone_path_agrees_with_the_library_near_valid_numbers(
    case: tuple[str, str | None],
) -> None:
    from trackside.identity.phone import _e164_digits
    from trackside.identity.phone_fast import UNSURE, fast_e164_digits

    digits, region = case
    fast = fast_e164_digits(digits, region)
    if fast is not UNSURE:
        assert fast == _e164_digits(digits, region), (digits, region)


@given(_mutated_examples())
@settings(max_examples=300)
def test_combined_validity_pattern_agrees_with_the_separate_tests(
    case: tuple[str, str | None],
) -> None:
    from trackside.identity.phone_fast import _region

    digits, region = case
    nsn = digits.lstrip("+")
    for code in [region] if region else ["FR", "GB", "US", "DE", "IT", "JE", "CA"]:
        info = _region(code)
        assert info is not None
        for candidate in (nsn, nsn[1:], nsn[2:], nsn[3:]):
            assert info.valid(candidate) == info.valid_reference(candidate), (code, candidate)


@given(st.from_regex(r"\A\+(0[0-9]{0,16}|[1-9][0-9]?)?\Z"))
def test_plus_then_zero_or_too_short_is_invalid_like_the_library(digits: str) -> None:
    from trackside.identity.phone import _e164_digits
    from trackside.identity.phone_fast import fast_e164_digits

    assert fast_e164_digits(digits, None) is None
    assert _e164_digits(digits, None) is None


def test_ordinary_phone_numbers_take_the_fast_path() -> None:
    from trackside.identity.phone_fast import UNSURE, fast_e164_digits

    cases = [("0612345678", "FR"), ("+33612345678", None), ("6505550123", "US"),
             ("+16505550123", None), ("07911123456", "GB"), ("+447911123456", None),
             ("01711234567", "DE"), ("+491711234567", None), ("3451234567", "IT"),
             ("612345678", "ES"), ("0470123456", "BE"), ("0612345678", "NL"),
             ("+0612345678", None), ("+33612", None)]  # fmt: skip
    for digits, region in cases:
        assert fast_e164_digits(digits, region) is not UNSURE, (digits, region)


def _shapes(born: date) -> list[str]:
    y, m, d = f"{born.year:04d}", f"{born.month:02d}", f"{born.day:02d}"
    return [y + m + d, f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}"]


# Real dates in every shape, and their neighbours that are not dates (Feb 29 of any year,
# day 31 or 32 of any month, month 13).
near_dates = st.builds(
    lambda born, shape, day, month: _shapes(born)[shape]
    .replace(f"{born.day:02d}", day, 1)
    .replace(f"{born.month:02d}", month, 1),
    st.dates(min_value=date(1890, 1, 1), max_value=date(2100, 12, 31)),
    st.integers(min_value=0, max_value=4),
    st.sampled_from(["28", "29", "30", "31", "32", "00"]),
    st.sampled_from(["01", "02", "04", "12", "13", "00"]),
) | st.dates(min_value=date(1890, 1, 1), max_value=date(2100, 12, 31)).flatmap(
    lambda born: st.sampled_from(_shapes(born))
) | st.dates(min_value=date(2025, 10, 1), max_value=date(2027, 2, 1)).flatmap(
    lambda born: st.sampled_from(_shapes(born))  # around TODAY: the "not in the future" test
)

fixed_width_dates = st.one_of(
    near_dates,
    st.from_regex(r"\A[0-9]{8}\Z"),
    st.from_regex(r"\A[0-9]{4}[-/.][0-9]{2}[-/.][0-9]{2}\Z"),
    st.from_regex(r"\A[0-9]{2}[-/.][0-9]{2}[-/.][0-9]{4}\Z"),
    st.text(alphabet="0123456789-/. T٣", min_size=8, max_size=10),
    date_like,
    any_text,
)


@given(fixed_width_dates, st.booleans(), st.dates(min_value=date(1900, 1, 1)) | st.just(TODAY))
@settings(max_examples=1000)
def test_fixed_width_dates_agree_with_the_patterns(text: str, day_first: bool, today: date) -> None:
    from trackside.identity.fields import _NOT_FIXED_WIDTH, _date_of_birth_text, _fixed_width_date

    fast = _fixed_width_date(text, day_first, today)
    if fast != _NOT_FIXED_WIDTH:
        assert fast == _date_of_birth_text(text, day_first, today)


def test_ordinary_dates_take_the_fixed_width_path() -> None:
    from trackside.identity.fields import _NOT_FIXED_WIDTH, _fixed_width_date

    for text in ("1990-01-31", "31/01/1990", "01/31/1990", "19900131", "1990/01/31",
                 "31.01.1990", "2031-01-01", "1990-02-30"):  # fmt: skip
        assert _fixed_width_date(text, True, TODAY) != _NOT_FIXED_WIDTH, text
    assert _fixed_width_date("1990-1-31", True, TODAY) == _NOT_FIXED_WIDTH


@given(st.one_of(any_text, latin_text, st.text(alphabet="ab \t\u00a0\u2003.-'é", max_size=12)))
def test_one_word_name_shortcut_agrees_with_the_whitespace_collapse(text: str) -> None:
    from trackside.identity.fields import _NAME_ASCII_DROP, _WHITESPACE, _unicode_name

    kept = text.lower().translate(_NAME_ASCII_DROP) if text.isascii() else _unicode_name(text)
    assert normalize_name(text) == (_WHITESPACE.sub(" ", kept).strip() or None)


ascii_words = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=14),
    st.from_regex(r"\A[A-Za-z0-9]{1,10}\Z"),
    st.from_regex(r"\A[0-9]{5}(-?[0-9]{4})?\Z"),
)


@given(ascii_words, st.sampled_from([None, "us", "fr", "gb"]))
def test_one_ascii_word_shortcuts_agree_with_the_patterns(text: str, country: str | None) -> None:
    from trackside.identity.fields import _NOT_ASCII_ALNUM, _NOT_ASCII_LOWER, _US_ZIP, _ZIP_PLUS_4
    from trackside.identity.geo import _NOT_ASCII_LETTER, lookup_key, state_code

    assert lookup_key(text) == _NOT_ASCII_LETTER.sub("", text.lower())
    assert normalize_city(text) == (_NOT_ASCII_LOWER.sub("", text.lower()) or None)
    if state_code(lookup_key(text)) is None:
        assert normalize_state(text) == (_NOT_ASCII_ALNUM.sub("", text.lower()) or None)
    stripped = text.strip()
    match = (_US_ZIP if country == "us" else _ZIP_PLUS_4).fullmatch(stripped)
    expected = match.group(1) if match else (_NOT_ASCII_ALNUM.sub("", stripped.lower()) or None)
    assert normalize_zip(text, country) == expected
