"""The parsed request, the rules' configuration and the outcome of a validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trackside.destinations.meta.rules.errors import MetaError
from trackside.destinations.meta.rules.facts import Mode

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
    #: Rule 12: accept physical_store events up to 62 days old (Meta says they "should" be
    #: uploaded within 62 days, and does not say whether that overrides the 7-day refusal).
    allow_physical_store_62d: bool = False
    #: Rule 15: refuse website events without client_user_agent. Off by default even in
    #: strict mode: the docs say required, but Graph v26.0 was observed accepting them,
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
