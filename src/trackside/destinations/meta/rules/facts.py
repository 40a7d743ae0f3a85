"""Meta's facts the rules check against: limits, key sets, enums, patterns.

spec/meta-capi.md §1-§4, §13.
"""

from __future__ import annotations

import re
from typing import Literal

from trackside.identity.keys import META_HASHED_KEYS, META_USER_DATA_KEYS
from trackside.identity.keys import TOO_BROAD_SETS as TOO_BROAD_SETS

Mode = Literal["strict", "compat"]

MAX_EVENTS = 1000  # §1.4, rule 7
MAX_AGE_S = 7 * 86400  # §2.2, rule 12
PHYSICAL_STORE_MAX_AGE_S = 62 * 86400  # §2.2, behind a flag
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

# The key sets live in identity/keys.py, once for all of trackside (§3.1 table, rule 29).
HASHED_KEYS = META_HASHED_KEYS
USER_DATA_KEYS = META_USER_DATA_KEYS
#: §2.1 field table; rule 21 (strict) refuses anything else at event level.
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
LDU_STATES = frozenset({0, *range(1000, 1014)})  # §2.1, DPO page values
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

# Appendix the Parameter Builder adds (§0.9, §3.2): 2-char legacy or 8-char base64url.
_APPENDIX = r"(?:\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})?"
_HASH_STRICT = re.compile(r"[a-f0-9]{64}" + _APPENDIX)
_HASH_COMPAT = re.compile(r"[a-fA-F0-9]{64}" + _APPENDIX)
_HEX64 = re.compile(r"[a-fA-F0-9]{64}")
_FBC = re.compile(r"fb\.\d+\.\d{10,13}\.[A-Za-z0-9_\-]+" + _APPENDIX)
_FBP = re.compile(r"fb\.\d+\.\d{10,13}\.\d+" + _APPENDIX)
_VERSION = re.compile(r"v\d+\.\d+")
_IP_APPENDIX = re.compile(r"\.[A-Za-z0-9_-]{8}$")

GRAPH_DOCS = (
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
)
