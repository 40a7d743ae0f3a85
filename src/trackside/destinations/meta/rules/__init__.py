"""Meta Conversions API request validator, pure (no I/O).

One module answers "would Meta accept this request, and if not, exactly what would it say?".
The Graph-compatible endpoint (web/graph.py) answers HTTP with it, the dry run's transport
(dryrun/transport.py) answers the worker's requests with it, and the Meta destination runs the
event-level rules on each event before it is batched so that one bad event never gets a whole
batch refused ("If any event you send in a batch is invalid, we reject the entire batch":
https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api).

Every refusal is one :class:`MetaError` for the WHOLE request: the first rule that fails wins,
in the order Graph itself checks (transport, auth, body, then events in order). The rules are
numbered (``MetaError.rule``; "rule N" in comments and test names, each at its check): 1-9 and
35 in request.py, 10-34 in events.py. The strict fake Graph API numbers its own, independent
checks the same way (tests/fakes/meta_checks.py 1-9, meta_event_checks.py 10-34, graph_api.py
35-38: the success body, dedup, fault injection and French error text).
Rules marked "assumed" are behaviour Meta does not document; :class:`RulesConfig.mode` switches
them between ``strict`` (refuse) and ``compat`` (what Graph v26.0 was observed to accept).
"""

from __future__ import annotations

from trackside.destinations.meta.rules.errors import (
    MetaError,
    deprecated_version,
    expired_token,
    invalid_appsecret_proof,
    invalid_parameter,
    invalid_token,
    missing_token,
    unknown_object,
    unknown_version,
    unsupported_method,
)
from trackside.destinations.meta.rules.events import (
    check_event,
)
from trackside.destinations.meta.rules.facts import (
    ACTION_SOURCES,
    CURRENCIES,
    CUSTOMER_SEGMENTS,
    EVENT_KEYS,
    GRAPH_DOCS,
    HASHED_KEYS,
    LDU_STATES,
    MAX_AGE_S,
    MAX_EVENTS,
    MILLISECONDS_THRESHOLD,
    PHYSICAL_STORE_MAX_AGE_S,
    STRING_PARAMS,
    TOO_BROAD_SETS,
    USER_DATA_KEYS,
    Mode,
)
from trackside.destinations.meta.rules.model import (
    BodyError,
    GraphRequest,
    Outcome,
    RulesConfig,
    TokenGrant,
)
from trackside.destinations.meta.rules.request import (
    appsecret_proof,
    check_auth,
    check_payload,
    check_transport,
    decode_body,
    decode_data,
    parse_request,
    request_events,
    success_body,
    validate,
    version_key,
)

__all__ = [
    "ACTION_SOURCES",
    "CURRENCIES",
    "CUSTOMER_SEGMENTS",
    "EVENT_KEYS",
    "GRAPH_DOCS",
    "HASHED_KEYS",
    "LDU_STATES",
    "MAX_AGE_S",
    "MAX_EVENTS",
    "MILLISECONDS_THRESHOLD",
    "PHYSICAL_STORE_MAX_AGE_S",
    "STRING_PARAMS",
    "TOO_BROAD_SETS",
    "USER_DATA_KEYS",
    "BodyError",
    "GraphRequest",
    "MetaError",
    "Mode",
    "Outcome",
    "RulesConfig",
    "TokenGrant",
    "appsecret_proof",
    "check_auth",
    "check_event",
    "check_payload",
    "check_transport",
    "decode_body",
    "decode_data",
    "deprecated_version",
    "expired_token",
    "invalid_appsecret_proof",
    "invalid_parameter",
    "invalid_token",
    "missing_token",
    "parse_request",
    "request_events",
    "success_body",
    "unknown_object",
    "unknown_version",
    "unsupported_method",
    "validate",
    "version_key",
]
