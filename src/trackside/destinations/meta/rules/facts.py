"""Meta's facts the rules check against: limits, key sets, enums, patterns.

From Meta's pages: using-the-api (limits) and parameters/server-event, customer-information-
parameters, custom-data (fields), under
https://developers.facebook.com/documentation/ads-commerce/conversions-api/
"""

from __future__ import annotations

import re
from typing import Literal

from trackside.identity.keys import META_HASHED_KEYS, META_USER_DATA_KEYS
from trackside.identity.keys import TOO_BROAD_SETS as TOO_BROAD_SETS

Mode = Literal["strict", "compat"]

MAX_EVENTS = 1000  # Meta: up to 1,000 events per request (rule 7)
MAX_AGE_S = 7 * 86400  # older event_time: 100/2804003 (rule 12)
PHYSICAL_STORE_MAX_AGE_S = 62 * 86400  # Meta's physical_store guidance, behind a flag
MILLISECONDS_THRESHOLD = 10**11  # rule 11: a bigger event_time is milliseconds

ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)

# The key sets live in identity/keys.py, once for all of trackside (rule 29).
HASHED_KEYS = META_HASHED_KEYS
USER_DATA_KEYS = META_USER_DATA_KEYS
#: Meta's server event fields; rule 21 (strict) refuses anything else at event level.
EVENT_KEYS = frozenset(
    {
        "event_name",
        "event_time",
        "user_data",
        "custom_data",
        "event_source_url",
        "opt_out",
        "event_id",
        "action_source",
        "data_processing_options",
        "data_processing_options_country",
        "data_processing_options_state",
        "referrer_url",
        "customer_segmentation",
        "original_event_data",
        "attribution_data",
        "messaging_channel",
        "app_data",
        "advanced_measurement_table",
    }
)
CUSTOMER_SEGMENTS = frozenset(
    {
        "new_customer_to_business",
        "new_customer_to_business_line",
        "new_customer_to_product_area",
        "new_customer_to_medium",
        "existing_customer_to_business",
        "existing_customer_to_business_line",
        "existing_customer_to_product_area",
        "existing_customer_to_medium",
        "customer_in_loyalty_program",
    }
)
#: 0 geolocates, 1000-1013 are US states: Meta's data processing options page (the server event
#: page lists only 0 and 1000).
LDU_STATES = frozenset({0, *range(1000, 1014)})
STRING_PARAMS = (
    "test_event_code",
    "partner_agent",
    "namespace_id",
    "upload_id",
    "upload_tag",
    "upload_source",
)

#: ISO 4217 codes in use (rule 32, an assumed check). Funds and precious metals are left out:
#: nobody buys a product in XAU.
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD
    EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR
    ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
    MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
    PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF
    XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL""".split()
)

# Appendix Meta's Parameter Builder adds: 2-char legacy or 8-char base64url, see
# https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameter-builder-library
_APPENDIX = r"(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?"
HASH_STRICT = re.compile(r"[a-f0-9]{64}" + _APPENDIX)
HASH_COMPAT = re.compile(r"[a-fA-F0-9]{64}" + _APPENDIX)
HEX64 = re.compile(r"[a-fA-F0-9]{64}")
FBC = re.compile(r"fb\.\d+\.\d{10,13}\.[A-Za-z0-9_\-]+" + _APPENDIX)
FBP = re.compile(r"fb\.\d+\.\d{10,13}\.\d+" + _APPENDIX)
_VERSION = re.compile(r"v\d+\.\d+")
_IP_APPENDIX = re.compile(r"\.[A-Za-z0-9_-]{8}$")

GRAPH_DOCS = (
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
)
