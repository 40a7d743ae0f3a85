"""Request-level rules (rules 1-9, 35): body decoding, transport, auth, payload."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from trackside.destinations.meta.rules.errors import (
    MetaError,
    _param_error,
    deprecated_version,
    expired_token,
    invalid_appsecret_proof,
    invalid_token,
    missing_token,
    unknown_object,
    unknown_version,
    unsupported_method,
)
from trackside.destinations.meta.rules.events import check_event
from trackside.destinations.meta.rules.facts import _VERSION, MAX_EVENTS, STRING_PARAMS
from trackside.destinations.meta.rules.model import (
    BodyError,
    GraphRequest,
    Outcome,
    RulesConfig,
    TokenGrant,
)


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Body parameters from form-urlencoded, multipart/form-data or JSON (each is used by
    Meta's own docs, SDK or GTM tag)."""
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
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # None for a nested multipart part
            payload = b""
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
    """Merge query and body parameters and find the token: query or form field (documented),
    JSON field or ``Authorization: Bearer`` (observed working on Graph)."""
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
    # Unversioned calls are invalid against Marketing API endpoints:
    # https://developers.facebook.com/docs/marketing-api/overview/versioning
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


def request_events(request: GraphRequest) -> Sequence[dict[str, Any]]:
    """The decoded events of a request that passed validation (empty when undecodable)."""
    events = decode_data(request.params.get("data"))
    return [] if isinstance(events, MetaError) else events
