"""Rules 10-34 of the strict fake Graph API: what it checks in each event.

The numbering runs on from meta_checks.py (rules 1-9, the request) to graph_api.py (35-38, the
answers). Each rule is the fake's own reading of Meta's pages on server event parameters
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event),
``user_data`` (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters)
and ``custom_data`` (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/custom-data);
it imports nothing from trackside. :func:`tests.fakes.meta_checks.check_body` runs
:class:`EventCheck` on each event of ``data`` in order, and the first failure refuses the whole
request, as Meta does: one invalid event rejects the whole batch
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pycountry

from tests.fakes import meta_errors as errors
from tests.fakes.meta_errors import GraphError

if TYPE_CHECKING:
    from tests.fakes.meta_checks import FakeRules

# Rule 12: "If any event_time in data is greater than 7 days in the past, we return an error for
# the entire request" (100 / 2804003); physical_store events "should" be uploaded within 62 days,
# which the fake allows behind a flag (server-event page, event_time).
SEVEN_DAYS_S = 7 * 24 * 3600
SIXTY_TWO_DAYS_S = 62 * 24 * 3600
#: Rule 11 (assumed): seconds since 1970 stay below this for three thousand years; a bigger
#: event_time was sent in milliseconds.
LARGEST_SECONDS = 10**11

ACTION_SOURCES = frozenset(  # rule 14: the server-event page's values, case-sensitive (assumed)
    "email website app phone_call chat physical_store system_generated business_messaging "
    "other".split()
)
#: The server-event page's field table; anything else is refused in strict mode (rule 21, assumed).
EVENT_FIELDS = frozenset(
    "event_name event_time user_data custom_data event_source_url opt_out event_id "
    "action_source data_processing_options data_processing_options_country "
    "data_processing_options_state referrer_url customer_segmentation original_event_data "
    "attribution_data messaging_channel app_data advanced_measurement_table".split()
)
CUSTOMER_SEGMENTATION = frozenset(
    f"{kind}_customer_to_{scope}"
    for kind in ("new", "existing")
    for scope in ("business", "business_line", "product_area", "medium")
) | {"customer_in_loyalty_program"}
#: Rule 23: contact keys that must arrive as SHA-256 hex (customer information parameters page).
MUST_BE_HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country")
#: That page's whole key table: what rule 29 counts as customer information.
CUSTOMER_INFORMATION = frozenset(MUST_BE_HASHED) | frozenset(
    "external_id client_ip_address client_user_agent fbc fbp subscription_id fb_login_id "
    "lead_id anon_id madid page_id page_scoped_user_id ctwa_clid ig_account_id ig_sid "
    "whatsapp_business_account_id f5first f5last fi dobd dobm doby".split()
)
#: Rule 29, Meta's "baseline matching rule" (since v13.0): only one of these sets, or part of one, is
#: too broad to match anybody (https://developers.facebook.com/documentation/ads-commerce/
#: conversions-api/best-practices).
TOO_BROAD = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
#: Rule 20: 0 = geolocate, 1000-1013 = US states
#: (https://developers.facebook.com/docs/marketing-apis/data-processing-options).
LDU_STATE_CODES = frozenset({0, *range(1000, 1014)})
#: Rule 32 (assumed check): any code of ISO 4217, case-insensitive: Meta's own curl example sends
#: "usd" (custom-data page).
ISO_4217 = frozenset(currency.alpha_3 for currency in pycountry.currencies)

#: The Parameter Builder's appendix: an 8-character base64url suffix, or the
#: 2-character legacy one (https://developers.facebook.com/documentation/ads-commerce/
#: conversions-api/parameter-builder-library).
_SUFFIX = r"(\.([A-Za-z0-9_-]{2}|[A-Za-z0-9_-]{8}))?"
_SHA256_LOWER = re.compile(rf"[0-9a-f]{{64}}{_SUFFIX}")
_SHA256_ANY_CASE = re.compile(rf"[0-9a-fA-F]{{64}}{_SUFFIX}")
_BARE_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
#: Rule 26: fb.{subdomain index}.{creation time, s or ms}.{fbclid: case-kept base64url}
#: (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc);
#: real fbclids carry - and _ (https://github.com/Setono/meta-conversions-api-php-sdk/pull/13).
_FBC_SHAPE = re.compile(rf"fb\.\d+\.\d{{10,13}}\.[A-Za-z0-9_-]+{_SUFFIX}")
_FBP_SHAPE = re.compile(rf"fb\.\d+\.\d{{10,13}}\.\d+{_SUFFIX}")  # assumed (rule 27)
_IP_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{8}$")


def _integer(value: Any) -> bool:
    return type(value) is int


def _integer_like(value: Any) -> bool:
    # isascii: str.isdigit() also takes digits such as "²" that int() refuses.
    return _integer(value) or (isinstance(value, str) and value.isascii() and value.isdigit())


def _finite_number(value: Any) -> bool:
    """A number or a numeric string (rule 31: Meta's fbp-and-fbc page example sends "142.52")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    return number - number == 0  # false for NaN and both infinities


def _strings(value: Any, numbers_too: bool = False) -> bool:
    """A string, or a non-empty list of strings, as every hashed key and external_id accept."""
    values = value if isinstance(value, list) else [value]
    accepted = (str, int) if numbers_too else (str,)
    return bool(values) and all(
        isinstance(item, accepted) and not isinstance(item, bool) for item in values
    )


def _ip_address(value: str) -> bool:
    for candidate in (value, _IP_SUFFIX.sub("", value)):
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            continue
        return True
    return False


def _web_url(value: Any) -> bool:
    if not isinstance(value, str) or any(character.isspace() for character in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class EventCheck:
    """Rules 10-34 on ``data[position]``; :meth:`run` gives the first failure or None."""

    def __init__(
        self,
        event: Mapping[str, Any],
        rules: FakeRules,
        now: float,
        position: int,
        warnings: list[str],
        *,
        offline_only: bool = False,
    ) -> None:
        #: Every event of the request is a physical_store one (the 62 days apply).
        self.offline_only = offline_only
        self.event = event
        self.rules = rules
        self.now = now
        self.at = f"data[{position}]"
        self.warnings = warnings
        user_data = event.get("user_data")
        self.user: Mapping[str, Any] = user_data if isinstance(user_data, dict) else {}

    def refuse(
        self,
        subcode: int | None,
        title: str,
        text: str,
        path: str = "",
        french: tuple[str, str] | None = None,
    ) -> GraphError:
        return errors.invalid_event(subcode, title, text, self.at + path, french)

    def bad_param(self, text: str, path: str) -> GraphError:
        return errors.parameter_error(text, blame=self.at + path)

    def run(self) -> GraphError | None:
        steps = (
            self.name,
            self.time,
            self.action_source,
            self.no_unknown_fields,
            self.user_data_is_object,
            self.per_action_source,
            self.optional_fields,
            self.limited_data_use,
            self.hashed_contact_keys,
            self.identifier_shapes,
            self.enough_customer_information,
            self.custom_data,
        )
        for step in steps:
            error = step()
            if error is not None:
                return error
        return None

    # -- event core (rules 10-14, 19, 21, 22) ----------------------------------------------------

    def name(self) -> GraphError | None:
        name = self.event.get("event_name")
        if isinstance(name, str) and name.strip():
            return None
        return self.refuse(
            None,
            "Missing Event Name",
            "Each event needs an event_name.",
            ".event_name",
            ("Nom d’événement manquant", "Chaque événement doit avoir un event_name."),
        )

    def time(self) -> GraphError | None:
        raw = self.event.get("event_time")
        # Meta's GTM server tag sends a numeric string, so digits in a string count too.
        seconds = int(raw) if _integer_like(raw) else None
        if seconds is None or not 0 <= seconds <= LARGEST_SECONDS:
            return self.refuse(
                None,
                "Invalid Event Time",
                "event_time must be a Unix timestamp in seconds.",
                ".event_time",
            )
        oldest = SEVEN_DAYS_S
        if self.rules.allow_physical_store_62d and self.offline_only and self.event.get(
            "action_source"
        ) == "physical_store":
            oldest = SIXTY_TWO_DAYS_S
        if seconds < self.now - oldest:
            # Rule 12: the answer recorded in rudderlabs/rudder-transformer's fixture
            # test/integrations/destinations/facebook_pixel/network.ts.
            return self.refuse(
                2804003,
                "Event Timestamp Too Old",
                "The timestamp for this event is too far in the past. Events need to be sent "
                "from your server within 7 days of when they occurred. Enter a timestamp that "
                "has occurred within the last 7 days.",
                ".event_time",
                (
                    "Horodatage de l’événement trop ancien",
                    "L’horodatage de cet événement est trop ancien. Les événements doivent "
                    "être envoyés depuis votre serveur dans les 7 jours suivant leur survenue.",
                ),
            )
        if seconds > self.now + self.rules.max_future_skew_s:  # rule 13 (assumed)
            return self.refuse(
                None,
                "Event Timestamp In The Future",
                "The timestamp for this event is in the future.",
                ".event_time",
            )
        return None

    def action_source(self) -> GraphError | None:
        source = self.event.get("action_source")
        if isinstance(source, str) and source in ACTION_SOURCES:
            return None
        return self.refuse(
            None,
            "Invalid Action Source",
            "action_source is required and must be one of: " + ", ".join(sorted(ACTION_SOURCES)),
            ".action_source",
        )

    def no_unknown_fields(self) -> GraphError | None:
        if not self.rules.strict:
            return None
        unknown = sorted(key for key in self.event if key not in EVENT_FIELDS)
        if unknown:
            return self.bad_param(f"Unknown event parameter {unknown[0]}", f".{unknown[0]}")
        return None

    def user_data_is_object(self) -> GraphError | None:
        if isinstance(self.event.get("user_data"), dict):
            return None
        return self.refuse(
            None, "Missing User Data", "user_data is required and must be an object.", ".user_data"
        )

    def optional_fields(self) -> GraphError | None:
        event = self.event
        if "opt_out" in event and not isinstance(event["opt_out"], bool):
            return self.bad_param("opt_out must be a boolean.", ".opt_out")
        event_id = event.get("event_id")
        # A number is taken and stringified (assumed).
        if event_id is not None and not (isinstance(event_id, str) or _integer(event_id)):
            return self.bad_param("event_id must be a string.", ".event_id")
        if event.get("referrer_url") is not None and not isinstance(event["referrer_url"], str):
            return self.bad_param("referrer_url must be a string.", ".referrer_url")
        original = event.get("original_event_data")
        badly_shaped = not isinstance(original, dict) or (
            "event_time" in original and not _integer_like(original["event_time"])
        )
        if original is not None and badly_shaped:
            return self.bad_param(
                "original_event_data must be an object with an integer event_time.",
                ".original_event_data",
            )
        segment = event.get("customer_segmentation")
        if segment is not None and not (
            isinstance(segment, str) and segment in CUSTOMER_SEGMENTATION
        ):
            return self.bad_param(
                "customer_segmentation is not a known value.", ".customer_segmentation"
            )
        return None

    # -- per action_source (rules 15-18) ---------------------------------------------------------

    def per_action_source(self) -> GraphError | None:
        source = self.event["action_source"]
        check = {
            "website": self.website,
            "business_messaging": self.business_messaging,
            "app": self.app,
            "system_generated": self.crm,
        }.get(source)
        return check() if check else None

    def website(self) -> GraphError | None:
        """Rule 15: website events need event_source_url and client_user_agent (server-event
        page); Graph v26.0 was seen taking them without the user agent, hence the switch."""
        if not _web_url(self.event.get("event_source_url")):
            return self.refuse(
                None,
                "Missing Event Source URL",
                "Website events need event_source_url, an absolute http(s) URL.",
                ".event_source_url",
            )
        if self.user.get("client_user_agent"):
            return None
        if self.rules.require_user_agent:
            return self.refuse(
                None,
                "Missing Client User Agent",
                "Website events need user_data.client_user_agent.",
                ".user_data.client_user_agent",
            )
        self.warnings.append(f"{self.at}: website event without client_user_agent")
        return None

    def business_messaging(self) -> GraphError | None:
        """Rule 16 (https://developers.facebook.com/documentation/ads-commerce/conversions-api/business-messaging)."""
        channel = self.event.get("messaging_channel")
        # Title observed by https://dev.to/lamas51/sending-telegram-bot-conversions-to-meta-dont-
        # reach-for-businessmessaging-1ecj
        if channel not in ("messenger", "whatsapp", "instagram"):
            return self.refuse(
                None,
                "Missing Messaging Channel Parameter",
                "messaging_channel must be one of messenger, whatsapp, instagram.",
                ".messaging_channel",
            )
        user = self.user
        if channel == "whatsapp" and not (
            user.get("page_id") or user.get("whatsapp_business_account_id")
        ):
            return self.refuse(
                2804116,
                "Missing Page ID",
                "WhatsApp events need page_id or whatsapp_business_account_id.",
                ".user_data",
            )
        if not self.rules.strict:  # the per-channel ids below are assumed requirements
            return None
        needed = {
            "whatsapp": ("ctwa_clid",),
            "messenger": ("page_id", "page_scoped_user_id"),
            "instagram": ("ig_account_id", "ig_sid"),
        }[channel]
        for key in needed:
            if not user.get(key):
                return self.refuse(
                    None,
                    "Missing Messaging Parameter",
                    f"{channel} events need user_data.{key}.",
                    f".user_data.{key}",
                )
        return None

    def app(self) -> GraphError | None:
        app_data = self.event.get("app_data")
        app_data = app_data if isinstance(app_data, dict) else {}
        extinfo = app_data.get("extinfo")
        # Rule 17 (server-event page, app_data): 16 positional values, the first a2 (Android)
        # or i2 (iOS).
        if not (isinstance(extinfo, list) and len(extinfo) == 16 and extinfo[0] in ("a2", "i2")):
            return self.refuse(
                None,
                "Invalid App Data",
                "App events need app_data.extinfo: 16 values, the first a2 or i2.",
                ".app_data.extinfo",
            )
        for key in ("advertiser_tracking_enabled", "application_tracking_enabled"):
            if key in app_data and not isinstance(app_data[key], bool):
                return self.refuse(
                    None, "Invalid App Data", f"{key} must be a boolean.", f".app_data.{key}"
                )
        return None

    def crm(self) -> GraphError | None:
        """Rule 18: CRM events name their CRM and a 15-17 digit lead id
        (https://developers.facebook.com/documentation/ads-commerce/conversions-api/conversion-leads-integration)."""
        custom = self.event.get("custom_data")
        if not isinstance(custom, dict) or custom.get("event_source") != "crm":
            return None
        lead_source = custom.get("lead_event_source")
        if not (isinstance(lead_source, str) and lead_source):
            return self.refuse(
                None,
                "Missing Lead Event Source",
                "CRM events need custom_data.lead_event_source.",
                ".custom_data.lead_event_source",
            )
        lead_id = self.user.get("lead_id")
        if lead_id is not None and not (_integer_like(lead_id) and 15 <= len(str(lead_id)) <= 17):
            return self.refuse(
                2804036,
                "Invalid Lead ID",
                "lead_id must be the 15-17 digit id of a Meta lead.",
                ".user_data.lead_id",
            )
        return None

    # -- Limited Data Use (rule 20) --------------------------------------------------------------

    def limited_data_use(self) -> GraphError | None:
        options = self.event.get("data_processing_options")
        if options is None:
            return None
        title = "Invalid Data Processing Options"
        if not isinstance(options, list) or any(option != "LDU" for option in options):
            return self.refuse(
                None,
                title,
                'data_processing_options must be [] or ["LDU"].',
                ".data_processing_options",
            )
        if not options:  # [] says "explicitly not LDU" (data-processing-options page)
            return None
        country = self.event.get("data_processing_options_country")
        state = self.event.get("data_processing_options_state")
        if country is not None and not (_integer(country) and country in (0, 1)):
            return self.refuse(
                None,
                title,
                "data_processing_options_country must be 0 or 1.",
                ".data_processing_options_country",
            )
        if state is not None and not (_integer(state) and state in LDU_STATE_CODES):
            return self.refuse(
                None,
                title,
                "data_processing_options_state must be 0 or 1000-1013.",
                ".data_processing_options_state",
            )
        # "If you set a country, you must also set a state"; with no IP Meta has nothing to
        # geolocate from.
        if state is None and (country is not None or not self.user.get("client_ip_address")):
            return self.refuse(
                None,
                title,
                "data_processing_options_state is required with LDU here.",
                ".data_processing_options_state",
            )
        return None

    # -- user_data (rules 23-29) -----------------------------------------------------------------

    def hashed_contact_keys(self) -> GraphError | None:
        """Rule 23: SHA-256 hex, a string or a list; lower-case hex only in strict mode."""
        shape = _SHA256_LOWER if self.rules.strict else _SHA256_ANY_CASE
        for key in MUST_BE_HASHED:
            if key not in self.user:
                continue
            value = self.user[key]
            values = value if isinstance(value, list) else [value]
            if values and all(isinstance(v, str) and shape.fullmatch(v) for v in values):
                continue
            # Observed body: https://github.com/facebook/facebook-java-business-sdk/issues/421
            return self.refuse(
                2804016,
                "User Parameter Not Hashed",
                f"The {key} parameter isn’t hashed. Hash all user parameters as SHA256, except "
                "for client user agent, click ID, and browser ID.",
                f".user_data.{key}",
                (
                    "Paramètre utilisateur non haché",
                    f"Le paramètre {key} n’est pas haché. Hachez tous les paramètres "
                    "utilisateur en SHA256, à l’exception de l’agent utilisateur du client, "
                    "de l’identifiant de clic et de l’identifiant du navigateur.",
                ),
            )
        return None

    def identifier_shapes(self) -> GraphError | None:
        """Rules 24-28: external_id, the never-hashed keys and the id types."""
        user = self.user
        if "external_id" in user and not _strings(
            user["external_id"], numbers_too=not self.rules.strict
        ):
            return self.bad_param(
                "external_id must be a string or a list of strings.", ".user_data.external_id"
            )
        ip = user.get("client_ip_address")
        if ip is not None:
            # Rule 25: an IPv4 or IPv6 address that "must never be hashed" (customer information
            # parameters page); the refusal's wording is assumed.
            if isinstance(ip, str) and _BARE_SHA256.fullmatch(ip):
                return self.refuse(
                    None,
                    "Client IP Address Hashed",
                    "client_ip_address must not be hashed.",
                    ".user_data.client_ip_address",
                )
            if not (isinstance(ip, str) and _ip_address(ip)):
                return self.refuse(
                    None,
                    "Invalid Client IP Address",
                    "client_ip_address must be a valid IPv4 or IPv6 address, without a port.",
                    ".user_data.client_ip_address",
                )
        fbc = user.get("fbc")
        if fbc is not None:
            if not (isinstance(fbc, str) and _FBC_SHAPE.fullmatch(fbc)):
                # https://github.com/Adsmurai-Google-Tag-Manager-Templates/
                # adsmurai-facebook-conversions-api-client/issues/6
                return self.refuse(
                    2804001,
                    "Click ID Incorrectly Formatted",
                    "The fbc parameter must be formatted as fb.subdomainIndex.creationTime.fbclid.",
                    ".user_data.fbc",
                    (
                        "Identifiant de clic mal formaté",
                        "Le paramètre fbc doit être au format "
                        "fb.subdomainIndex.creationTime.fbclid.",
                    ),
                )
            if len(fbc.split(".")[2]) != 13:
                self.warnings.append(f"{self.at}: fbc creation time is not in milliseconds")
        fbp = user.get("fbp")
        if fbp is not None and not (isinstance(fbp, str) and _FBP_SHAPE.fullmatch(fbp)):
            return self.refuse(
                None,
                "Browser ID Incorrectly Formatted",
                "The fbp parameter must be formatted as fb.subdomainIndex.creationTime.random.",
                ".user_data.fbp",
            )
        for key in ("client_user_agent", "subscription_id", "anon_id", "madid", "ctwa_clid",
                    "ig_sid"):
            if key in user and not isinstance(user[key], str):
                return self.bad_param(f"{key} must be a string.", f".user_data.{key}")
        for key in ("page_id", "page_scoped_user_id", "ig_account_id",
                    "whatsapp_business_account_id"):  # ids may be numbers
            value = user.get(key)
            if value is not None and not (isinstance(value, str) or _integer(value)):
                return self.bad_param(f"{key} must be a string.", f".user_data.{key}")
        for key in ("fb_login_id", "lead_id"):
            if key in user and not _integer_like(user[key]):
                return self.bad_param(f"{key} must be an integer.", f".user_data.{key}")
        return None

    def enough_customer_information(self) -> GraphError | None:
        """Rule 29; unknown user_data keys are ignored, so they never count here."""
        present = {key for key, value in self.user.items() if key in CUSTOMER_INFORMATION and value}
        if present and not any(present <= broad for broad in TOO_BROAD):
            return None
        # Setono/meta-conversions-api-php-sdk fixtures record this subcode.
        return self.refuse(
            2804050,
            "Insufficient Customer Information",
            "This event has no customer information parameters or a combination so broad that "
            "it is unlikely to be effective for matching.",
            ".user_data",
            (
                "Informations client insuffisantes",
                "Cet événement ne contient aucun paramètre d’informations client ou une "
                "combinaison trop large pour être efficace pour la mise en correspondance.",
            ),
        )

    # -- custom_data (rules 30-34) ---------------------------------------------------------------

    def custom_data(self) -> GraphError | None:
        custom = self.event.get("custom_data")
        if custom is None:
            custom = {}
        elif not isinstance(custom, dict):
            return self.bad_param("custom_data must be an object.", ".custom_data")
        for key in ("value", "predicted_ltv", "net_revenue"):
            if key in custom and not _finite_number(custom[key]):
                return self.refuse(
                    None, "Invalid Value", f"{key} must be a number.", f".custom_data.{key}"
                )
        currency = custom.get("currency")
        if currency is not None and not (
            isinstance(currency, str) and currency.upper() in ISO_4217
        ):
            return self.refuse(
                None,
                "Invalid Currency Code",
                "currency must be a 3-letter ISO 4217 code.",
                ".custom_data.currency",
            )
        if self.event.get("event_name") == "Purchase" and (
            custom.get("value") in (None, "") or not currency
        ):
            # Reported by users, subcode unverified: 2804019 is a labelled placeholder (rule 33).
            return self.refuse(
                2804019,
                "Missing Value Or Currency",
                "Purchase events need custom_data.value and custom_data.currency.",
                ".custom_data",
            )
        return self.contents(custom)

    def contents(self, custom: Mapping[str, Any]) -> GraphError | None:
        """Rule 34."""
        ids = custom.get("content_ids")
        if ids is not None:
            def content_id(item: Any) -> bool:
                return isinstance(item, str) or (not self.rules.strict and _finite_number(item))

            if not (isinstance(ids, list) and all(map(content_id, ids))):
                return self.refuse(
                    None,
                    "Invalid Content IDs",
                    "content_ids must be an array of strings.",
                    ".custom_data.content_ids",
                )
        contents = custom.get("contents")
        if contents is not None:
            if not isinstance(contents, list):
                return self.refuse(
                    None,
                    "Invalid Contents",
                    "contents must be an array of objects.",
                    ".custom_data.contents",
                )
            for position, item in enumerate(contents):
                where = f".custom_data.contents[{position}]"
                if not (isinstance(item, dict) and isinstance(item.get("id"), str)):
                    return self.refuse(
                        None, "Invalid Contents", "each content needs a string id.", where
                    )
                for key in ("quantity", "item_price"):
                    # Numbers proper here (rule 34 says numeric), unlike value's numeric strings.
                    value = item.get(key)
                    if key in item and (isinstance(value, str) or not _finite_number(value)):
                        return self.refuse(
                            None, "Invalid Contents", f"{key} must be a number.", f"{where}.{key}"
                        )
                error = self.delivery_category(item, where)
                if error is not None:
                    return error
        content_type = custom.get("content_type")
        if content_type is not None and content_type not in ("product", "product_group"):
            return self.refuse(
                None,
                "Invalid Content Type",
                "content_type must be product or product_group.",
                ".custom_data.content_type",
            )
        error = self.delivery_category(custom, ".custom_data")
        if error is not None:
            return error
        if "num_items" in custom and not _integer(custom["num_items"]):
            return self.refuse(
                None,
                "Invalid Number Of Items",
                "num_items must be an integer.",
                ".custom_data.num_items",
            )
        return None

    def delivery_category(self, holder: Mapping[str, Any], where: str) -> GraphError | None:
        category = holder.get("delivery_category")
        if category is None or category in ("in_store", "curbside", "home_delivery"):
            return None
        return self.refuse(
            None,
            "Invalid Delivery Category",
            "delivery_category is not valid.",
            f"{where}.delivery_category",
        )
