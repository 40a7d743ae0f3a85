"""Event-level rules (rules 10-34): what Meta checks in each event of a batch."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from trackside.destinations.meta.rules.errors import (
    MetaError,
    _param_error,
    invalid_parameter,
)
from trackside.destinations.meta.rules.facts import (
    _IP_APPENDIX,
    ACTION_SOURCES,
    CURRENCIES,
    CUSTOMER_SEGMENTS,
    EVENT_KEYS,
    FBC,
    FBP,
    HASH_COMPAT,
    HASH_STRICT,
    HASHED_KEYS,
    HEX64,
    LDU_STATES,
    MAX_AGE_S,
    MILLISECONDS_THRESHOLD,
    PHYSICAL_STORE_MAX_AGE_S,
    TOO_BROAD_SETS,
    USER_DATA_KEYS,
)
from trackside.destinations.meta.rules.model import RulesConfig

# -- event-level rules -------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """Number or numeric string (rule 31; Meta's own example sends "142.52")."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return False
        return number == number and abs(number) != float("inf")
    return False


def _is_digits(value: Any) -> bool:
    # isascii: str.isdigit also takes "²" and other digits int() refuses (rule 28).
    return _is_int(value) or (isinstance(value, str) and value.isascii() and value.isdigit())


_WHITESPACE = re.compile(r"\s")


def absolute_url(value: Any) -> bool:
    if not isinstance(value, str) or _WHITESPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[::1/": an unclosed IPv6 bracket is no URL either
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def valid_ip(value: str) -> bool:
    # A Parameter Builder appendix may follow the address (Meta's parameter-builder-library
    # page): 1.2.3.4.ABcDEFGh.
    return _plain_ip(value) or _plain_ip(_IP_APPENDIX.sub("", value))


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: Dotted-quad IPv4 exactly as ipaddress accepts it (no leading zeros): the common case,
#: checked without ipaddress's per-octet Python parsing.
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _plain_ip(value: str) -> bool:
    if _IPV4.fullmatch(value):
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _string_or_list(value: Any, allow_numbers: bool = False) -> list[Any] | None:
    """Rule 23/24: a string or a non-empty list of strings; None when the shape is wrong."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return None
    for item in items:
        if isinstance(item, str):
            continue
        if allow_numbers and _is_int(item):
            continue
        return None
    return items


def check_event(
    event: Mapping[str, Any],
    config: RulesConfig,
    now: float,
    index: int = 0,
    warnings: list[str] | None = None,
) -> MetaError | None:
    """Rules 10-34 on one decoded event; the first failure, blamed at ``data[index]``."""
    warnings = warnings if warnings is not None else []
    at = f"data[{index}]"

    name = event.get("event_name")  # rule 10
    if not isinstance(name, str) or not name.strip():
        return invalid_parameter(
            None,
            "Missing Event Name",
            "Each event needs an event_name.",
            rule=10,
            blame=f"{at}.event_name",
            fr=("Nom d’événement manquant", "Chaque événement doit avoir un event_name."),
        )

    error = _check_event_time(event, config, now, at)
    if error is not None:
        return error

    source = event.get("action_source")  # rule 14 (case-sensitive, assumed)
    if not isinstance(source, str) or source not in ACTION_SOURCES:
        return invalid_parameter(
            None,
            "Invalid Action Source",
            "action_source is required and must be one of: " + ", ".join(sorted(ACTION_SOURCES)),
            rule=14,
            blame=f"{at}.action_source",
        )

    if config.strict:  # rule 21 (assumed): unknown event-level keys
        unknown = sorted(set(event) - EVENT_KEYS)
        if unknown:
            return _param_error(
                f"Unknown event parameter {unknown[0]}", rule=21, blame=f"{at}.{unknown[0]}"
            )

    user_data = event.get("user_data")  # rule 22
    if not isinstance(user_data, dict):
        return invalid_parameter(
            None,
            "Missing User Data",
            "user_data is required and must be an object.",
            rule=22,
            blame=f"{at}.user_data",
        )

    error = (
        _check_source_requirements(event, user_data, config, at, warnings)
        or _check_event_fields(event, at)
        or _check_ldu(event, user_data, at)
        or _check_user_data(user_data, config, at, warnings)
        or _check_custom_data(event, config, at)
    )
    return error


def _check_event_time(
    event: Mapping[str, Any], config: RulesConfig, now: float, at: str
) -> MetaError | None:
    raw = event.get("event_time")  # rule 11
    value: int | None = None
    if _is_int(raw):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isascii() \
            and raw.strip().lstrip("-").isdigit():
        value = int(raw.strip())  # Meta's GTM tag sends numeric strings
    if value is None or value < 0 or value > MILLISECONDS_THRESHOLD:
        return invalid_parameter(
            None,
            "Invalid Event Time",
            "event_time must be a Unix timestamp in seconds.",
            rule=11,
            blame=f"{at}.event_time",
        )
    max_age = MAX_AGE_S
    if config.allow_physical_store_62d and event.get("action_source") == "physical_store":
        max_age = PHYSICAL_STORE_MAX_AGE_S
    if value < now - max_age:  # rule 12: documented, and the answer as recorded
        return invalid_parameter(
            2804003,
            "Event Timestamp Too Old",
            "The timestamp for this event is too far in the past. Events need to be sent from "
            "your server within 7 days of when they occurred. Enter a timestamp that has "
            "occurred within the last 7 days.",
            rule=12,
            blame=f"{at}.event_time",
            fr=(
                "Horodatage de l’événement trop ancien",
                "L’horodatage de cet événement est trop ancien. Les événements doivent être "
                "envoyés depuis votre serveur dans les 7 jours suivant leur survenue.",
            ),
        )
    if value > now + config.max_future_skew_s:  # rule 13 (assumed)
        return invalid_parameter(
            None,
            "Event Timestamp In The Future",
            "The timestamp for this event is in the future.",
            rule=13,
            blame=f"{at}.event_time",
        )
    return None


def _check_source_requirements(
    event: Mapping[str, Any],
    user_data: Mapping[str, Any],
    config: RulesConfig,
    at: str,
    warnings: list[str],
) -> MetaError | None:
    source = event["action_source"]
    if source == "website":  # rule 15
        url = event.get("event_source_url")
        if not absolute_url(url):
            return invalid_parameter(
                None,
                "Missing Event Source URL",
                "Website events need event_source_url, an absolute http(s) URL.",
                rule=15,
                blame=f"{at}.event_source_url",
            )
        if not user_data.get("client_user_agent"):
            # Meta's docs say required; Graph v26.0 was observed accepting it without.
            if config.require_user_agent:
                return invalid_parameter(
                    None,
                    "Missing Client User Agent",
                    "Website events need user_data.client_user_agent.",
                    rule=15,
                    blame=f"{at}.user_data.client_user_agent",
                )
            warnings.append(f"{at}: website event without client_user_agent")
    elif source == "business_messaging":  # rule 16
        channel = event.get("messaging_channel")
        if channel not in ("messenger", "whatsapp", "instagram"):
            return invalid_parameter(
                None,
                "Missing Messaging Channel Parameter",
                "messaging_channel must be one of messenger, whatsapp, instagram.",
                rule=16,
                blame=f"{at}.messaging_channel",
            )
        if channel == "whatsapp" and not (
            user_data.get("page_id") or user_data.get("whatsapp_business_account_id")
        ):
            return invalid_parameter(
                2804116,
                "Missing Page ID",
                "WhatsApp events need page_id or whatsapp_business_account_id.",
                rule=16,
                blame=f"{at}.user_data",
            )
        needs = {
            "whatsapp": ("ctwa_clid",),
            "messenger": ("page_id", "page_scoped_user_id"),
            "instagram": ("ig_account_id", "ig_sid"),
        }[channel]
        missing = [key for key in needs if not user_data.get(key)]
        if missing and config.strict:  # enforcement assumed
            return invalid_parameter(
                None,
                "Missing Messaging Parameter",
                f"{channel} events need user_data.{missing[0]}.",
                rule=16,
                blame=f"{at}.user_data.{missing[0]}",
            )
    elif source == "app":  # rule 17
        app_data = event.get("app_data")
        extinfo = app_data.get("extinfo") if isinstance(app_data, dict) else None
        if (
            not isinstance(app_data, dict)
            or not isinstance(extinfo, list)
            or len(extinfo) != 16
            or extinfo[0] not in ("a2", "i2")
        ):
            return invalid_parameter(
                None,
                "Invalid App Data",
                "App events need app_data.extinfo: 16 values, the first a2 or i2.",
                rule=17,
                blame=f"{at}.app_data.extinfo",
            )
        for key in ("advertiser_tracking_enabled", "application_tracking_enabled"):
            if key in app_data and not isinstance(app_data[key], bool):
                return invalid_parameter(
                    None,
                    "Invalid App Data",
                    f"{key} must be a boolean.",
                    rule=17,
                    blame=f"{at}.app_data.{key}",
                )
    elif source == "system_generated":  # rule 18 (CRM)
        custom = event.get("custom_data")
        if isinstance(custom, dict) and custom.get("event_source") == "crm":
            lead_source = custom.get("lead_event_source")
            if not isinstance(lead_source, str) or not lead_source:
                return invalid_parameter(
                    None,
                    "Missing Lead Event Source",
                    "CRM events need custom_data.lead_event_source.",
                    rule=18,
                    blame=f"{at}.custom_data.lead_event_source",
                )
            lead_id = user_data.get("lead_id")
            if lead_id is not None and not (_is_digits(lead_id) and 15 <= len(str(lead_id)) <= 17):
                return invalid_parameter(
                    2804036,
                    "Invalid Lead ID",
                    "lead_id must be the 15-17 digit id of a Meta lead.",
                    rule=18,
                    blame=f"{at}.user_data.lead_id",
                )
    return None


def _check_event_fields(event: Mapping[str, Any], at: str) -> MetaError | None:
    """Rule 19: types of the optional event fields."""
    if "opt_out" in event and not isinstance(event["opt_out"], bool):
        return _param_error("opt_out must be a boolean.", rule=19, blame=f"{at}.opt_out")
    event_id = event.get("event_id")
    if event_id is not None and not (isinstance(event_id, str) or _is_int(event_id)):
        return _param_error("event_id must be a string.", rule=19, blame=f"{at}.event_id")
    referrer = event.get("referrer_url")
    if referrer is not None and not isinstance(referrer, str):
        return _param_error("referrer_url must be a string.", rule=19, blame=f"{at}.referrer_url")
    original = event.get("original_event_data")
    if original is not None and (
        not isinstance(original, dict)
        or ("event_time" in original and not _is_digits(original["event_time"]))
    ):
        return _param_error(
            "original_event_data must be an object with an integer event_time.",
            rule=19,
            blame=f"{at}.original_event_data",
        )
    segment = event.get("customer_segmentation")
    if segment is not None and (not isinstance(segment, str) or segment not in CUSTOMER_SEGMENTS):
        return _param_error(
            "customer_segmentation is not a known value.",
            rule=19,
            blame=f"{at}.customer_segmentation",
        )
    return None


def _check_ldu(event: Mapping[str, Any], user_data: Mapping[str, Any], at: str) -> MetaError | None:
    """Rule 20: Limited Data Use (data_processing_options and its country and state)."""
    options = event.get("data_processing_options")
    if options is None:
        return None
    title = "Invalid Data Processing Options"
    if not isinstance(options, list) or any(option != "LDU" for option in options):
        return invalid_parameter(
            None,
            title,
            'data_processing_options must be [] or ["LDU"].',
            rule=20,
            blame=f"{at}.data_processing_options",
        )
    if "LDU" not in options:
        return None
    country = event.get("data_processing_options_country")
    state = event.get("data_processing_options_state")
    if country is not None and (not _is_int(country) or country not in (0, 1)):
        return invalid_parameter(
            None,
            title,
            "data_processing_options_country must be 0 or 1.",
            rule=20,
            blame=f"{at}.data_processing_options_country",
        )
    if state is not None and (not _is_int(state) or state not in LDU_STATES):
        return invalid_parameter(
            None,
            title,
            "data_processing_options_state must be 0 or 1000-1013.",
            rule=20,
            blame=f"{at}.data_processing_options_state",
        )
    # "If you set a country, you must also set a state"; without an IP Meta cannot geolocate.
    if state is None and (country is not None or not user_data.get("client_ip_address")):
        return invalid_parameter(
            None,
            title,
            "data_processing_options_state is required with LDU here.",
            rule=20,
            blame=f"{at}.data_processing_options_state",
        )
    return None


def _not_hashed(key: str, at: str) -> MetaError:
    return invalid_parameter(
        2804016,
        "User Parameter Not Hashed",
        f"The {key} parameter isn’t hashed. Hash all user parameters as SHA256, except for "
        "client user agent, click ID, and browser ID.",
        rule=23,
        blame=f"{at}.user_data.{key}",
        fr=(
            "Paramètre utilisateur non haché",
            f"Le paramètre {key} n’est pas haché. Hachez tous les paramètres utilisateur en "
            "SHA256, à l’exception de l’agent utilisateur du client, de l’identifiant de clic "
            "et de l’identifiant du navigateur.",
        ),
    )


_ABSENT = object()


def _check_user_data(
    user_data: Mapping[str, Any], config: RulesConfig, at: str, warnings: list[str]
) -> MetaError | None:
    pattern = HASH_STRICT if config.strict else HASH_COMPAT
    for key in HASHED_KEYS:  # rule 23
        value = user_data.get(key, _ABSENT)
        if value is _ABSENT:
            continue
        if isinstance(value, str):
            if not pattern.fullmatch(value):
                return _not_hashed(key, at)
            continue
        items = _string_or_list(value)
        if items is None or not all(pattern.fullmatch(item) for item in items):
            return _not_hashed(key, at)

    if (  # rule 24
        "external_id" in user_data
        and _string_or_list(user_data["external_id"], allow_numbers=not config.strict) is None
    ):
        return _param_error(
            "external_id must be a string or a list of strings.",
            rule=24,
            blame=f"{at}.user_data.external_id",
        )

    ip = user_data.get("client_ip_address")  # rule 25
    if ip is not None:
        if isinstance(ip, str) and HEX64.fullmatch(ip):
            return invalid_parameter(
                None,
                "Client IP Address Hashed",
                "client_ip_address must not be hashed.",
                rule=25,
                blame=f"{at}.user_data.client_ip_address",
            )
        if not isinstance(ip, str) or not valid_ip(ip):
            return invalid_parameter(
                None,
                "Invalid Client IP Address",
                "client_ip_address must be a valid IPv4 or IPv6 address, without a port.",
                rule=25,
                blame=f"{at}.user_data.client_ip_address",
            )

    fbc = user_data.get("fbc")  # rule 26, as Graph was recorded answering
    if fbc is not None:
        if not isinstance(fbc, str) or not FBC.fullmatch(fbc):
            return invalid_parameter(
                2804001,
                "Click ID Incorrectly Formatted",
                "The fbc parameter must be formatted as fb.subdomainIndex.creationTime.fbclid.",
                rule=26,
                blame=f"{at}.user_data.fbc",
                fr=(
                    "Identifiant de clic mal formaté",
                    "Le paramètre fbc doit être au format fb.subdomainIndex.creationTime.fbclid.",
                ),
            )
        if len(fbc.split(".")[2]) != 13:
            warnings.append(f"{at}: fbc creation time is not in milliseconds")

    fbp = user_data.get("fbp")  # rule 27 (assumed regex)
    if fbp is not None and (not isinstance(fbp, str) or not FBP.fullmatch(fbp)):
        return invalid_parameter(
            None,
            "Browser ID Incorrectly Formatted",
            "The fbp parameter must be formatted as fb.subdomainIndex.creationTime.random.",
            rule=27,
            blame=f"{at}.user_data.fbp",
        )

    for key in ("client_user_agent", "subscription_id", "anon_id", "madid", "ctwa_clid", "ig_sid"):
        if key in user_data and not isinstance(user_data[key], str):  # rule 28
            return _param_error(f"{key} must be a string.", rule=28, blame=f"{at}.user_data.{key}")
    for key in ("page_id", "page_scoped_user_id", "ig_account_id", "whatsapp_business_account_id"):
        value = user_data.get(key)
        if value is not None and not (isinstance(value, str) or _is_int(value)):
            return _param_error(f"{key} must be a string.", rule=28, blame=f"{at}.user_data.{key}")
    for key in ("fb_login_id", "lead_id"):
        if key in user_data and not _is_digits(user_data[key]):
            return _param_error(
                f"{key} must be an integer.", rule=28, blame=f"{at}.user_data.{key}"
            )

    present = {key for key, value in user_data.items() if key in USER_DATA_KEYS and value}
    if not present or any(present <= broad for broad in TOO_BROAD_SETS):  # rule 29
        return invalid_parameter(
            2804050,
            "Insufficient Customer Information",
            "This event has no customer information parameters or a combination so broad that "
            "it is unlikely to be effective for matching.",
            rule=29,
            blame=f"{at}.user_data",
            fr=(
                "Informations client insuffisantes",
                "Cet événement ne contient aucun paramètre d’informations client ou une "
                "combinaison trop large pour être efficace pour la mise en correspondance.",
            ),
        )
    return None


def _check_custom_data(event: Mapping[str, Any], config: RulesConfig, at: str) -> MetaError | None:
    custom = event.get("custom_data")
    where = f"{at}.custom_data"
    if custom is not None and not isinstance(custom, dict):  # rule 30
        return _param_error("custom_data must be an object.", rule=30, blame=where)
    custom = custom or {}

    for key in ("value", "predicted_ltv", "net_revenue"):  # rule 31
        if key in custom and not _is_number(custom[key]):
            return invalid_parameter(
                None, "Invalid Value", f"{key} must be a number.", rule=31, blame=f"{where}.{key}"
            )

    currency = custom.get("currency")  # rule 32 (ISO check assumed)
    if currency is not None and (
        not isinstance(currency, str) or currency.upper() not in CURRENCIES
    ):
        return invalid_parameter(
            None,
            "Invalid Currency Code",
            "currency must be a 3-letter ISO 4217 code.",
            rule=32,
            blame=f"{where}.currency",
        )

    if event.get("event_name") == "Purchase" and (  # rule 33 (2804019 is a placeholder)
        custom.get("value") in (None, "") or not currency
    ):
        return invalid_parameter(
            2804019,
            "Missing Value Or Currency",
            "Purchase events need custom_data.value and custom_data.currency.",
            rule=33,
            blame=where,
        )

    return _check_contents(custom, config, where)


def _delivery_category_error(where_it_is: Mapping[str, Any], blame: str) -> MetaError | None:
    """Rule 34: delivery_category, on custom_data or on one of its contents."""
    category = where_it_is.get("delivery_category")
    if category is None or category in ("in_store", "curbside", "home_delivery"):
        return None
    return invalid_parameter(
        None,
        "Invalid Delivery Category",
        "delivery_category is not valid.",
        rule=34,
        blame=f"{blame}.delivery_category",
    )


def _check_contents(custom: Mapping[str, Any], config: RulesConfig, where: str) -> MetaError | None:
    """Rule 34: content_ids, contents, content_type, delivery_category, num_items."""
    ids = custom.get("content_ids")
    if ids is not None and (
        not isinstance(ids, list)
        or not all(isinstance(i, str) or (not config.strict and _is_number(i)) for i in ids)
    ):
        return invalid_parameter(
            None,
            "Invalid Content IDs",
            "content_ids must be an array of strings.",
            rule=34,
            blame=f"{where}.content_ids",
        )
    contents = custom.get("contents")
    if contents is not None:
        if not isinstance(contents, list):
            return invalid_parameter(
                None,
                "Invalid Contents",
                "contents must be an array of objects.",
                rule=34,
                blame=f"{where}.contents",
            )
        for position, item in enumerate(contents):
            blame = f"{where}.contents[{position}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                return invalid_parameter(
                    None,
                    "Invalid Contents",
                    "each content needs a string id.",
                    rule=34,
                    blame=blame,
                )
            for key in ("quantity", "item_price"):
                if key in item and (isinstance(item[key], str) or not _is_number(item[key])):
                    return invalid_parameter(
                        None,
                        "Invalid Contents",
                        f"{key} must be a number.",
                        rule=34,
                        blame=f"{blame}.{key}",
                    )
            error = _delivery_category_error(item, blame)
            if error is not None:
                return error
    content_type = custom.get("content_type")
    if content_type is not None and content_type not in ("product", "product_group"):
        return invalid_parameter(
            None,
            "Invalid Content Type",
            "content_type must be product or product_group.",
            rule=34,
            blame=f"{where}.content_type",
        )
    error = _delivery_category_error(custom, where)
    if error is not None:
        return error
    if "num_items" in custom and not _is_int(custom["num_items"]):
        return invalid_parameter(
            None,
            "Invalid Number Of Items",
            "num_items must be an integer.",
            rule=34,
            blame=f"{where}.num_items",
        )
    return None
