"""Country, state/province and gender lookup tables.

Meta wants ``country`` as the lowercase ISO 3166-1 alpha-2 code ("United States" → ``us``)
and ``st`` as the 2-letter ANSI/FIPS code for the US:
https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters.
Meta's SDK (facebook-business 26.0.3) rejects country names; we map them. Country names come
from pycountry (ISO 3166 data plus its gettext translations), so every country's English,
French, German, Spanish, Italian, Dutch, Portuguese and Polish names resolve without a
hand-kept list.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache

__all__ = ["country_code", "gender_code", "lookup_key", "state_code"]

_NOT_ASCII_LETTER = re.compile(r"[^a-z]+")

#: Languages whose country names are accepted (pycountry ships the translations).
_LANGUAGES = ("fr", "de", "es", "it", "nl", "pt", "pl")

# Names and codes people actually type that ISO does not list.
_EXTRA_COUNTRIES = {
    "uk": "gb",
    "greatbritain": "gb",
    "britain": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "northernireland": "gb",
    "unitedkingdom": "gb",
    "el": "gr",  # the EU's own code for Greece
    "usa": "us",
    "us": "us",
    "america": "us",
    "unitedstates": "us",
    "unitedstatesofamerica": "us",
    "etatsunis": "us",
    "etatsunisdamerique": "us",
    "vereinigtestaaten": "us",
    "estadosunidos": "us",
    "holland": "nl",
    "thenetherlands": "nl",
    "russia": "ru",
    "southkorea": "kr",
    "korea": "kr",
    "northkorea": "kp",
    "vietnam": "vn",
    "czechia": "cz",
    "czechrepublic": "cz",
    "tchequie": "cz",
    "republiquetcheque": "cz",
    "tschechien": "cz",
    "turkey": "tr",
    "turkiye": "tr",
    "ivorycoast": "ci",
    "cotedivoire": "ci",
    "kosovo": "xk",
    "xk": "xk",
    "uae": "ae",
    "emirates": "ae",
    "iran": "ir",
    "syria": "sy",
    "laos": "la",
    "bolivia": "bo",
    "venezuela": "ve",
    "tanzania": "tz",
    "moldova": "md",
    "taiwan": "tw",
}

# US: Meta asks for the 2-letter ANSI/FIPS code; Canada: Canada Post province codes.
_US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
    "washingtondc": "dc", "florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id",
    "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky",
    "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma",
    "michigan": "mi", "minnesota": "mn", "mississippi": "ms", "missouri": "mo",
    "montana": "mt", "nebraska": "ne", "nevada": "nv", "newhampshire": "nh",
    "newjersey": "nj", "newmexico": "nm", "newyork": "ny", "northcarolina": "nc",
    "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
    "pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
    "washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
    "puertorico": "pr", "guam": "gu", "usvirginislands": "vi", "americansamoa": "as",
    "northernmarianaislands": "mp",
}  # fmt: skip
_CA_PROVINCES = {
    "alberta": "ab", "britishcolumbia": "bc", "colombiebritannique": "bc", "manitoba": "mb",
    "newbrunswick": "nb", "nouveaubrunswick": "nb", "newfoundlandandlabrador": "nl",
    "newfoundland": "nl", "terreneuveetlabrador": "nl", "novascotia": "ns",
    "nouvelleecosse": "ns", "ontario": "on", "princeedwardisland": "pe",
    "ileduprinceedouard": "pe", "quebec": "qc", "saskatchewan": "sk",
    "northwestterritories": "nt", "territoiresdunordouest": "nt", "nunavut": "nu",
    "yukon": "yt",
}  # fmt: skip

# Meta's `ge` is a single lowercase initial, f or m. Titles and words from the languages our
# shops use (PrestaShop stores a title such as "Mme"/"M." rather than a gender).
_GENDERS = {
    **dict.fromkeys(
        "f female woman women w girl femme madame mme mlle mademoiselle mrs ms miss frau "
        "weiblich mujer senora sra srta donna signora sig.ra feminin feminine femenino "
        "femminile vrouw mevrouw mevr kobieta pani".split(),
        "f",
    ),
    **dict.fromkeys(
        "m male man men boy homme monsieur mr mister herr mannlich maennlich hombre senor sr "
        "uomo signor sig masculin masculine masculino maschile man heer dhr mezczyzna pan".split(),
        "m",
    ),
}


def lookup_key(text: str) -> str:
    """Lowercase ASCII letters only: accents folded, spaces and punctuation removed.

    "États-Unis" → "etatsunis", "U.S.A." → "usa": one key for every spelling people type.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    elif text.isalpha():  # ASCII letters only ("CA", "Texas", "female"): nothing to drop
        return text.lower()
    return _NOT_ASCII_LETTER.sub("", text.lower())


@lru_cache(maxsize=1)
def _country_table() -> dict[str, str]:
    import pycountry

    table: dict[str, str] = {}
    countries = list(pycountry.countries)
    # Priority: ISO codes first, then our list, then English names, then translations; a
    # later source never overrides an earlier one (setdefault).
    for country in countries:
        table[country.alpha_2.lower()] = country.alpha_2.lower()
    for country in countries:
        table.setdefault(country.alpha_3.lower(), country.alpha_2.lower())
    for key, code in _EXTRA_COUNTRIES.items():
        table.setdefault(key, code)
    names: list[tuple[str, str]] = []
    for country in countries:
        code = country.alpha_2.lower()
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name:
                names.append((name, code))
    for name, code in names:
        table.setdefault(lookup_key(name), code)
    for language in _LANGUAGES:
        try:
            translation = gettext.translation(
                "iso3166-1", pycountry.LOCALES_DIR, languages=[language]
            )
        except OSError:  # a pycountry build without this locale: English still works
            continue
        for name, code in names:
            table.setdefault(lookup_key(translation.gettext(name)), code)
    table.pop("", None)
    return table


@lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """Lowercase ISO 3166-1 alpha-2 for a code, alpha-3 code or country name; None if unknown.

    Cached: a shop sees a handful of distinct country spellings, over and over.
    """
    return _country_table().get(lookup_key(text))


@lru_cache(maxsize=4096)
def state_code(key: str) -> str | None:
    """2-letter code for a US state or Canadian province/territory name (as a lookup key)."""
    return _US_STATES.get(key) or _CA_PROVINCES.get(key)


def gender_code(text: str) -> str | None:
    """``f``/``m`` for the words and titles in _GENDERS, else None."""
    return _GENDERS.get(lookup_key(text))
