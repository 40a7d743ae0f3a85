"""Meta's Dataset Quality API: the request and the reading of its answer (no I/O here; the
periodic job in trackside/reports/dataset_quality.py sends it).

``GET /{version}/dataset_quality?dataset_id=<pixel>&fields=web{…}`` answers, per web event
name, Meta's Event Match Quality (``event_match_quality.composite_score`` and the coverage of
each match key), the event coverage, the dedup key feedback, the data freshness and the
"additional conversions reported" (``acr``)
(https://developers.facebook.com/docs/marketing-api/conversions-api/dataset-quality-api).
The access token travels in the ``Authorization`` header, never in the URL (URLs are logged
by proxies and by httpx).

Meta's field table spells the dedup field ``dedup_key_feedback`` while its answers (and one
public project's "(#100) Tried accessing nonexisting field (dedup_key_feedback)") use
``dedupe_key_feedback``: :data:`FIELD_LISTS` asks with one spelling, then the other, then
without the fields a version may not know (``acr`` was added on 2025-05-28), each time Meta
refuses the fields with code 100. Errors are told apart by their numeric code only, as Meta
asks (https://developers.facebook.com/docs/graph-api/guides/error-handling); Meta's message is
kept for the operator, never parsed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from trackside.destinations.meta.settings import MetaSettings

_EMQ = "event_match_quality{composite_score,match_key_feedback{identifier,coverage{percentage}}}"
_COVERAGE = "event_coverage{percentage,goal_percentage}"
_DEDUP = "{dedupe_key,browser_events_with_dedupe_key,server_events_with_dedupe_key}"
_REST = "data_freshness{upload_frequency},acr{percentage,description}"

#: The ``fields`` values tried in turn while Meta answers code 100 (a field it refuses).
FIELD_LISTS: tuple[str, ...] = (
    f"web{{event_name,{_EMQ},{_COVERAGE},dedupe_key_feedback{_DEDUP},{_REST}}}",
    f"web{{event_name,{_EMQ},{_COVERAGE},dedup_key_feedback{_DEDUP},{_REST}}}",
    f"web{{event_name,{_EMQ},{_COVERAGE},data_freshness{{upload_frequency}}}}",
    f"web{{event_name,{_EMQ}}}",
)
#: Graph's "invalid parameter": with this request, a field Meta does not serve.
FIELD_REFUSED_CODE = 100
#: 100 with this subcode is an unknown dataset (or one the token cannot see), not a field.
UNKNOWN_DATASET_SUBCODE = 2044055
#: Codes that mean the token may not read the dataset (Graph's permission errors: 10, 200-299).
PERMISSION_CODES = frozenset({10, *range(200, 300)})


@dataclass(frozen=True)
class DatasetQualityRequest:
    url: str
    params: dict[str, str]
    headers: dict[str, str]


def build_request(settings: MetaSettings, fields: str) -> DatasetQualityRequest:
    """The GET for ``settings``' pixel with ``fields`` (one of :data:`FIELD_LISTS`)."""
    assert settings.meta_pixel_id is not None and settings.meta_access_token is not None
    return DatasetQualityRequest(
        url=f"{settings.meta_graph_url}/{settings.meta_api_version}/dataset_quality",
        params={"dataset_id": settings.meta_pixel_id, "fields": fields},
        headers={"Authorization": f"Bearer {settings.meta_access_token.get_secret_value()}",
                 "Accept": "application/json"},
    )


@dataclass(frozen=True)
class EventFigures:
    """Meta's figures for one web event name (percentages as Meta gives them, 0-100)."""

    event_name: str
    composite_score: float | None = None
    #: Meta's identifier (``email``, ``phone``, ``ip_address``, …) → coverage percentage.
    match_key_coverage: dict[str, float] = field(default_factory=dict)
    event_coverage_percentage: float | None = None
    event_coverage_goal_percentage: float | None = None
    acr_percentage: float | None = None
    acr_description: str | None = None
    upload_frequency: str | None = None
    #: As Meta sent it, under either spelling.
    dedupe_key_feedback: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "composite_score": self.composite_score,
            "match_key_coverage": self.match_key_coverage,
            "event_coverage_percentage": self.event_coverage_percentage,
            "event_coverage_goal_percentage": self.event_coverage_goal_percentage,
            "acr_percentage": self.acr_percentage,
            "acr_description": self.acr_description,
            "upload_frequency": self.upload_frequency,
            "dedupe_key_feedback": self.dedupe_key_feedback,
        }


@dataclass(frozen=True)
class GraphRefusal:
    """Meta's error object, reduced to what trackside decides on and shows."""

    http_status: int
    code: int | None
    subcode: int | None
    message: str

    @property
    def fields_refused(self) -> bool:
        return self.code == FIELD_REFUSED_CODE and self.subcode != UNKNOWN_DATASET_SUBCODE

    def reason(self) -> str:
        """What the console shows instead of Meta's figures."""
        if self.code in PERMISSION_CODES:
            what = ("the access token may not read this dataset's quality (Meta needs "
                    "ads_read or ads_management on the pixel)")
        elif self.code == FIELD_REFUSED_CODE and self.subcode == UNKNOWN_DATASET_SUBCODE:
            what = "Meta knows no such dataset for this token (check TRACKSIDE_META_PIXEL_ID)"
        elif self.code == 190:
            what = "the access token is invalid or expired"
        elif self.code == FIELD_REFUSED_CODE:
            what = "Meta refused every field list trackside knows"
        else:
            what = "Meta refused the request"
        code = "" if self.code is None else f", code {self.code}"
        subcode = "" if self.subcode is None else f"/{self.subcode}"
        return f"{what} (HTTP {self.http_status}{code}{subcode}: {self.message})"


def read_answer(status: int, text: str) -> list[EventFigures] | GraphRefusal:
    """Meta's figures per event name, or its refusal; an answer of any other shape is a
    refusal too (code None), so nothing here raises on what Meta sends."""
    try:
        body = json.loads(text)
    except ValueError:
        return GraphRefusal(status, None, None, "the answer was not JSON")
    if not isinstance(body, dict):
        return GraphRefusal(status, None, None, "the answer was not a JSON object")
    error = body.get("error")
    if isinstance(error, dict) or status >= 400:
        error = error if isinstance(error, dict) else {}
        return GraphRefusal(status, _int(error.get("code")), _int(error.get("error_subcode")),
                            str(error.get("message") or "no message")[:500])
    entries = body.get("web")
    if entries is None and isinstance(body.get("data"), list) and body["data"]:
        first = body["data"][0]  # an edge-style answer: {"data": [{"web": [...]}]}
        entries = first.get("web") if isinstance(first, dict) else None
    if not isinstance(entries, list):
        return GraphRefusal(status, None, None, "the answer had no web figures")
    return [figures for entry in entries if (figures := _event_figures(entry)) is not None]


def _event_figures(entry: Any) -> EventFigures | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("event_name"), str):
        return None
    emq = _dict(entry.get("event_match_quality"))
    coverage: dict[str, float] = {}
    for key in emq.get("match_key_feedback") or []:
        if isinstance(key, dict) and isinstance(key.get("identifier"), str):
            percentage = _number(_dict(key.get("coverage")).get("percentage"))
            if percentage is not None:
                coverage[key["identifier"]] = percentage
    event_coverage = _dict(entry.get("event_coverage"))
    acr = _dict(entry.get("acr"))
    dedup = entry.get("dedupe_key_feedback", entry.get("dedup_key_feedback"))
    description = acr.get("description")
    frequency = _dict(entry.get("data_freshness")).get("upload_frequency")
    return EventFigures(
        event_name=entry["event_name"],
        composite_score=_number(emq.get("composite_score")),
        match_key_coverage=coverage,
        event_coverage_percentage=_number(event_coverage.get("percentage")),
        event_coverage_goal_percentage=_number(event_coverage.get("goal_percentage")),
        acr_percentage=_number(acr.get("percentage")),
        acr_description=description if isinstance(description, str) else None,
        upload_frequency=frequency if isinstance(frequency, str) else None,
        dedupe_key_feedback=dedup if isinstance(dedup, list) else [],
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)  # Graph sends some numbers as strings
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or number != int(number) else int(number)
