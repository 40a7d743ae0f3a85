"""GET /openapi.json: every JSON endpoint, its schemas taken from the pydantic models that
parse and shape the bodies (schemas.py, errors.py), so the document follows the code."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from trackside import __version__
from trackside.reports.reconciliation import FILTERS, MAX_PAGE, MAX_PERIOD_DAYS
from trackside.sources.browser import Beacon
from trackside.web.errors import ErrorBody
from trackside.web.schemas import (
    CollectAccepted,
    EventLookup,
    EventsAccepted,
    EventsRequest,
    GraphError,
    GraphRequestBody,
    GraphSuccess,
    Health,
    OfflineImportSummary,
    WebhookAnswer,
)

_MODELS = (EventsRequest, EventsAccepted, EventLookup, ErrorBody, Health, GraphSuccess,
           GraphError, GraphRequestBody, Beacon, CollectAccepted, OfflineImportSummary,
           WebhookAnswer)


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "The body is JSON but not the expected shape",
               401: "No valid API key (a webhook: its signature matches no secret)",
               403: "The page's Origin is not in TRACKSIDE_ALLOWED_ORIGINS",
               404: "Not found (a webhook: no shop here has the platform's secret)",
               413: "Body over TRACKSIDE_MAX_BODY_BYTES (/collect: 64 KB)",
               415: "The body is not JSON (/collect: nor text/plain)",
               422: "No configured destination would ever take the event; nothing stored",
               429: "Too many events from this client address; see Retry-After",
               431: "Request line and headers over 64 KB (answered before routing)",
               503: "The store is unavailable; retry"}
    return {str(status): _json(ErrorBody, reasons[status]) for status in statuses}


def _graph_errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "Meta's refusal of the whole request (code 100, 104, 2635…); an invalid "
                    "event is always code 100 with is_transient false",
               401: "Invalid access token (code 190)", 413: "Body too large (code 100)",
               503: "The store failed: temporarily unavailable (code 2, is_transient)"}
    return {str(status): _json(GraphError, reasons[status]) for status in statuses}


_GRAPH_PARAMETERS = [
    {"name": "version", "in": "path", "required": True,
     "schema": {"type": "string", "pattern": r"^v\d+\.\d+$"}, "example": "v26.0"},
    {"name": "pixel_id", "in": "path", "required": True,
     "schema": {"type": "string", "pattern": r"^\d+$"}},
]


def _graph_other_methods() -> dict[str, Any]:
    # Graph answers other methods on this edge with a 400, code 100 (rule 1 in
    # destinations/meta/rules/errors.py), not with a 405; the document says so, so that clients
    # and schemathesis expect it.
    operation = {"summary": "Refused as Graph refuses it: only POST is supported",
                 "parameters": _GRAPH_PARAMETERS,
                 "responses": _graph_errors(400)}
    return {method: operation for method in ("get", "put", "patch", "delete")}


def _webhook_paths() -> dict[str, Any]:
    """POST /webhooks/<platform>[/{shop}] (web/webhooks.py, docs/api.md)."""
    paths: dict[str, Any] = {}
    signatures = {
        "shopify": "X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body",
        "woocommerce": "X-WC-Webhook-Signature is the base64 HMAC-SHA256 of the raw body",
        "stripe": "Stripe-Signature is t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                  "\"{t}.{raw body}\"> (t within 5 minutes)",
    }
    for platform, signature in signatures.items():
        operation: dict[str, Any] = {
            "summary": f"The {platform} webhooks of a shop (docs/sources.md)",
            "description": f"Signed by the platform: {signature} with the shop's secret, "
                           "checked before the body is read as JSON. Every authentic "
                           "delivery is answered 200.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": _json(WebhookAnswer, "Answered (see status)"),
                          **_errors(401, 404, 413, 431, 503)},
        }
        paths[f"/webhooks/{platform}"] = {"post": operation}
        paths[f"/webhooks/{platform}/{{shop}}"] = {"post": {**operation, "parameters": [
            {"name": "shop", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"}}]}}
    return paths


_MOMENT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].{1,29})?$"
_NUMBER_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
#: Times in ISO 8601 UTC with Z (trackside.isotime), as everywhere in the API.
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_TIME_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_MATCH_QUALITY: dict[str, Any] = {
    "type": "object", "required": ["since", "until", "events", "meta_status"],
    "properties": {
        "since": _TIME, "until": _TIME,
        "events": {"type": "array", "items": {
            "type": "object", "required": ["event_name", "count", "keys", "estimate", "meta"],
            "properties": {
                "event_name": {"type": "string"}, "count": {"type": "integer"},
                "keys": {"type": "object", "additionalProperties": {"type": "number"}},
                "estimate": {"type": "number", "minimum": 0, "maximum": 10},
                "meta": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                    "composite_score": _NUMBER_OR_NULL, "acr_percentage": _NUMBER_OR_NULL,
                    "event_coverage_percentage": _NUMBER_OR_NULL,
                    "fetched_at": _TIME}}]}}}},
        "meta_status": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "dataset_id": {"type": "string"}, "checked_at": _TIME,
            "fetched_at": _TIME_OR_NULL,
            "error": {"type": ["string", "null"]}}}]},
    },
}
_PERIOD_PARAMETERS: list[dict[str, Any]] = [
    {"name": "since", "in": "query", "required": True,
     "schema": {"type": "string", "format": "date"}, "description": "First day (UTC)"},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Last day, included (UTC); default today"},
]


def _object(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object"}}}}


def build_openapi() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(model, "validation" if model in (EventsRequest, GraphRequestBody, Beacon)
          else "serialization")
         for model in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    bearer: list[dict[str, list[str]]] = [{"apiKey": []}]
    graph_form = {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "string", "description": "A JSON array of events, as text."},
        "access_token": {"type": "string"}, "test_event_code": {"type": "string"},
    }}
    paths: dict[str, Any] = {
        "/v1/events": {"post": {
            "summary": "Accept up to 1,000 events",
            "description": "202 once the valid events are committed; invalid events (over a "
                           "limit, wrong types: see docs/api.md \"Limits\") and events no "
                           "configured destination would ever take (docs/api.md \"What is "
                           "refused at accept time\") are reported by index with the field "
                           "and the reason, and not stored; an event some destinations would "
                           "refuse is queued with a warning per destination. 422 when every "
                           "event was rejected (same body).",
            "security": bearer,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref(EventsRequest)}}},
            "responses": {"202": _json(EventsAccepted, "Per-event results"),
                          "422": _json(EventsAccepted, "Every event was rejected: nothing "
                                                       "was stored (per-event reasons)"),
                          "400": _json(ErrorBody, "The body is not JSON, or not "
                                                  "{\"events\": [1..1000 items]}"),
                          **_errors(401, 413, 431, 503)},
        }},
        "/v1/events/{event_id}": {"get": {
            "summary": "An event's timeline and outcome per destination",
            "security": bearer,
            "parameters": [{"name": "event_id", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1}}],
            "responses": {"200": _json(EventLookup, "Personal data shown hashed only"),
                          **_errors(401, 404)},
        }},
        "/v1/imports/offline": {"post": {
            "summary": "Offline sales from a CSV file (docs/offline-sales.md)",
            "description": "The file streams in; every 500 good lines are committed before more "
                           "is read. 200 with the summary and each rejected line (number, "
                           "column, reason); a 413 once streaming also carries `summary`.",
            "security": bearer,
            "parameters": [
                {"name": "action_source", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["physical_store", "phone_call"]}},
                {"name": "map", "in": "query", "required": False,
                 "schema": {"type": "array", "items": {"type": "string"}},
                 "description": "COLUMN=field, repeatable"},
            ],
            "requestBody": {"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}}}},
            "responses": {"200": _json(OfflineImportSummary, "The summary and per-line errors"),
                          **_errors(400, 401, 413, 415, 431, 503)},
        }},
        "/v1/reports/match-quality": {"get": {
            "summary": "Match quality per event name: key shares, trackside's estimate, Meta's",
            "description": "See docs/api.md; the period is on the events' own time.",
            "security": bearer,
            "parameters": [
                {"name": "since", "in": "query", "required": True, "schema": {
                    "type": "string", "pattern": _MOMENT,
                    "description": "YYYY-MM-DD (UTC) or ISO-8601"}},
                {"name": "until", "in": "query", "required": False, "schema": {
                    "type": "string", "pattern": _MOMENT,
                    "description": "YYYY-MM-DD (included) or ISO-8601"}}],
            "responses": {"200": {"description": "The report", "content": {
                "application/json": {"schema": _MATCH_QUALITY}}}, **_errors(400, 401)},
        }},
        "/v1/reports/reconciliation": {"get": {
            "summary": "The teardown: orders against the Meta pixel, per day and in total",
            "description": "Shape and definitions: docs/api.md \"Reports\". Days are UTC; "
                           f"a period covers at most {MAX_PERIOD_DAYS} days.",
            "security": bearer,
            "parameters": _PERIOD_PARAMETERS,
            "responses": {"200": _object("The report of the API key's shop"),
                          **_errors(400, 401, 503)},
        }},
        "/v1/reports/reconciliation/orders": {"get": {
            "summary": "The orders behind one number of the reconciliation, a page at a time",
            "security": bearer,
            "parameters": [*_PERIOD_PARAMETERS,
                           {"name": "filter", "in": "query", "schema": {"type": "string"},
                            "description": ", ".join(FILTERS) + ", delivered.<destination>, "
                                           "suppressed.<class>; default orders"},
                           {"name": "cursor", "in": "query", "schema": {"type": "string"},
                            "description": "next_cursor of the previous page"},
                           {"name": "limit", "in": "query", "schema": {
                               "type": "integer", "minimum": 1, "maximum": MAX_PAGE}}],
            "responses": {"200": _object("A page of orders and next_cursor"),
                          **_errors(400, 401, 503)},
        }},
        "/{version}/{pixel_id}/events": {**_graph_other_methods(), "post": {
            "summary": "Meta Graph API compatible Conversions API endpoint",
            "description": "Send what you would send to graph.facebook.com, with a trackside "
                           "API key as the access token.",
            "security": [{"apiKey": []}, {"accessToken": []}],
            "parameters": _GRAPH_PARAMETERS,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref(GraphRequestBody)},
                "application/x-www-form-urlencoded": {"schema": graph_form},
                "multipart/form-data": {"schema": graph_form},
            }},
            "responses": {"200": _json(GraphSuccess, "Accepted, as Meta answers"),
                          **_graph_errors(400, 401, 413, 503), **_errors(431)},
        }},
        "/collect": {"post": {
            "summary": "The browser tag's beacon (public; origin-checked, rate-limited)",
            "description": "What /t.js sends with sendBeacon (text/plain) or fetch (JSON). Sets "
                           "first-party _fbp/_fbc cookies. See docs/browser-tag.md.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref(Beacon)},
                "text/plain": {"schema": {"type": "string",
                                          "description": "A Beacon object as JSON text"}}}},
            "responses": {"202": _json(CollectAccepted, "Committed"),
                          **_errors(400, 403, 413, 415, 422, 429, 431, 503)},
        }},
        **_webhook_paths(),
        "/t.js": {"get": {
            "summary": "The browser tag (cacheable; ETag, or ?v=<version> for a year)",
            "responses": {"200": {"description": "JavaScript", "content": {
                "application/javascript": {"schema": {"type": "string"}}}},
                "304": {"description": "Not modified (If-None-Match)"}},
        }},
        "/healthz": {"get": {
            "summary": "Store reachable, worker alive, paused destinations",
            "responses": {"200": _json(Health, "Healthy or degraded (a destination paused)"),
                          "503": _json(Health, "Store cannot accept writes, or worker stalled")},
        }},
        "/metrics": {"get": {
            "summary": "Prometheus metrics",
            "responses": {"200": {"description": "Prometheus text format", "content": {
                "text/plain": {"schema": {"type": "string"}}}}},
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "trackside", "version": __version__,
                 "description": "Server-side conversion tracking gateway. See docs/api.md."},
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "A key from TRACKSIDE_API_KEYS"},
                "accessToken": {"type": "apiKey", "in": "query", "name": "access_token",
                                "description": "Graph-style: a trackside API key"},
            },
        },
    }
