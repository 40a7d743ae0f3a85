"""The fake Graph API's ``GET /{version}/dataset_quality`` (Meta's Dataset Quality API,
https://developers.facebook.com/docs/marketing-api/conversions-api/dataset-quality-api),
with the fake's own checks, written from the docs:

- the token: ``Authorization: Bearer`` or ``access_token`` (Graph takes both; the location is
  recorded so a test can prove trackside never puts it in the URL), known to the fake's token
  registry, not expired;
- ``dataset_id``: required, a pixel the token may use (else 100/2044055, the unknown dataset);
- ``fields``: parsed (``web{a,b{c}}``), every name checked against :data:`FIELD_TABLE`; an
  unknown one is refused as Graph does, ``(#100) Tried accessing nonexisting field (x)``. Of the
  two spellings of the dedup feedback, only :attr:`DatasetQualityFake.served_spelling` is
  served (the other is refused), and :attr:`DatasetQualityFake.unserved` lists fields a
  version does not know (``acr`` before 2025-05-28), so trackside's fallback is exercised;
- a permission mode: the token lacks ads_read, code 10, as Meta answers without permission.

The answer is ``{"web": [...]}`` with only the requested fields of :attr:`figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.meta_checks import Grant
from tests.fakes.meta_errors import (
    GraphError,
    parameter_error,
    token_expired,
    token_required,
    token_unparseable,
)

#: The fields of a ``web`` entry Meta's field table lists, with their sub-fields (None: a leaf).
FIELD_TABLE: dict[str, Any] = {
    "event_name": None,
    "event_match_quality": {
        "composite_score": None,
        "match_key_feedback": {"identifier": None, "coverage": {"percentage": None}},
        "diagnostics": None,
    },
    "event_coverage": {"percentage": None, "goal_percentage": None},
    "dedupe_key_feedback": {"dedupe_key": None, "browser_events_with_dedupe_key": None,
                            "server_events_with_dedupe_key": None},
    "dedup_key_feedback": {"dedupe_key": None, "browser_events_with_dedupe_key": None,
                           "server_events_with_dedupe_key": None},
    "data_freshness": {"upload_frequency": None},
    "acr": {"percentage": None, "description": None},
}
DEDUP_SPELLINGS = ("dedupe_key_feedback", "dedup_key_feedback")


def default_figures() -> list[dict[str, Any]]:
    """A plausible answer's entries (the shape of the docs' example)."""
    return [
        {"event_name": "Purchase",
         "event_match_quality": {"composite_score": 7.4, "match_key_feedback": [
             {"identifier": "email", "coverage": {"percentage": 96.5}},
             {"identifier": "ip_address", "coverage": {"percentage": 88.0}}],
             "diagnostics": []},
         "event_coverage": {"percentage": 72.5, "goal_percentage": 75},
         "dedupe_key_feedback": [{"dedupe_key": "event_id",
                                  "browser_events_with_dedupe_key": {"percentage": 98.0},
                                  "server_events_with_dedupe_key": {"percentage": 100.0}}],
         "data_freshness": {"upload_frequency": "real_time"},
         "acr": {"percentage": 14.2, "description": "additional conversions reported"}},
        {"event_name": "AddToCart",
         "event_match_quality": {"composite_score": 5.1, "match_key_feedback": []},
         "event_coverage": {"percentage": 40.0, "goal_percentage": 75},
         "data_freshness": {"upload_frequency": "real_time"}},
    ]


class _Unparsable(ValueError):
    pass


def parse_fields(text: str) -> dict[str, Any]:
    """``web{a,b{c,d}}`` → {"web": {"a": None, "b": {"c": None, "d": None}}}."""
    position = 0

    def names() -> dict[str, Any]:
        nonlocal position
        found: dict[str, Any] = {}
        while True:
            start = position
            while position < len(text) and (text[position].isalnum() or text[position] == "_"):
                position += 1
            name = text[start:position]
            if not name:
                raise _Unparsable(text)
            sub = None
            if position < len(text) and text[position] == "{":
                position += 1
                sub = names()
                if position >= len(text) or text[position] != "}":
                    raise _Unparsable(text)
                position += 1
            found[name] = sub
            if position < len(text) and text[position] == ",":
                position += 1
                continue
            return found

    parsed = names()
    if position != len(text):
        raise _Unparsable(text)
    return parsed


def _project(value: Any, wanted: Mapping[str, Any] | None) -> Any:
    if wanted is None:
        return value
    if isinstance(value, list):
        return [_project(item, wanted) for item in value]
    if isinstance(value, dict):
        return {name: _project(value[name], sub) for name, sub in wanted.items() if name in value}
    return value


@dataclass
class DatasetQualityRequest:
    token_location: str | None
    query: dict[str, str]
    url: str
    status: int = 0


@dataclass
class DatasetQualityFake:
    """State and handler; the FakeGraphAPI routes ``/{version}/dataset_quality`` here."""

    tokens: dict[str, Grant]
    versions: frozenset[str]
    #: dataset id → its web entries (the spelling of the dedup field is normalized on answer).
    figures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    served_spelling: str = "dedupe_key_feedback"
    #: Fields this "version" refuses as nonexisting (e.g. {"acr"}).
    unserved: set[str] = field(default_factory=set)
    #: Answer code 10 (no permission) to every request.
    permission_denied: bool = False
    requests: list[DatasetQualityRequest] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        version = request.path_params["version"]
        token, location = None, None
        authorization = request.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            token, location = authorization[7:].strip(), "bearer"
        if "access_token" in request.query_params:
            token, location = request.query_params["access_token"], "query"
        record = DatasetQualityRequest(location, dict(request.query_params), str(request.url))
        self.requests.append(record)
        error = self._check(version, token, request.query_params)
        if error is not None:
            record.status = error.http_status
            return JSONResponse(error.body("FAKEtrace"), status_code=error.http_status)
        dataset = request.query_params["dataset_id"]
        wanted = parse_fields(request.query_params["fields"])["web"]
        entries = []
        for entry in self.figures.get(dataset, []):
            entry = dict(entry)
            for spelling in DEDUP_SPELLINGS:
                if spelling in entry:
                    entry[self.served_spelling] = entry.pop(spelling)
            entries.append(_project(entry, wanted))
        record.status = 200
        return JSONResponse({"web": entries})

    def _check(self, version: str, token: str | None,
               query: Mapping[str, str]) -> GraphError | None:
        if version not in self.versions:
            return GraphError(400, 2500, f"Unknown path components: /{version}")
        grant = self.tokens.get(token) if token else None
        if not token:
            return token_required()
        if grant is None:
            return token_unparseable()
        if grant.expired:
            return token_expired()
        if self.permission_denied:
            return GraphError(400, 10, "(#10) Application does not have permission for this "
                              "action", type="OAuthException")
        dataset = query.get("dataset_id")
        if not dataset:
            return parameter_error("The parameter dataset_id is required")
        if dataset not in grant.pixels:
            return GraphError(400, 100, f"Unsupported get request. Dataset '{dataset}' does "
                              "not exist or cannot be loaded", subcode=2044055)
        try:
            requested = parse_fields(query.get("fields", ""))
        except _Unparsable:
            return parameter_error("Syntax error in the fields parameter")
        if set(requested) != {"web"}:
            unknown = sorted(set(requested) - {"web"}) or ["web"]
            return parameter_error(f"Tried accessing nonexisting field ({unknown[0]})")
        return self._check_names(requested["web"], FIELD_TABLE, top=True)

    def _check_names(self, requested: Mapping[str, Any] | None, table: Mapping[str, Any] | None,
                     top: bool = False) -> GraphError | None:
        if requested is None:
            return None
        for name, sub in requested.items():
            refused = top and (name in self.unserved or (
                name in DEDUP_SPELLINGS and name != self.served_spelling))
            if table is None or name not in table or refused:
                return parameter_error(f"Tried accessing nonexisting field ({name})")
            error = self._check_names(sub, table[name])
            if error is not None:
                return error
        return None
