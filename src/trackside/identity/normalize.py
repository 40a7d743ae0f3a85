"""``normalize_user``: a raw ``trackside.events.User`` → Meta ``user_data`` + GA ids.

Every contact key is normalized the way Meta asks (see ``fields.py``) and SHA-256 hashed
(``hashing.py``); IP, user agent, fbc, fbp and lead_id stay in clear and are validated so that
one bad value never makes Meta reject a whole batch (one invalid event rejects the whole
request: https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api;
rules 25-27 of trackside's Meta validator, destinations/meta/rules/events.py).
A value that cannot be used is dropped with a warning naming the field and the reason — never
the value, which is personal data. Nothing here raises on any ``User`` content.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from hashlib import sha256
from typing import Any

from trackside.events import User
from trackside.identity import cookies
from trackside.identity.fields import (
    normalize_city,
    normalize_country,
    normalize_date_of_birth,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_name,
    normalize_state,
    normalize_zip,
)
from trackside.identity.hashing import passthrough_hash, sha256_hex
from trackside.identity.keys import HASHED_KEYS
from trackside.identity.network import normalize_ip
from trackside.identity.phone import normalize_stripped_phone

__all__ = ["HASHED_KEYS", "NormalizedUser", "normalize_user"]


# A Lead Ads id is 15-17 digits, else Meta refuses the event with subcode 2804036
# (https://developers.facebook.com/documentation/ads-commerce/conversions-api/conversion-leads-integration/payload-specification).
_LEAD_ID = re.compile(r"[0-9]{15,17}")
_GA_CLIENT_ID = re.compile(r"[0-9]+\.[0-9]+")
_DIGITS = re.compile(r"[0-9]+")

_REASONS = {
    "email": "not an email address",
    "phone": "not a valid phone number",
    "first_name": "no letters left after normalization",
    "last_name": "no letters left after normalization",
    "date_of_birth": "not a valid date of birth (year 1900..now, YYYY-MM-DD, DD/MM/YYYY, "
    "YYYYMMDD)",
    "gender": "not a recognized gender (f/m)",
    "city": "no letters left after normalization",
    "state": "nothing left after normalization",
    "zip": "nothing left after normalization",
    "country": "not a known country (ISO 3166-1 code or name)",
    "external_id": "empty",
}
# Without a country only the international reading of a phone exists (phone.py), so a
# national number ("06 12 34 56 78") is dropped: the warning says which setting fixes it.
_REASONS_WITHOUT_REGION = _REASONS | {
    "phone": "not a valid international phone number (a national number needs user.country "
    "or TRACKSIDE_DEFAULT_COUNTRY)",
}


@dataclass
class NormalizedUser:
    """Meta ``user_data`` (hashed keys as sorted lists of SHA-256 hex) plus GA ids."""

    user_data: dict[str, Any] = field(default_factory=dict)
    ga_client_id: str | None = None
    ga_session_id: str | None = None
    #: Lowercase alpha-2 in clear, for the consent policy only; None if unknown.
    country: str | None = None
    warnings: list[str] = field(default_factory=list)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MS_PER_DAY = 86_400_000


def utc_date(now_ms: int) -> date:
    """The UTC calendar date of a Unix time in ms; POSIX days are exactly 86,400 s long.

    Same answer as ``datetime.fromtimestamp(now_ms / 1000, tz=UTC).date()``, without building
    a datetime for every event that carries a date of birth.
    """
    return date.fromordinal(_EPOCH_ORDINAL + now_ms // _MS_PER_DAY)


def _nothing(_name: str) -> None:
    return None


def _label(name: str, index: int | None) -> str:
    return f"user.{name}" if index is None else f"user.{name}[{index}]"


def _text(value: Any, label: str, warnings: list[str]) -> str | None:
    """The value as stripped text; None (with a warning if it was not text) otherwise."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    warnings.append(f"{label}: not text, dropped")
    return None


def _hash_value(
    value: Any,
    name: str,
    index: int | None,
    normalizer: Callable[[Any], str | None],
    warnings: list[str],
    hash_values: bool,
    reasons: Mapping[str, str] = _REASONS,
) -> str | None:
    """One value of a hashed field → its SHA-256 hex (or clear id), or None + a warning."""
    if type(value) is str:  # the hot path: skip the generic checks
        text = value.strip()
        if not text:
            return None
    elif name == "date_of_birth" and isinstance(value, date):
        clear = normalizer(value)
        if clear is None:
            warnings.append(f"{_label(name, index)}: {reasons[name]}, dropped")
            return None
        return sha256_hex(clear)
    else:
        text = _text(value, _label(name, index), warnings)  # type: ignore[assignment]
        if text is None:
            return None
    # A value already hashed (64 hex, or with a Parameter Builder appendix) is passed through:
    # hashing it twice is a common cause of keys that never match.
    if len(text) >= 64:
        already = passthrough_hash(text)
        if already is not None:
            return already
    if name == "date_of_birth" and text.strip("0-/. ") == "":
        # PrestaShop stores an unknown birthday as 0000-00-00.
        warnings.append(f"{_label(name, index)}: empty date placeholder, dropped")
        return None
    clear = normalizer(text)
    if clear is None:
        warnings.append(f"{_label(name, index)}: {reasons[name]}, dropped")
        return None
    return sha256_hex(clear) if hash_values else clear


def _hashed(
    raw: Any,
    name: str,
    normalizer: Callable[[Any], str | None],
    warnings: list[str],
    *,
    hash_values: bool = True,
    reasons: Mapping[str, str] = _REASONS,
) -> list[str]:
    """A field that may be one value or a list (Meta takes either) → sorted, unique.

    normalize_user handles one short plain string itself (the hot path); this is the general
    path for everything else, and the reference that hot path is tested against.
    """
    if isinstance(raw, (list, tuple)):
        out = {
            digest
            for index, value in enumerate(raw)
            if (digest := _hash_value(value, name, index, normalizer, warnings, hash_values,
                                      reasons))
        }
        return sorted(out)
    digest = _hash_value(raw, name, None, normalizer, warnings, hash_values, reasons)
    return [digest] if digest else []


def _clear_country(raw: Any) -> str | None:
    """The first country in clear (not hashed) that maps to an ISO code."""
    for value in raw if isinstance(raw, (list, tuple)) else (raw,):
        if isinstance(value, str):
            code = normalize_country(value)
            if code is not None:
                return code
    return None


# The hashed fields, built once: (Meta key, User field, normalizer, kind). Three normalizers
# need per-event context (the phone's region, the date's order and today, the zip's country);
# normalize_user passes it by kind instead of building three closures for every event.
_PLAIN, _PHONE, _DOB, _ZIP, _COUNTRY = 0, 1, 2, 3, 4
_HASHED_FIELDS: tuple[tuple[str, str, Callable[..., str | None], int], ...] = (
    ("em", "email", normalize_email, _PLAIN),
    ("ph", "phone", normalize_stripped_phone, _PHONE),
    ("fn", "first_name", normalize_name, _PLAIN),
    ("ln", "last_name", normalize_name, _PLAIN),
    ("db", "date_of_birth", normalize_date_of_birth, _DOB),
    ("ge", "gender", normalize_gender, _PLAIN),
    ("ct", "city", normalize_city, _PLAIN),
    ("st", "state", normalize_state, _PLAIN),
    ("zp", "zip", normalize_zip, _ZIP),
    ("country", "country", normalize_country, _COUNTRY),
)  # fmt: skip


def _today(now_ms: int | None) -> date:
    return utc_date(now_ms) if now_ms is not None else date.today()


def normalize_user(
    user: Any,
    *,
    default_country: str | None = None,
    day_first: bool = True,
    hash_external_id: bool = True,
    now_ms: int | None = None,
) -> NormalizedUser:
    """Normalize and hash one ``trackside.events.User``; never raises (see module docstring).

    ``default_country`` (lowercase alpha-2, the shop's country) is only the region for
    national phone numbers when the user has no country; it is not sent as the user's country.
    """
    warnings: list[str] = []
    data: dict[str, Any] = {}
    # Pydantic keeps field values in __dict__ (also for model_construct); a plain mapping is
    # accepted too, which is what the Graph-compatible endpoint and tests find handy.
    get: Callable[[str], Any]
    if type(user) is User:  # the usual case, without the slower ABC check below
        get = user.__dict__.get
    elif isinstance(user, Mapping):
        get = user.get
    elif hasattr(user, "__dict__"):
        get = user.__dict__.get
    else:
        get = _nothing

    country = None
    country_read = False
    try:
        country = _clear_country(get("country"))
        country_read = True
    except Exception:  # noqa: BLE001 - never raise on odd content (model_construct)
        pass
    region = country or (default_country.lower() if default_country else None)
    phone_region = region.upper() if region else None
    today: date | None = None  # only a date of birth needs it (few events carry one)
    reasons = _REASONS if region else _REASONS_WITHOUT_REGION
    for key, name, normalizer, kind in _HASHED_FIELDS:
        raw = get(name)
        if raw is None:
            continue
        if type(raw) is str and len(raw) < 64:
            # The hot path, inlined from _hashed (about ten fields of every event go here):
            # one short plain string cannot be an already-hashed value, so normalize + hash.
            text = raw.strip()
            if not text:
                continue
            try:
                if kind == _PLAIN:
                    clear = normalizer(text)
                elif kind == _PHONE:
                    # Values reach it stripped, so the phone skips normalize_phone's strip.
                    clear = normalizer(text, phone_region)
                elif kind == _DOB:
                    if text.strip("0-/. ") == "":
                        warnings.append("user.date_of_birth: empty date placeholder, dropped")
                        continue
                    if today is None:
                        today = _today(now_ms)
                    clear = normalizer(text, day_first=day_first, today=today)
                elif kind == _ZIP:
                    clear = normalizer(text, country)
                else:
                    # _clear_country already normalized this very string (it strips too).
                    clear = country if country_read else normalizer(text)
            except Exception:  # noqa: BLE001 - a bug must cost one field, not the event
                warnings.append(f"user.{name}: could not be normalized, dropped")
                continue
            if clear is None:
                warnings.append(f"user.{name}: {reasons[name]}, dropped")
            else:
                data[key] = [sha256(clear.encode()).hexdigest()]
            continue
        if kind == _PHONE:
            normalize: Callable[[Any], str | None] = partial(normalizer, region=phone_region)
        elif kind == _DOB:
            if today is None:
                today = _today(now_ms)
            normalize = partial(normalizer, day_first=day_first, today=today)
        elif kind == _ZIP:
            normalize = partial(normalizer, country=country)
        else:
            normalize = normalizer
        try:
            values = _hashed(raw, name, normalize, warnings, reasons=reasons)
        except Exception:  # noqa: BLE001 - a bug must cost one field, not the event
            warnings.append(f"user.{name}: could not be normalized, dropped")
            continue
        if values:
            data[key] = values
    raw = get("external_id")
    if type(raw) is str and len(raw) < 64:
        # normalize_external_id only strips; inlined like the fields above.
        text = raw.strip()
        if text:
            data["external_id"] = [sha256(text.encode()).hexdigest() if hash_external_id else text]
    elif raw is not None:
        try:
            values = _hashed(
                raw, "external_id", normalize_external_id, warnings, hash_values=hash_external_id
            )
        except Exception:  # noqa: BLE001
            warnings.append("user.external_id: could not be normalized, dropped")
            values = []
        if values:
            data["external_id"] = values

    _clear_keys(get, data, warnings, now_ms)
    result = NormalizedUser(user_data=data, country=country, warnings=warnings)
    if get("ga_client_id") is not None or get("ga_session_id") is not None:
        _ga_ids(get, result)
    return result


def _clear_text(get: Callable[[str], Any], name: str, warnings: list[str]) -> str | None:
    value = get(name)
    if value is None:
        return None
    if type(value) is str:  # the usual case, without _text's checks
        return value.strip() or None
    return _text(value, f"user.{name}", warnings)


def _clear_keys(
    get: Callable[[str], Any], data: dict[str, Any], warnings: list[str], now_ms: int | None
) -> None:
    """client_ip_address, client_user_agent, fbc, fbp, lead_id: clear, validated."""
    ip = _clear_text(get, "ip", warnings)
    if ip is not None:
        address, public = normalize_ip(ip)
        if address is None:
            reason = (
                "looks hashed; Meta requires the IP in clear"
                if passthrough_hash(ip) is not None
                else "not a valid IPv4 or IPv6 address"
            )
            warnings.append(f"user.ip: {reason}, dropped")
        else:
            data["client_ip_address"] = address
            if not public:
                # Often the proxy's address instead of the shopper's.
                warnings.append("user.ip: not a public address (a proxy's?), sent anyway")
    agent = _clear_text(get, "user_agent", warnings)
    if agent is not None:
        data["client_user_agent"] = agent

    fbc_text = _clear_text(get, "fbc", warnings)
    fbc = cookies.parse_fbc(fbc_text) if fbc_text is not None else None
    if fbc_text is not None and fbc is None:
        # A malformed fbc rejects the whole batch with 2804001 (rule 26 in
        # destinations/meta/rules/events.py).
        warnings.append("user.fbc: not a valid _fbc value (fb.<n>.<ms>.<fbclid>), dropped")
    # fbclid, lead_id, subscription_id, fb_login_id: rarely set, so the call is skipped first.
    fbclid = _clear_text(get, "fbclid", warnings) if get("fbclid") is not None else None
    if fbclid is not None:
        if not cookies.is_valid_fbclid(fbclid):
            warnings.append("user.fbclid: not a valid fbclid (letters, digits, - and _), dropped")
        elif fbc is None or cookies.fbclid_of(fbc) != fbclid:
            # No cookie yet, or a newer click than the cookie's: Meta says a different fbclid
            # replaces the _fbc value:
            # https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc
            ms = now_ms if now_ms is not None else int(time.time() * 1000)
            fbc = cookies.build_fbc(fbclid, ms)
    if fbc is not None:
        data["fbc"] = fbc
    fbp_text = _clear_text(get, "fbp", warnings)
    if fbp_text is not None:
        fbp = cookies.parse_fbp(fbp_text)
        if fbp is None:
            warnings.append("user.fbp: not a valid _fbp value (fb.<n>.<ms>.<digits>), dropped")
        else:
            data["fbp"] = fbp

    lead_id = _clear_text(get, "lead_id", warnings) if get("lead_id") is not None else None
    if lead_id is not None:
        if _LEAD_ID.fullmatch(lead_id):
            data["lead_id"] = lead_id
        else:
            warnings.append("user.lead_id: not a Lead Ads id (15-17 digits), dropped")

    # Meta: never hashed. subscription_id is free text; fb_login_id an app-scoped number.
    subscription_id = None
    if get("subscription_id") is not None:
        subscription_id = _clear_text(get, "subscription_id", warnings)
    if subscription_id is not None:
        data["subscription_id"] = subscription_id
    login_id = _clear_text(get, "fb_login_id", warnings) if get("fb_login_id") is not None else None
    if login_id is not None:
        if login_id.isdigit():
            data["fb_login_id"] = login_id
        else:
            warnings.append("user.fb_login_id: not a numeric app-scoped user id, dropped")


def _ga_ids(get: Callable[[str], Any], result: NormalizedUser) -> None:
    """GA4 client and session ids from raw cookies or already-extracted values."""
    warnings = result.warnings
    client = _clear_text(get, "ga_client_id", warnings)
    if client is not None:
        if client.upper().startswith("GA"):
            result.ga_client_id = cookies.ga_client_id(client)
        elif _GA_CLIENT_ID.fullmatch(client):
            result.ga_client_id = client
        if result.ga_client_id is None:
            warnings.append("user.ga_client_id: not a _ga cookie or client id, dropped")
    session = _clear_text(get, "ga_session_id", warnings)
    if session is not None:
        if _DIGITS.fullmatch(session):
            result.ga_session_id = session
        else:
            result.ga_session_id = cookies.ga_session_id(session)
        if result.ga_session_id is None:
            warnings.append("user.ga_session_id: not a _ga_<stream> cookie or session id, dropped")
