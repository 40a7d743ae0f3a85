"""Meta-shaped errors: one MetaError for a whole request, with Meta's codes and texts.

The envelope and its fields are Graph's, and Meta asks that errors be told apart by code
only (https://developers.facebook.com/docs/graph-api/guides/error-handling); the codes,
subcodes and texts are the ones Meta documents or was recorded answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trackside.destinations.meta.rules.facts import GRAPH_DOCS

# -- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaError:
    """One Graph API error response, exactly as Meta shapes it."""

    http_status: int
    code: int
    message: str
    type: str = "OAuthException"
    subcode: int | None = None
    title: str | None = None
    user_msg: str | None = None
    #: (title, user_msg) in French: Meta localizes only these two fields (seen on v26.0).
    title_fr: str | None = None
    user_msg_fr: str | None = None
    is_transient: bool = False
    #: The rule (numbered as in rules/__init__.py) that produced it, for test names and
    #: dry-run reports; never sent.
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
    """The envelope of a refused event: HTTP 400, code 100, "Invalid parameter"."""
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


def invalid_token() -> MetaError:  # rule 3, as Graph was recorded answering
    return MetaError(
        http_status=401,
        code=190,
        message="Invalid OAuth access token - Cannot parse access token",
        rule=3,
    )


def expired_token() -> MetaError:  # rule 3, subcode 463 (documented)
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


# Rule 5: documented, and recorded in rudderlabs/rudder-transformer's facebook_pixel fixture.
def unknown_object(object_id: str) -> MetaError:
    return MetaError(
        http_status=400,
        code=100,
        subcode=33,
        type="GraphMethodException",
        message=f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation. " + GRAPH_DOCS,
        rule=5,
    )
