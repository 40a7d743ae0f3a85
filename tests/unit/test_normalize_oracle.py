"""trackside against Meta's own SDK normalizer (facebook-business 26.0.3, ``Normalize.normalize``).

Table 1: inputs where Meta's documentation (customer information parameters,
https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters)
and the SDK agree — trackside must produce the
SDK's exact hash. Table 2: inputs where trackside deliberately differs, each with the reason;
both sides' actual outputs are pinned so a change on either side is noticed.
"""

from __future__ import annotations

from hashlib import sha256

import pytest

Normalize = pytest.importorskip(
    "facebook_business.adobjects.serverside.normalize", reason="test oracle"
).Normalize

from trackside.events import User  # noqa: E402
from trackside.identity import normalize_user  # noqa: E402

# Meta's user_data key → trackside's User field
FIELD = {"em": "email", "ph": "phone", "fn": "first_name", "ln": "last_name",
         "db": "date_of_birth", "ge": "gender", "ct": "city", "st": "state", "zp": "zip",
         "country": "country", "external_id": "external_id"}  # fmt: skip


def h(text: str) -> str:
    return sha256(text.encode("utf-8")).hexdigest()


def ours(key: str, value: str, country: str | None = None) -> list[str] | None:
    user = User(**{FIELD[key]: value}, **({"country": country} if country else {}))
    return normalize_user(user, now_ms=1_795_000_000_000).user_data.get(key)


AGREE = [
    ("em", "John_Smith@gmail.com"),
    ("em", " John_Smith@gmail.com "),
    ("em", "ANNA.Muller@Example.DE"),
    ("ph", "+1 (650) 555-1212"),
    ("ph", "+1 650 555 1212"),
    ("ph", "+33 6 12 34 56 78"),
    ("ph", "0044 844 412 4653"),
    ("ph", "16505551212"),
    ("fn", "Mary"),
    ("fn", "  JOHN "),
    ("fn", "정"),
    ("ln", "Valéry"),  # composed input: same bytes as Meta's example
    ("ln", "Müller"),
    ("fn", "mary ann"),
    ("db", "19970216"),
    ("ge", "f"),
    ("ge", "m"),
    ("ct", "New York"),
    ("ct", "Paris"),
    ("ct", "Saint-Étienne"),
    ("ct", "Zürich"),
    ("st", "CA"),
    ("st", "N.Y."),
    ("zp", "94035"),
    ("zp", "94035-1234"),
    ("zp", "M1 1AE"),
    ("zp", "SW1A 1AA"),
    ("zp", "75018"),
    ("country", "us"),
    ("country", " US "),
    ("country", "fr"),
    ("country", "u.s."),
    # already hashed: both pass it through, lowercased
    ("em", h("john_smith@gmail.com").upper()),
    ("ph", h("16505551212")),
]


@pytest.mark.parametrize(("key", "value"), AGREE)
def test_same_hash_as_metas_sdk(key: str, value: str) -> None:
    assert ours(key, value) == [Normalize.normalize(key, value, True)]


SDK_REFUSES = object()

# (key, input, user's country, SDK's clear value or SDK_REFUSES, ours in clear or None, reason)
DIFFER = [
    ("ph", "(650)555-1212", "US", "6505551212", "16505551212",
     "Meta: phone must include the country code; the SDK never adds one"),
    ("ph", "06 12 34 56 78", "FR", "612345678", "33612345678",
     "the SDK strips the trunk 0 but adds no country code: a number Meta cannot match"),
    ("ph", "030 12345678", "DE", "3012345678", "493012345678",
     "same, German national number"),
    ("ph", "+44 (0)20 7946 0958", None, "4402079460958", "442079460958",
     "the SDK keeps the (0) trunk prefix after the country code"),
    ("ph", "(212) 555-0123 ext 5", "US", SDK_REFUSES, "12125550123",
     "an extension is not part of the E.164 number; the SDK raises ValueError"),
    ("fn", "O'Brien", None, "o'brien", "obrien", "Meta: fn/ln have no punctuation"),
    ("fn", "Jean-Luc", None, "jean-luc", "jeanluc", "Meta: fn/ln have no punctuation"),
    ("ln", "Vale\u0301ry", None, "vale\u0301ry", "valéry",
     "NFC: decomposed input must hash like Meta's valéry example"),
    ("db", "1997-02-16", None, "1997-02-16", "19970216",
     "Meta: db is YYYYMMDD; the SDK hashes dates as given"),
    ("db", "31/01/1990", None, "31/01/1990", "19900131", "same, day-first date"),
    ("ge", "female", None, "female", "f", "Meta: ge is the initial f/m"),
    ("ge", "Mme", None, "mme", "f", "a French title is a gender (PrestaShop stores titles)"),
    ("ct", "L'Haÿ-les-Roses", None, "l'haÿlesroses", "lhaÿlesroses",
     "Meta: ct has no punctuation; the SDK only removes digits, spaces, . - ( )"),
    ("st", "California", None, "california", "ca",
     "Meta: st is a US state's 2-letter code"),
    ("zp", "940351234", "US", "940351234", "94035", "Meta: zp in the US, first 5 digits only"),
    ("zp", "1234-567", "PT", "1234", "1234567",
     "the SDK cuts at the first dash (right for ZIP+4 only); Meta says remove dashes"),
    ("country", "United States", None, SDK_REFUSES, "us",
     "Meta's example maps the name; the SDK raises TypeError on names"),
    ("country", "France", None, SDK_REFUSES, "fr", "same"),
    ("country", "USA", None, SDK_REFUSES, "us", "alpha-3 codes are mapped"),
    ("em", "a@b@c.de", None, "a@b@c.de", None,
     "not an address: dropped with a warning instead of hashing garbage"),
    ("em", "d41d8cd98f00b204e9800998ecf8427e", None, "d41d8cd98f00b204e9800998ecf8427e", None,
     "the SDK passes MD5 through as 'hashed'; Meta wants SHA-256, so it is not an email"),
    ("external_id", "Cust-42", None, "Cust-42", h("Cust-42"),
     "Meta: hashing external_id is recommended; the SDK sends it in clear"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "country", "sdk", "expected", "reason"), DIFFER)
def test_deliberate_differences(
    key: str, value: str, country: str | None, sdk: object, expected: str | None, reason: str
) -> None:
    assert reason
    if key == "external_id":
        # The SDK's UserData only de-duplicates external ids: no hash, case kept.
        from facebook_business.adobjects.serverside.user_data import UserData

        assert UserData(external_id=value).normalize()["external_id"] == [sdk]
    elif sdk is SDK_REFUSES:
        with pytest.raises((TypeError, ValueError)):
            Normalize.normalize(key, value, True)
    else:
        assert Normalize.normalize(key, value, False) == sdk
        # The SDK takes 32 hex (MD5) as already hashed and returns it unchanged.
        sdk_hash = sdk if len(sdk) == 32 else h(sdk)  # type: ignore[arg-type]
        assert Normalize.normalize(key, value, True) == sdk_hash
    got = ours(key, value, country)
    if expected is None:
        assert got is None
    elif key == "external_id":
        assert got == [expected]
    else:
        assert got == [h(expected)]
