"""Per-field normalization tables and normalize_user behaviour.

Meta's rules per key: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters
"""

from __future__ import annotations

from datetime import date, datetime
from hashlib import sha256

import pytest

from trackside.events import User
from trackside.identity import (
    NormalizedUser,
    normalize_city,
    normalize_country,
    normalize_date_of_birth,
    normalize_email,
    normalize_gender,
    normalize_ip,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_user,
    normalize_zip,
)

NOW_MS = 1_795_000_000_000  # 2026-11-18
TODAY = date(2026, 11, 22)


def h(text: str) -> str:
    return sha256(text.encode("utf-8")).hexdigest()


# -- Meta's documented examples (customer information parameters page) ----------------------


@pytest.mark.parametrize(
    ("user", "key", "expected"),
    [
        (User(email="John_Smith@gmail.com"), "em",
         "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
        (User(phone="(650)555-1212", country="US"), "ph",
         "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
        (User(country="United States"), "country",
         "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
        (User(first_name="Mary"), "fn",
         "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
        (User(first_name="정"), "fn",
         "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
        (User(last_name="Valéry"), "ln",
         "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
        # "2/16/1997" is month-first; with the default day_first it is still unambiguous.
        (User(date_of_birth="2/16/1997"), "db",
         "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"),
        (User(gender="f"), "ge",
         "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
    ],
)  # fmt: skip
def test_meta_documented_example_hashes(user: User, key: str, expected: str) -> None:
    assert normalize_user(user, now_ms=NOW_MS).user_data[key] == [expected]


def test_valery_decomposed_input_hashes_like_metas_example() -> None:
    # "e" + COMBINING ACUTE ACCENT: NFC makes it the same bytes as Meta's example.
    result = normalize_user(User(last_name="Vale\u0301ry"))
    assert result.user_data["ln"] == [h("valéry")]


# -- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John_Smith@gmail.com", "john_smith@gmail.com"),
        ("  ANNA.Muller@Example.DE \t", "anna.muller@example.de"),
        ("élodie@exemple.fr", "élodie@exemple.fr"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
        ("not-an-email", None),
        ("john@localhost", None),
        ("a@b@c.de", None),
        ("john smith@x.com", None),
        ("@example.com", None),
        ("john@.com", None),
        ("", None),
    ],
)
def test_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


# -- phone -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # France
        ("06 12 34 56 78", "fr", "33612345678"),
        ("01.23.45.67.89", "fr", "33123456789"),
        ("+33 6 12 34 56 78", None, "33612345678"),
        ("+33 (0)6 12 34 56 78", None, "33612345678"),
        ("0033 6 12 34 56 78", "us", "33612345678"),
        ("33612345678", "fr", "33612345678"),
        # Germany
        ("030 12345678", "de", "493012345678"),
        ("0171 1234567", "de", "491711234567"),
        ("+49 (0) 171 1234567", None, "491711234567"),
        # United Kingdom
        ("020 7946 0958", "gb", "442079460958"),
        ("07911 123456", "gb", "447911123456"),
        ("+44 7911 123456", "fr", "447911123456"),
        ("0044 844 412 4653", None, "448444124653"),
        # Spain (no trunk prefix)
        ("612 34 56 78", "es", "34612345678"),
        ("91 123 45 67", "es", "34911234567"),
        # Italy (landlines keep their leading 0 after +39)
        ("06 6982 1234", "it", "390669821234"),
        ("345 123 4567", "it", "393451234567"),
        # United States
        ("(650)555-1212", "us", "16505551212"),
        ("+1 (650) 555-1212", None, "16505551212"),
        ("1-212-555-0123", "us", "12125550123"),
        ("212.555.0123", "us", "12125550123"),
        ("1-800-FLOWERS", "us", "18003569377"),
        # Belgium, Netherlands
        ("0470 12 34 56", "be", "32470123456"),
        ("06-12345678", "nl", "31612345678"),
        # no region: only international forms can be read
        ("16505551212", None, "16505551212"),
        ("06 12 34 56 78", None, None),
        # invalid
        ("0612345678", "es", None),
        ("12", "fr", None),
        ("call me", "fr", None),
        ("", "fr", None),
        ("+999 123", None, None),
        # a region phonenumbers does not know: only international numbers can be read
        ("06 12 34 56 78", "zz", None),
        ("+33 6 12 34 56 78", "zz", "33612345678"),
        ("33612345678", "un", "33612345678"),
    ],
)
def test_phone(raw: str, region: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, region) == expected


def test_national_phone_takes_region_from_user_country_then_default() -> None:
    with_country = normalize_user(User(phone="06 12 34 56 78", country="France"))
    assert with_country.user_data["ph"] == [h("33612345678")]
    with_default = normalize_user(User(phone="06 12 34 56 78"), default_country="fr")
    assert with_default.user_data["ph"] == [h("33612345678")]
    # The user's own country beats the shop's default.
    german = normalize_user(User(phone="030 12345678", country="DE"), default_country="fr")
    assert german.user_data["ph"] == [h("493012345678")]
    unknown = normalize_user(User(phone="06 12 34 56 78"))
    assert "ph" not in unknown.user_data
    assert unknown.warnings == [NO_COUNTRY.format(label="user.phone")]


NO_COUNTRY = ("{label}: not a valid international phone number (a national number needs"
              " user.country or TRACKSIDE_DEFAULT_COUNTRY), dropped")


def test_a_national_phone_dropped_for_lack_of_a_country_names_the_setting() -> None:
    # One of a list: its own index; the international one beside it is kept.
    both = normalize_user(User(phone=["+33 6 12 34 56 78", "06 12 34 56 78"]))
    assert both.user_data["ph"] == [h("33612345678")]
    assert both.warnings == [NO_COUNTRY.format(label="user.phone[1]")]
    # With a country (the user's or the default) a phone that is still wrong is just invalid:
    # no setting would help, so none is named.
    for user, default in ((User(phone="12", country="fr"), None), (User(phone="12"), "fr")):
        invalid = normalize_user(user, default_country=default)
        assert invalid.warnings == ["user.phone: not a valid phone number, dropped"]


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mary", "mary"),
        ("  JOHN ", "john"),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("Jean-Luc", "jeanluc"),
        ("Valéry", "valéry"),
        ("Vale\u0301ry", "valéry"),
        ("François", "françois"),
        ("Müller", "müller"),
        ("Ñúñez", "ñúñez"),
        ("Łukasz", "łukasz"),
        ("정", "정"),
        ("Дмитрий", "дмитрий"),
        ("Ἀλέξανδρος", "ἀλέξανδρος"),
        ("Mary  Ann", "mary ann"),
        ("St. John-Smith", "st johnsmith"),
        ("Dr. (Smith)", "dr smith"),
        ("'-.", None),
        ("   ", None),
    ],
)
def test_name(raw: str, expected: str | None) -> None:
    assert normalize_name(raw) == expected


# -- date of birth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "day_first", "expected"),
    [
        ("1990-01-31", True, "19900131"),
        ("1990-1-5", True, "19900105"),
        ("1990-01-31T00:00:00", True, "19900131"),
        ("1990-01-31 00:00:00", True, "19900131"),
        ("1990/01/31", True, "19900131"),
        ("19900131", True, "19900131"),
        ("31/01/1990", True, "19900131"),
        ("31.01.1990", True, "19900131"),
        ("31-01-1990", True, "19900131"),
        ("01/31/1990", False, "19900131"),
        ("02/03/1990", True, "19900302"),
        ("02/03/1990", False, "19900203"),
        ("2/16/1997", True, "19970216"),  # only one reading is a date
        ("16/2/1997", False, "19970216"),
        ("1899-12-31", True, None),
        ("2027-01-01", True, None),  # after "today"
        ("2026-12-01", True, None),  # this year but in the future
        ("1990-02-30", True, None),
        ("1990-13-01", True, None),
        ("31/13/1990", True, None),
        ("0000-00-00", True, None),
        ("31/01/90", True, None),  # two-digit years are ambiguous
        ("yesterday", True, None),
        ("", True, None),
    ],
)
def test_date_of_birth(raw: str, day_first: bool, expected: str | None) -> None:
    assert normalize_date_of_birth(raw, day_first=day_first, today=TODAY) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(date(1990, 1, 31), "19900131"), (datetime(1985, 7, 4, 12, 30), "19850704")],
)
def test_date_of_birth_objects(value: date, expected: str) -> None:
    assert normalize_date_of_birth(value, today=TODAY) == expected


def test_date_object_through_normalize_user() -> None:
    user = User.model_construct(date_of_birth=date(1990, 1, 31))
    assert normalize_user(user).user_data["db"] == [h("19900131")]


def test_day_first_flag_reaches_the_normalizer() -> None:
    user = User(date_of_birth="02/03/1990")
    assert normalize_user(user).user_data["db"] == [h("19900302")]
    assert normalize_user(user, day_first=False).user_data["db"] == [h("19900203")]


def test_prestashop_zero_date_is_dropped_with_a_warning() -> None:
    result = normalize_user(User(date_of_birth="0000-00-00"))
    assert "db" not in result.user_data
    assert result.warnings == ["user.date_of_birth: empty date placeholder, dropped"]


# -- gender ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(word, "f") for word in ("f", "F", "female", "Female", "woman", "Mme", "Mme.",
                                   "Mrs", "Ms", "Miss", "Madame", "Mademoiselle", "Frau",
                                   "femme", "Señora", "Sra.", "donna", "weiblich")],
        *[(word, "m") for word in ("m", "M", "M.", "male", "MALE", "man", "Mr", "Mr.",
                                   "Monsieur", "Herr", "homme", "Señor", "Sr.", "uomo",
                                   "männlich")],
        ("x", None),
        ("non-binary", None),
        ("", None),
    ],
)  # fmt: skip
def test_gender(raw: str, expected: str | None) -> None:
    assert normalize_gender(raw) == expected


# -- city, state, zip --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("New York", "newyork"),
        ("Paris", "paris"),
        ("Saint-Étienne", "saintétienne"),
        ("Zürich", "zürich"),
        ("L'Haÿ-les-Roses", "lhaÿlesroses"),
        ("Paris 18e Arrondissement", "parisearrondissement"),
        ("Frankfurt am Main", "frankfurtammain"),
        ("서울", "서울"),
        ("St. Louis", "stlouis"),
        ("75018", None),
        ("", None),
    ],
)
def test_city(raw: str, expected: str | None) -> None:
    assert normalize_city(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CA", "ca"),
        ("ca", "ca"),
        ("California", "ca"),
        ("new york", "ny"),
        ("New-York", "ny"),
        ("District of Columbia", "dc"),
        ("West Virginia", "wv"),
        ("Québec", "qc"),
        ("Quebec", "qc"),
        ("British Columbia", "bc"),
        ("Ontario", "on"),
        ("Newfoundland and Labrador", "nl"),
        ("Yukon", "yt"),
        ("Île-de-France", "îledefrance"),
        ("Bayern", "bayern"),
        ("N.Y.", "ny"),
        ("13", "13"),
        ("...", None),
    ],
)
def test_state(raw: str, expected: str | None) -> None:
    assert normalize_state(raw) == expected


def test_every_us_state_and_canadian_province_is_mapped() -> None:
    from trackside.identity.geo import _CA_PROVINCES, _US_STATES

    us_codes = {code for code in _US_STATES.values()}
    # All 50 states + DC, and all 13 provinces and territories.
    assert len(us_codes - {"pr", "gu", "vi", "as", "mp"}) == 51
    assert set(_CA_PROVINCES.values()) == {
        "ab", "bc", "mb", "nb", "nl", "ns", "on", "pe", "qc", "sk", "nt", "nu", "yt"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("94035", "us", "94035"),
        ("94035-1234", "us", "94035"),
        ("940351234", "us", "94035"),
        ("94035-1234", None, "94035"),
        ("94035-1234", "fr", "94035"),
        ("75018", "fr", "75018"),
        (" 75 018 ", "fr", "75018"),
        ("SW1A 1AA", "gb", "sw1a1aa"),
        ("M1 1AE", "gb", "m11ae"),
        ("1234-567", "pt", "1234567"),
        ("H2X 1Y4", "ca", "h2x1y4"),
        ("10115", "de", "10115"),
        ("--", None, None),
    ],
)
def test_zip(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_zip(raw, country) == expected


def test_zip_uses_the_users_country() -> None:
    result = normalize_user(User(zip="940351234", country="US"))
    assert result.user_data["zp"] == [h("94035")]


# -- country -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("us", "us"),
        ("US", "us"),
        ("United States", "us"),
        ("United States of America", "us"),
        ("USA", "us"),
        ("U.S.A.", "us"),
        ("France", "fr"),
        ("FRA", "fr"),
        ("fr", "fr"),
        ("UK", "gb"),
        ("United Kingdom", "gb"),
        ("GBR", "gb"),
        ("Royaume-Uni", "gb"),
        ("Deutschland", "de"),
        ("Allemagne", "de"),
        ("Alemania", "de"),
        ("DEU", "de"),
        ("España", "es"),
        ("Espagne", "es"),
        ("Spanien", "es"),
        ("Italie", "it"),
        ("Italien", "it"),
        ("Italia", "it"),
        ("Belgique", "be"),
        ("Belgien", "be"),
        ("Bélgica", "be"),
        ("Pays-Bas", "nl"),
        ("Niederlande", "nl"),
        ("Países Bajos", "nl"),
        ("Österreich", "at"),
        ("Autriche", "at"),
        ("Suisse", "ch"),
        ("Irlande", "ie"),
        ("Grèce", "gr"),
        ("Griechenland", "gr"),
        ("Pologne", "pl"),
        ("Suecia", "se"),
        ("Dänemark", "dk"),
        ("Luxemburgo", "lu"),
        ("Portugal", "pt"),
        ("Tchéquie", "cz"),
        ("Korea, Republic of", "kr"),
        ("xx", None),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_country(raw: str, expected: str | None) -> None:
    assert normalize_country(raw) == expected


# -- IP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("168.212.226.204", "168.212.226.204"),
        (" 168.212.226.204 ", "168.212.226.204"),
        ("168.212.226.204:5678", "168.212.226.204"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8:85a3::8a2e:370:7334"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("fe80::1%eth0", "fe80::1"),
        ("168.212.226.204.ABcDEFGh", "168.212.226.204.ABcDEFGh"),
        ("1.2.3", None),
        ("256.1.1.1", None),
        ("8.8.8.8, 10.0.0.1", None),
        ("1.2.3.4.12345678", None),
        ("a" * 64, None),
        ("localhost", None),
    ],
)
def test_ip(raw: str, expected: str | None) -> None:
    assert normalize_ip(raw)[0] == expected


def test_hashed_ip_is_never_sent() -> None:
    result = normalize_user(User(ip=h("1.2.3.4")))
    assert "client_ip_address" not in result.user_data
    assert result.warnings == ["user.ip: looks hashed; Meta requires the IP in clear, dropped"]


def test_private_ip_is_sent_with_a_warning() -> None:
    result = normalize_user(User(ip="10.0.0.7"))
    assert result.user_data["client_ip_address"] == "10.0.0.7"
    assert result.warnings == ["user.ip: not a public address (a proxy's?), sent anyway"]


# -- normalize_user ----------------------------------------------------------------------------


FULL_USER = User(
    email=["John_Smith@gmail.com", " john_smith@GMAIL.com"],
    phone="06 12 34 56 78",
    first_name="Jean-Luc",
    last_name="O'Brien",
    date_of_birth="31/01/1990",
    gender="Monsieur",
    city="Saint-Étienne",
    state="Loire",
    zip="42000",
    country="France",
    external_id=" cust-42 ",
    ip="2a01:cb00::1",
    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
    fbp="fb.1.1596403881668.1116446470",
    fbc="fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
    ga_client_id="GA1.1.1197596843.1673515099",
    ga_session_id="GS1.1.1673515099.3.1.1673515200.0.0.0",
    lead_id="123456789012345",
)


def test_full_user() -> None:
    result = normalize_user(FULL_USER, now_ms=NOW_MS)
    assert isinstance(result, NormalizedUser)
    assert result.warnings == []
    assert result.country == "fr"
    assert result.ga_client_id == "1197596843.1673515099"
    assert result.ga_session_id == "1673515099"
    data = result.user_data
    assert data == {
        "em": [h("john_smith@gmail.com")],  # two spellings, one address: de-duplicated
        "ph": [h("33612345678")],
        "fn": [h("jeanluc")],
        "ln": [h("obrien")],
        "db": [h("19900131")],
        "ge": [h("m")],
        "ct": [h("saintétienne")],
        "st": [h("loire")],
        "zp": [h("42000")],
        "country": [h("fr")],
        "external_id": [h("cust-42")],
        "client_ip_address": "2a01:cb00::1",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbp": "fb.1.1596403881668.1116446470",
        "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
        "lead_id": "123456789012345",
    }


def test_empty_user_gives_empty_result() -> None:
    result = normalize_user(User())
    assert result == NormalizedUser(user_data={}, warnings=[])


def test_hashed_lists_are_sorted_and_deduplicated() -> None:
    result = normalize_user(User(email=["b@example.com", "a@example.com", "B@example.com"]))
    assert result.user_data["em"] == sorted([h("a@example.com"), h("b@example.com")])


def test_already_hashed_values_pass_through_lowercased() -> None:
    digest = h("john_smith@gmail.com")
    fields = ("email", "phone", "first_name", "last_name", "date_of_birth", "gender", "city",
              "state", "zip", "country", "external_id")  # fmt: skip
    result = normalize_user(User(**{name: digest.upper() for name in fields}))
    assert result.warnings == []
    keys = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id")
    for key in keys:
        assert result.user_data[key] == [digest]


def test_parameter_builder_appendix_passes_through() -> None:
    value = h("john_smith@gmail.com") + ".ABcDEFGh"
    assert normalize_user(User(email=value)).user_data["em"] == [value]


def test_external_id_in_clear_when_configured() -> None:
    result = normalize_user(User(external_id=[" Cust-42 ", "7"]), hash_external_id=False)
    assert result.user_data["external_id"] == ["7", "Cust-42"]


def test_numeric_external_id_is_hashed_as_text() -> None:
    assert normalize_user(User(external_id=42)).user_data["external_id"] == [h("42")]


def test_fbclid_builds_fbc_when_no_cookie() -> None:
    result = normalize_user(User(fbclid="IwZXh0bgNhZW0CMTAAAR-uK_5w"), now_ms=NOW_MS)
    assert result.user_data["fbc"] == f"fb.1.{NOW_MS}.IwZXh0bgNhZW0CMTAAAR-uK_5w"


def test_fbclid_matching_the_cookie_keeps_the_cookie() -> None:
    fbc = "fb.1.1554763741205.IwAR2F4-dbP0l7Mn.AQICAQMC"
    result = normalize_user(User(fbc=fbc, fbclid="IwAR2F4-dbP0l7Mn"), now_ms=NOW_MS)
    assert result.user_data["fbc"] == fbc


def test_newer_fbclid_replaces_the_cookie() -> None:
    # A different fbclid in the URL means a new click: rewrite _fbc only then
    # (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc).
    fbc = "fb.1.1554763741205.OldClick"
    result = normalize_user(User(fbc=fbc, fbclid="NewClick"), now_ms=NOW_MS)
    assert result.user_data["fbc"] == f"fb.1.{NOW_MS}.NewClick"


def test_fbclid_without_now_uses_the_clock() -> None:
    fbc = normalize_user(User(fbclid="abc")).user_data["fbc"]
    assert fbc.startswith("fb.1.") and fbc.endswith(".abc") and len(fbc.split(".")[2]) == 13


@pytest.mark.parametrize(
    ("user", "warning"),
    [
        (User(email="nope"), "user.email: not an email address, dropped"),
        (User(email=["a@b.co", "nope"]), "user.email[1]: not an email address, dropped"),
        (User(phone="12"), NO_COUNTRY.format(label="user.phone")),
        (User(first_name="--"), "user.first_name: no letters left after normalization, dropped"),
        (User(gender="x"), "user.gender: not a recognized gender (f/m), dropped"),
        (User(city="75018"), "user.city: no letters left after normalization, dropped"),
        (User(country="Atlantis"),
         "user.country: not a known country (ISO 3166-1 code or name), dropped"),
        (User(ip="1.2.3"), "user.ip: not a valid IPv4 or IPv6 address, dropped"),
        (User(fbc="fb.1.1554763741205"),
         "user.fbc: not a valid _fbc value (fb.<n>.<ms>.<fbclid>), dropped"),
        (User(fbp="fb.1.123.abc"),
         "user.fbp: not a valid _fbp value (fb.<n>.<ms>.<digits>), dropped"),
        (User(fbclid="has space"),
         "user.fbclid: not a valid fbclid (letters, digits, - and _), dropped"),
        (User(lead_id="12345"), "user.lead_id: not a Lead Ads id (15-17 digits), dropped"),
        (User(ga_client_id="GA1.1.x"),
         "user.ga_client_id: not a _ga cookie or client id, dropped"),
        (User(ga_session_id="GS9.nope"),
         "user.ga_session_id: not a _ga_<stream> cookie or session id, dropped"),
    ],
)  # fmt: skip
def test_warnings_name_the_field_and_reason(user: User, warning: str) -> None:
    result = normalize_user(user)
    assert result.warnings == [warning]


def test_warnings_never_contain_the_personal_value() -> None:
    secret_values = ["secret.person@nowhere", "0999 999", "9999-99-99", "Zzgender",
                     "Atlantisland", "300.1.1.1", "fb.secret", "9876"]  # fmt: skip
    user = User(email=secret_values[0], phone=secret_values[1], date_of_birth=secret_values[2],
                gender=secret_values[3], country=secret_values[4], ip=secret_values[5],
                fbc=secret_values[6], lead_id=secret_values[7])  # fmt: skip
    result = normalize_user(user)
    assert len(result.warnings) == 8
    text = " ".join(result.warnings)
    for value in secret_values:
        assert value not in text


def test_country_in_clear_for_consent_only() -> None:
    assert normalize_user(User(country="Deutschland")).country == "de"
    assert normalize_user(User(country=["Atlantis", "FRA"])).country == "fr"
    assert normalize_user(User(country=h("fr"))).country is None
    assert normalize_user(User(), default_country="fr").country is None


def test_ga_client_id_accepts_cookie_or_extracted_id() -> None:
    assert normalize_user(User(ga_client_id="1197596843.1673515099")).ga_client_id == (
        "1197596843.1673515099"
    )
    assert normalize_user(User(ga_client_id="GA1.2.1197596843.1673515099")).ga_client_id == (
        "1197596843.1673515099"
    )


def test_ga_session_id_accepts_gs2_cookie_or_id() -> None:
    gs2 = "GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0"
    assert normalize_user(User(ga_session_id=gs2)).ga_session_id == "1747132561"
    assert normalize_user(User(ga_session_id="1747132561")).ga_session_id == "1747132561"


@pytest.mark.parametrize(
    "contents",
    [
        {"email": 12},
        {"email": [None, object()]},
        {"phone": {"a": 1}},
        {"date_of_birth": [date(1800, 1, 1)]},
        {"ip": 1234},
        {"fbc": ["fb.1.1554763741205.x"]},
        {"ga_client_id": b"GA1.1.1.2"},
        {"country": [3.5]},
        {"first_name": True},
    ],
)
def test_never_raises_on_constructed_garbage(contents: dict) -> None:
    result = normalize_user(User.model_construct(**contents))
    assert result.warnings
    assert all(w.startswith("user.") for w in result.warnings)


def test_accepts_a_plain_mapping() -> None:
    assert normalize_user({"email": "a@b.co"}).user_data["em"] == [h("a@b.co")]
