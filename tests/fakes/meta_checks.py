"""What the fake Graph API checks in ``POST /{version}/{pixel}/events``, from Meta's own pages.

Rules 1-9 here (request shape, encodings, limits; the event rules 10-34 are in
:mod:`tests.fakes.meta_event_checks`) are read from Meta's CAPI guide
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api) and
the edge reference (https://developers.facebook.com/docs/marketing-api/reference/ads-pixel/events/),
and written for this fake alone: it imports nothing from ``trackside``. trackside's own validator
(``trackside.destinations.meta.rules``) is what the tests exercise; if the two agreed by
construction, a bug in it could never fail a test. ``tests/integration/test_fake_is_independent
.py`` holds both against one table of the answers Meta documents or was seen to give.

The checks run in the order Graph reports them: transport (:func:`check_route`), the token
(:func:`check_grant`), then the body (:func:`check_body`): ``data`` and the request parameters,
then each event in order (:class:`~tests.fakes.meta_event_checks.EventCheck`). The first
failure refuses the whole request, as Graph does.

Rules marked "assumed" (behaviour Meta does not document) follow :class:`FakeRules.mode`:
``strict`` refuses, ``compat`` accepts what Graph v26.0 was observed to accept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import meta_errors as errors
from tests.fakes.meta_errors import GraphError
from tests.fakes.meta_event_checks import EventCheck

MAX_EVENTS_PER_REQUEST = 1000  # rule 7: "up to 1,000 events" per request (using-the-api)


@dataclass(frozen=True)
class FakeRules:
    """The fake's switches. Field names match trackside's ``RulesConfig`` so a test can hand
    either one to :class:`~tests.fakes.graph_api.FakeGraphAPI` (see :meth:`adopt`)."""

    mode: str = "strict"
    #: Rule 2: the versions Graph serves (default v24.0-v26.0,
    #: https://developers.facebook.com/docs/graph-api/changelog).
    versions: tuple[str, ...] = ("v24.0", "v25.0", "v26.0")
    #: Rule 13 (assumed): how far in the future event_time may be.
    max_future_skew_s: int = 600
    #: Rule 12: physical_store events up to 62 days old (Meta's server-event page leaves open
    #: whether its 62-day guidance overrides the 7-day refusal).
    allow_physical_store_62d: bool = False
    #: Rule 15: refuse website events without client_user_agent. The docs say required, but
    #: Graph v26.0 was observed accepting them, so it is a switch of its own.
    require_user_agent: bool = False

    @property
    def strict(self) -> bool:
        return self.mode == "strict"

    @classmethod
    def adopt(cls, config: Any) -> FakeRules:
        """Read the switches off any object that has them (duck-typed: no trackside import)."""
        if config is None:
            return cls()
        if isinstance(config, FakeRules):
            return config
        defaults = cls()
        return cls(
            **{
                name: getattr(config, name, getattr(defaults, name))
                for name in cls.__dataclass_fields__
            }
        )


@dataclass(frozen=True)
class Grant:
    """What one access token may do in the fake's registry (rules 3-5)."""

    pixels: frozenset[str]
    app_secret: str | None = field(default=None, repr=False)
    expired: bool = False
    #: Meta's "Require App Secret" app setting: refuse calls without appsecret_proof.
    require_proof: bool = False


@dataclass
class Call:
    """One request as Graph reads it: query and body parameters merged (the body wins)."""

    method: str
    version: str | None
    object_id: str
    params: dict[str, Any]
    token: str | None = field(default=None, repr=False)
    #: "query", "body", "bearer" or None.
    token_location: str | None = None


@dataclass
class Verdict:
    """The events Graph would take, or the one error that refuses them all."""

    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: GraphError | None = None


def version_order(version: str) -> tuple[int, int]:
    """``"v26.0"`` → ``(26, 0)``."""
    major, _, minor = version.lstrip("v").partition(".")
    return int(major), int(minor or 0)


def appsecret_proof(app_secret: str, token: str) -> str:
    """Rule 4: hex HMAC-SHA256 keyed by the app secret over the token, as Meta's SDK computes it
    (facebook-business ``facebook_business/session.py``)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


# -- reading the request: token places and body encodings ---------------------------------------


class _Unreadable(Exception):
    pass


def _form_fields(text: bytes) -> dict[str, Any]:
    try:
        return dict(parse_qsl(text.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise _Unreadable("the form body is not UTF-8") from None


def _multipart_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """``multipart/form-data`` (Meta's curl example, ``-F data=[...]``), split by hand."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _Unreadable("the multipart body has no boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    fields: dict[str, Any] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, separator, value = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise _Unreadable("a multipart part has no header block")
        part = Message()
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, content = line.partition(":")
            if colon:
                part[name.strip()] = content.strip()
        field_name = part.get_param("name", header="content-disposition")
        if not isinstance(field_name, str):
            continue
        try:
            fields[field_name] = value.decode(part.get_content_charset() or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise _Unreadable(f"multipart field {field_name} is not text") from None
    return fields


def _body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    media = content_type.partition(";")[0].strip().lower()
    if not body.strip():
        return {}
    looks_like_json = media == "" and body.lstrip().startswith(b"{")
    if media == "application/json" or looks_like_json:
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Unreadable("the request body is not valid JSON") from None
        if not isinstance(decoded, dict):
            raise _Unreadable("a JSON request body must be an object")
        return decoded
    if media == "multipart/form-data":
        return _multipart_fields(body, content_type)
    if media in ("", "application/x-www-form-urlencoded"):
        return _form_fields(body)
    return {}  # Graph reads no parameters from other bodies: rule 6 then finds no `data`


def read_call(
    method: str,
    version: str | None,
    object_id: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Call | GraphError:
    """The token may sit in the query, a form field, a JSON field or ``Authorization: Bearer``
    (rule 3: all four were seen working on Graph); ``headers`` have lower-case names."""
    fields: dict[str, Any] = {}
    if method.upper() == "POST":
        try:
            fields = _body_fields(body, headers.get("content-type", ""))
        except _Unreadable as exc:
            return errors.parameter_error(str(exc))
    params = {**query, **fields}
    token: Any = params.pop("access_token", None)
    location = "query" if "access_token" in query else ("body" if token is not None else None)
    authorization = headers.get("authorization", "")
    if token is None and authorization[:7].lower() == "bearer ":
        token, location = authorization[7:].strip(), "bearer"
    if not isinstance(token, str) or not token:
        token = None
    return Call(method.upper(), version, object_id, params, token, location)


# -- rules 1-5 ---------------------------------------------------------------------------------

_VERSION_SHAPE = re.compile(r"v\d+\.\d+")


def check_route(call: Call, rules: FakeRules) -> GraphError | None:
    """Rules 1-3: only POST, a version Graph serves, a token at all."""
    if call.method != "POST":
        return errors.method_not_supported(call.method)
    version = call.version
    if version is None or not _VERSION_SHAPE.fullmatch(version):
        return errors.version_deprecated()
    if version not in rules.versions:
        oldest = min(rules.versions, key=version_order)
        if version_order(version) < version_order(oldest):
            return errors.version_deprecated()
        return errors.version_unknown(version)
    if call.token is None:
        return errors.token_required()
    return None


def check_grant(call: Call, tokens: Mapping[str, Grant]) -> GraphError | None:
    """Rules 3-5 against the fake's registry: known token, not expired, proof, pixel access."""
    grant = tokens.get(call.token or "")
    if grant is None:
        return errors.token_unparseable()
    if grant.expired:
        return errors.token_expired()
    proof = call.params.get("appsecret_proof")
    if proof is not None or grant.require_proof:
        good = (
            grant.app_secret is not None
            and isinstance(proof, str)
            and hmac.compare_digest(
                proof.lower(), appsecret_proof(grant.app_secret, call.token or "")
            )
        )
        if not good:
            return errors.appsecret_proof_mismatch()
    if call.object_id not in grant.pixels:
        return errors.object_not_found(call.object_id)
    return None


# -- rules 6-9: data and the request parameters ------------------------------------------------


def decode_events(raw: Any) -> list[dict[str, Any]] | GraphError:
    """Rule 6: ``data`` is a JSON array or its text, of objects or of JSON-encoded objects (the
    edge reference types it ``list<JSON-encoded string>``; the Python SDK json-dumps each event,
    then the list)."""
    if raw is None:
        return errors.parameter_error("The parameter data is required")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return errors.parameter_error("param data must be an array.", blame="data")
    if not isinstance(raw, list):
        return errors.parameter_error("param data must be an array.", blame="data")
    events = []
    for position, element in enumerate(raw):
        if isinstance(element, str):
            try:
                element = json.loads(element)
            except ValueError:
                pass
        if not isinstance(element, dict):
            return errors.parameter_error(
                f"param data[{position}] must be a JSON object.", blame=f"data[{position}]"
            )
        events.append(element)
    return events


_TEXT_PARAMS = (
    "test_event_code",
    "partner_agent",
    "namespace_id",
    "upload_id",
    "upload_tag",
    "upload_source",
)


def _check_request_params(params: Mapping[str, Any], warnings: list[str]) -> GraphError | None:
    """Rule 8; rule 9 (assumed): any other top-level key is ignored, as Graph does."""
    for name in _TEXT_PARAMS:
        if name in params and params[name] is not None and not isinstance(params[name], str):
            return errors.parameter_error(f"Param {name} must be a string.", blame=name)
    for name, shape in (("platforms", list), ("progress", dict)):
        value = params.get(name)
        if isinstance(value, str):  # a form field carries JSON text
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if value is not None and not isinstance(value, shape):
            return errors.parameter_error(f"Param {name} has the wrong type.", blame=name)
    agent = params.get("partner_agent")
    # Guidance only: "fewer than 23 characters with at least two letters" (Meta's end-to-end
    # implementation guide).
    if isinstance(agent, str) and (len(agent) >= 23 or sum(map(str.isalpha, agent)) < 2):
        warnings.append("partner_agent should be under 23 characters with two letters or more")
    return None


def check_body(call: Call, rules: FakeRules, now: float) -> Verdict:
    """Rules 6-34 on a call that passed :func:`check_route` and :func:`check_grant`."""
    verdict = Verdict()
    events = decode_events(call.params.get("data"))
    if isinstance(events, GraphError):
        verdict.error = events
        return verdict
    verdict.events = events
    if not events or len(events) > MAX_EVENTS_PER_REQUEST:  # rule 7; empty refused (assumed)
        verdict.error = errors.parameter_error(
            f"param data must contain between 1 and {MAX_EVENTS_PER_REQUEST} events.",
            blame="data",
        )
        return verdict
    verdict.error = _check_request_params(call.params, verdict.warnings)
    # "If any event_time in data is greater than 7 days in the past, we return an error for
    # the entire request"
    # (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event):
    # the 62 days of physical_store uploads are
    # taken only in a request of physical_store events alone; beside a website (or any other)
    # event, an event older than 7 days fails the whole request.
    offline_only = all(event.get("action_source") == "physical_store" for event in events)
    for position, event in enumerate(events):
        if verdict.error is not None:
            break
        verdict.error = EventCheck(event, rules, now, position, verdict.warnings,
                                   offline_only=offline_only).run()
    return verdict
