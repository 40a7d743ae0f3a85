"""Meta Conversions API request validator: spec/meta-capi.md §13, pure (no I/O).

One module answers "would Meta accept this request, and if not, exactly what would it say?".
The strict fake Graph API (tests/fakes/graph_api.py) answers HTTP with it, the dry-run
destination simulates a delivery with it, and the Meta destination runs the event-level rules on
each event before it is batched so that one bad event never gets a whole batch refused (§0.1).

Every refusal is one :class:`MetaError` for the WHOLE request (§13 conventions): the first rule
that fails wins, in the order Graph itself checks (transport, auth, body, then events in order).
Rules marked "assumed" are behaviour Meta does not document; :class:`RulesConfig.mode` switches
them between ``strict`` (refuse) and ``compat`` (what Graph v26.0 was observed to accept).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ACTION_SOURCES",
    "GraphRequest",
    "BodyError",
    "MetaError",
    "Mode",
    "Outcome",
    "RulesConfig",
    "TokenGrant",
    "check_auth",
    "check_event",
    "check_payload",
    "check_transport",
    "decode_body",
    "decode_data",
    "parse_request",
    "invalid_parameter",
    "version_key",
    "request_events",
    "appsecret_proof",
    "success_body",
    "validate",
]

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

HASHED_KEYS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country")
#: Every key §3.1 lists; rule 29 counts these as customer information.
USER_DATA_KEYS = frozenset(
    {
        *HASHED_KEYS,
        "external_id",
        "client_ip_address",
        "client_user_agent",
        "fbc",
        "fbp",
        "subscription_id",
        "fb_login_id",
        "lead_id",
        "anon_id",
        "madid",
        "page_id",
        "page_scoped_user_id",
        "ctwa_clid",
        "ig_account_id",
        "ig_sid",
        "whatsapp_business_account_id",
        "f5first",
        "f5last",
        "fi",
        "dobd",
        "dobm",
        "doby",
    }
)
#: Rule 29 (§3.1 baseline matching rule since v13.0): customer information made only of one of
#: these sets (or a subset) is too broad to match anyone.
TOO_BROAD_SETS = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
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


# -- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaError:
    """One Graph API error response, exactly as Meta shapes it (§1.5)."""

    http_status: int
    code: int
    message: str
    type: str = "OAuthException"
    subcode: int | None = None
    title: str | None = None
    user_msg: str | None = None
    #: (title, user_msg) in French: Meta localizes only these two fields (§0.7, rule 38).
    title_fr: str | None = None
    user_msg_fr: str | None = None
    is_transient: bool = False
    #: The §13 rule that produced it, for test names and dry-run reports; never sent.
    rule: int = 0
    #: Field path in the request, e.g. ``data[2].user_data.em`` (error_data.blame_field_specs).
    blame: str | None = None

    def body(self, fbtrace_id: str, language: str = "en") -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.is_transient
        french = language.lower().startswith("fr")
        title = self.title_fr if french and self.title_fr else self.title
        user_msg = self.user_msg_fr if french and self.user_msg_fr else self.user_msg
        if title is not None:
            error["error_user_title"] = title
        if user_msg is not None:
            error["error_user_msg"] = user_msg
        if self.blame is not None:
            error["error_data"] = {"blame_field_specs": [[self.blame]]}
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}

    def describe(self) -> str:
        """``code/subcode: title`` for logs and dead-letter reasons (English, never a secret)."""
        codes = f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)
        where = f" ({self.blame})" if self.blame else ""
        return f"{codes}: {self.user_msg or self.title or self.message}{where}"


def invalid_parameter(
    subcode: int | None,
    title: str,
    user_msg: str,
    rule: int,
    blame: str | None = None,
    fr: tuple[str, str] | None = None,
) -> MetaError:
    """The §13 default envelope: HTTP 400, code 100, "Invalid parameter"."""
    return MetaError(
        http_status=400,
        code=100,
        message="Invalid parameter",
        subcode=subcode,
        title=title,
        user_msg=user_msg,
        title_fr=fr[0] if fr else "Paramètre non valide",
        user_msg_fr=fr[1]
        if fr
        else f"Un paramètre de l’événement n’est pas valide : {blame or title}.",
        rule=rule,
        blame=blame,
    )


def _param_error(message: str, rule: int, blame: str | None = None) -> MetaError:
    """A plain ``(#100)`` error without user text, as Graph returns for request parameters."""
    return MetaError(http_status=400, code=100, message=f"(#100) {message}", rule=rule, blame=blame)


def unsupported_method(method: str) -> MetaError:  # rule 1 (assumed wording)
    return MetaError(
        http_status=400,
        code=100,
        type="GraphMethodException",
        message=f"Unsupported {method.lower()} request. {GRAPH_DOCS}",
        rule=1,
    )


def deprecated_version() -> MetaError:  # rule 2 (code from the Marketing API reference)
    return MetaError(
        http_status=400,
        code=2635,
        message="(#2635) You are calling a deprecated version of the Ads API. "
        "Please update to the latest version.",
        rule=2,
    )


def unknown_version(version: str) -> MetaError:  # rule 2, a version newer than configured
    return MetaError(
        http_status=400, code=2500, message=f"Unknown path components: /{version}", rule=2
    )


def missing_token() -> MetaError:  # rule 3 (assumed, standard Graph)
    return MetaError(
        http_status=400,
        code=104,
        message="An access token is required to request this resource.",
        rule=3,
    )


def invalid_token() -> MetaError:  # rule 3 [Obs]
    return MetaError(
        http_status=401,
        code=190,
        message="Invalid OAuth access token - Cannot parse access token",
        rule=3,
    )


def expired_token() -> MetaError:  # rule 3, subcode 463 [Doc]
    return MetaError(
        http_status=401,
        code=190,
        subcode=463,
        message="Error validating access token: Session has expired.",
        rule=3,
    )


def invalid_appsecret_proof() -> MetaError:  # rule 4 (assumed wording)
    return MetaError(
        http_status=400,
        code=100,
        message="Invalid appsecret_proof provided in the API argument",
        rule=4,
    )


def unknown_object(object_id: str) -> MetaError:  # rule 5 [Doc; rudder-transformer fixture]
    return MetaError(
        http_status=400,
        code=100,
        subcode=33,
        type="GraphMethodException",
        message=f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation. " + GRAPH_DOCS,
        rule=5,
    )


# -- the request -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    """What one access token may do (rules 3-5). The caller owns the registry."""

    pixels: frozenset[str]
    app_secret: str | None = field(default=None, repr=False)
    expired: bool = False
    #: Meta's "Require App Secret" app setting: refuse calls without appsecret_proof.
    require_proof: bool = False


@dataclass(frozen=True)
class RulesConfig:
    mode: Mode = "strict"
    #: Rule 2: versions Graph serves; older ones get 2635, unknown newer ones 2500.
    versions: tuple[str, ...] = ("v24.0", "v25.0", "v26.0")
    #: Rule 13 (assumed): how far in the future event_time may be.
    max_future_skew_s: int = 600
    #: Rule 12: accept physical_store events up to 62 days old (§2.2 ambiguity).
    allow_physical_store_62d: bool = False
    #: Rule 15: refuse website events without client_user_agent. Off by default even in
    #: strict mode: the docs say required, but Graph v26.0 was observed accepting them [Obs],
    #: and a store-side Purchase whose browser was never seen has no user agent to send.
    require_user_agent: bool = False

    @property
    def strict(self) -> bool:
        return self.mode == "strict"


@dataclass
class GraphRequest:
    """A CAPI call as Graph sees it: path parts, merged parameters, the token."""

    method: str
    version: str | None
    object_id: str
    #: Query and body parameters merged (body wins), minus ``access_token``.
    params: dict[str, Any]
    access_token: str | None = field(default=None, repr=False)
    content_type: str = ""


@dataclass
class Outcome:
    """``error`` is None when Meta would answer 200; warnings never refuse anything."""

    error: MetaError | None = None
    warnings: list[str] = field(default_factory=list)
    #: The decoded events when ``data`` could be decoded (rule 6).
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class BodyError(ValueError):
    """The body cannot be decoded as form, multipart or JSON (rule 6)."""


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Body parameters from form-urlencoded, multipart/form-data or JSON (§1.3)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return {}
    if media == "application/json" or (media == "" and body.lstrip()[:1] == b"{"):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BodyError("the request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise BodyError("a JSON request body must be an object")
        return parsed
    if media == "multipart/form-data":
        return _decode_multipart(body, content_type)
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyError("the form body is not UTF-8") from None
        return dict(parse_qsl(text, keep_blank_values=True))
    # Graph reads no parameters from other bodies; rule 6 then reports `data` missing.
    return {}


def _decode_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    # The stdlib MIME parser handles multipart/form-data; no extra dependency needed.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BodyError("the multipart body has no parts")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            params[str(name)] = payload.decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise BodyError(f"multipart field {name} is not text") from None
    return params


def parse_request(
    method: str,
    version: str | None,
    object_id: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> GraphRequest | MetaError:
    """Merge query and body parameters and find the token (§1.2: query, form, JSON, Bearer)."""
    content_type = headers.get("content-type", "")
    try:
        body_params = decode_body(body, content_type) if method.upper() == "POST" else {}
    except BodyError as exc:
        return _param_error(str(exc), rule=6)
    params: dict[str, Any] = {**query, **body_params}
    token = params.pop("access_token", None)
    authorization = headers.get("authorization", "")
    if token is None and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    if token is not None and not isinstance(token, str):
        token = None
    return GraphRequest(
        method=method.upper(),
        version=version,
        object_id=object_id,
        params=params,
        access_token=token or None,
        content_type=content_type,
    )


# -- request-level rules -----------------------------------------------------------------------


def version_key(version: str) -> tuple[int, int]:
    major, minor = version[1:].split(".")
    return int(major), int(minor)


def check_transport(request: GraphRequest, config: RulesConfig) -> MetaError | None:
    """Rules 1-3 (presence): method, version, a token at all."""
    if request.method != "POST":
        return unsupported_method(request.method)
    version = request.version
    # Unversioned calls are invalid against Marketing API endpoints (§1.1).
    if version is None or not _VERSION.fullmatch(version):
        return deprecated_version()
    if version not in config.versions:
        oldest = min(config.versions, key=version_key)
        if version_key(version) < version_key(oldest):
            return deprecated_version()
        return unknown_version(version)
    if not request.access_token:
        return missing_token()
    return None


def appsecret_proof(app_secret: str, token: str) -> str:
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def check_auth(request: GraphRequest, tokens: Mapping[str, TokenGrant]) -> MetaError | None:
    """Rules 3-5 against the caller's registry of tokens (the fake's, or the dry run's)."""
    token = request.access_token or ""
    grant = tokens.get(token)
    if grant is None:
        return invalid_token()
    if grant.expired:
        return expired_token()
    proof = request.params.get("appsecret_proof")
    if proof is not None or grant.require_proof:
        expected = appsecret_proof(grant.app_secret or "", token) if grant.app_secret else None
        if (
            expected is None
            or not isinstance(proof, str)
            or not hmac.compare_digest(proof.lower(), expected)
        ):
            return invalid_appsecret_proof()
    if request.object_id not in grant.pixels:
        return unknown_object(request.object_id)
    return None


def decode_data(raw: Any) -> list[dict[str, Any]] | MetaError:
    """Rule 6: ``data`` as a JSON array string or an array, of objects or JSON strings."""
    if raw is None:
        return _param_error("The parameter data is required", rule=6)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return _param_error("param data must be an array.", rule=6, blame="data")
    if not isinstance(raw, list):
        return _param_error("param data must be an array.", rule=6, blame="data")
    events: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except ValueError:
                item = None
        if not isinstance(item, dict):
            return _param_error(
                f"param data[{index}] must be a JSON object.", rule=6, blame=f"data[{index}]"
            )
        events.append(item)
    return events


def check_payload(
    request: GraphRequest, config: RulesConfig, now: float, outcome: Outcome | None = None
) -> Outcome:
    """Rules 6-8 on the parameters, then every event (rules 10-34)."""
    outcome = outcome or Outcome()
    events = decode_data(request.params.get("data"))
    if isinstance(events, MetaError):
        outcome.error = events
        return outcome
    outcome.events = events
    if not 1 <= len(events) <= MAX_EVENTS:  # rule 7; empty refused (assumed)
        outcome.error = _param_error(
            f"param data must contain between 1 and {MAX_EVENTS} events.", rule=7, blame="data"
        )
        return outcome
    for name in STRING_PARAMS:  # rule 8
        value = request.params.get(name)
        if value is not None and not isinstance(value, str):
            outcome.error = _param_error(f"Param {name} must be a string.", rule=8, blame=name)
            return outcome
    for name, kind in (("platforms", list), ("progress", dict)):
        value = request.params.get(name)
        if isinstance(value, str):  # form fields carry JSON text
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if value is not None and not isinstance(value, kind):
            outcome.error = _param_error(f"Param {name} has the wrong type.", rule=8, blame=name)
            return outcome
    agent = request.params.get("partner_agent")
    if isinstance(agent, str) and (len(agent) >= 23 or sum(c.isalpha() for c in agent) < 2):
        outcome.warnings.append("partner_agent should be < 23 characters with 2+ letters")
    for index, event in enumerate(events):
        error = check_event(event, config, now, index=index, warnings=outcome.warnings)
        if error is not None:
            outcome.error = error
            return outcome
    return outcome


def validate(
    request: GraphRequest,
    config: RulesConfig,
    now: float,
    tokens: Mapping[str, TokenGrant] | None = None,
) -> Outcome:
    """Every rule in Graph's order; ``tokens=None`` skips the registry rules (3-5)."""
    error = check_transport(request, config)
    if error is None and tokens is not None:
        error = check_auth(request, tokens)
    if error is not None:
        return Outcome(error=error)
    return check_payload(request, config, now)


def success_body(events_received: int, fbtrace_id: str) -> dict[str, Any]:  # rule 35
    return {"events_received": events_received, "messages": [], "fbtrace_id": fbtrace_id}


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
    return _is_int(value) or (isinstance(value, str) and value.isdigit())


_WHITESPACE = re.compile(r"\s")


def _absolute_url(value: Any) -> bool:
    if not isinstance(value, str) or _WHITESPACE.search(value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _valid_ip(value: str) -> bool:
    # A Parameter Builder appendix may follow the address (§3.1): 1.2.3.4.ABcDEFGh.
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
    if source not in ACTION_SOURCES:
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
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        value = int(raw.strip())  # Meta's GTM tag sends numeric strings (§2.1)
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
    if value < now - max_age:  # rule 12 [Doc/Obs]
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
        if not _absolute_url(url):
            return invalid_parameter(
                None,
                "Missing Event Source URL",
                "Website events need event_source_url, an absolute http(s) URL.",
                rule=15,
                blame=f"{at}.event_source_url",
            )
        if not user_data.get("client_user_agent"):
            # [Doc] says required; Graph v26.0 was observed accepting it without [Obs].
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
        if not isinstance(extinfo, list) or len(extinfo) != 16 or extinfo[0] not in ("a2", "i2"):
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
    if segment is not None and segment not in CUSTOMER_SEGMENTS:
        return _param_error(
            "customer_segmentation is not a known value.",
            rule=19,
            blame=f"{at}.customer_segmentation",
        )
    return None


def _check_ldu(event: Mapping[str, Any], user_data: Mapping[str, Any], at: str) -> MetaError | None:
    """Rule 20: Limited Data Use (§2.1)."""
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
    pattern = _HASH_STRICT if config.strict else _HASH_COMPAT
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

    if "external_id" in user_data:  # rule 24
        if _string_or_list(user_data["external_id"], allow_numbers=not config.strict) is None:
            return _param_error(
                "external_id must be a string or a list of strings.",
                rule=24,
                blame=f"{at}.user_data.external_id",
            )

    ip = user_data.get("client_ip_address")  # rule 25
    if ip is not None:
        if isinstance(ip, str) and _HEX64.fullmatch(ip):
            return invalid_parameter(
                None,
                "Client IP Address Hashed",
                "client_ip_address must not be hashed.",
                rule=25,
                blame=f"{at}.user_data.client_ip_address",
            )
        if not isinstance(ip, str) or not _valid_ip(ip):
            return invalid_parameter(
                None,
                "Invalid Client IP Address",
                "client_ip_address must be a valid IPv4 or IPv6 address, without a port.",
                rule=25,
                blame=f"{at}.user_data.client_ip_address",
            )

    fbc = user_data.get("fbc")  # rule 26 [Obs]
    if fbc is not None:
        if not isinstance(fbc, str) or not _FBC.fullmatch(fbc):
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
    if fbp is not None and (not isinstance(fbp, str) or not _FBP.fullmatch(fbp)):
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


def request_events(request: GraphRequest) -> Sequence[dict[str, Any]]:
    """The decoded events of a request that passed validation (empty when undecodable)."""
    events = decode_data(request.params.get("data"))
    return [] if isinstance(events, MetaError) else events
