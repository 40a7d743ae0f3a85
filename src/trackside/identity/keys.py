"""Every set of customer-data key names, once.

Meta's key table: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters

Keys are Meta's ``user_data`` names, which trackside's NormalizedEvent also uses. Other
modules import these sets instead of writing their own lists, so adding a key is one edit.
"""

from __future__ import annotations

#: Keys Meta requires hashed (SHA-256 of the normalized value).
META_HASHED_KEYS: tuple[str, ...] = (
    "em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country",
)  # fmt: skip

#: Keys trackside hashes before storing: Meta's hashed keys plus external_id (Meta recommends
#: hashing it; TRACKSIDE_HASH_EXTERNAL_ID=false sends it as given).
HASHED_KEYS: tuple[str, ...] = (
    "em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id",
)  # fmt: skip

#: Keys sent in clear that come from the shopper's browser (IP, user agent, Meta's cookies).
#: Their arrival means "the browser was seen"; they are what the retention purge clears.
BROWSER_KEYS: frozenset[str] = frozenset(
    {"client_ip_address", "client_user_agent", "fbp", "fbc"}
)

#: What the retention purge clears from stored events and delivered payloads (only IP, user
#: agent and browser ids are stored in clear, docs/consent-and-privacy.md), in a stable order.
PURGED_KEYS: tuple[str, ...] = ("client_ip_address", "client_user_agent", "fbp", "fbc")

#: user_data keys a later copy of an event may add to the stored one (joining).
JOINABLE_KEYS: tuple[str, ...] = (
    "client_ip_address", "client_user_agent", "fbp", "fbc",
    "em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id",
)  # fmt: skip

#: Every user_data key Meta counts as customer information.
CUSTOMER_INFORMATION_KEYS: frozenset[str] = frozenset(
    {
        *META_HASHED_KEYS, "external_id",
        "client_ip_address", "client_user_agent", "fbc", "fbp", "subscription_id",
        "fb_login_id", "lead_id", "anon_id", "madid", "page_id", "page_scoped_user_id",
        "ctwa_clid", "ig_account_id", "ig_sid", "whatsapp_business_account_id",
    }
)  # fmt: skip

#: Every key Meta's table lists, the SDK's hashed-name variants (f5first, dobd, …) included; Meta's
#: ``user_data`` accepts nothing else.
META_USER_DATA_KEYS: frozenset[str] = frozenset(
    {*CUSTOMER_INFORMATION_KEYS, "f5first", "f5last", "fi", "dobd", "dobm", "doby"}
)

#: Meta's "baseline matching rule" since v13.0
#: (https://developers.facebook.com/documentation/ads-commerce/conversions-api/best-practices),
#: rule 29 in destinations/meta/rules/events.py, subcode 2804050: customer
#: information made only of one of these sets (or a subset) is too broad to match anyone.
TOO_BROAD_SETS: tuple[frozenset[str], ...] = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)

#: Keys whose values are personal data in any stored or sent document: Meta's user_data keys,
#: GA4's ids, trackside's own ids and the canonical input names. The API views hash what is
#: not already a hash under these keys.
PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        *CUSTOMER_INFORMATION_KEYS - {"page_id", "ig_account_id", "whatsapp_business_account_id"},
        "ga_client_id", "ga_session_id", "client_id", "user_id", "ip_override", "user_agent",
        "customer_id", "cart_id", "email", "phone", "ip",
    }
)  # fmt: skip


def too_broad(keys: frozenset[str] | set[str]) -> bool:
    """Rule 29: customer information made only of keys inside one too-broad set."""
    return any(keys <= broad for broad in TOO_BROAD_SETS)
