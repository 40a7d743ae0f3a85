"""Graph API error bodies as the fake Graph API sends them (its rules 1-38, error codes).

Written from Meta's pages alone: this module imports nothing from trackside, so a mistake in
trackside's own Meta rules cannot leak into the answers the tests compare against.

Shape (https://developers.facebook.com/docs/graph-api/guides/error-handling)::

    {"error": {"message", "type", "code", "error_subcode"?, "is_transient",
               "error_user_title"?, "error_user_msg"?, "error_data"?, "fbtrace_id"}}

Only ``error_user_title`` / ``error_user_msg`` are localized (rule 38; French was observed on
v26.0), so a client that classifies by text instead of by code breaks against this fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRAPH_DOCS_HINT = (
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
)


@dataclass(frozen=True)
class GraphError:
    """One refusal of a whole request: Graph never answers per event ("If any event you send in a
    batch is invalid, we reject the entire batch")."""

    http_status: int
    code: int
    message: str
    type: str = "OAuthException"
    subcode: int | None = None
    title: str | None = None
    user_msg: str | None = None
    title_fr: str | None = None
    user_msg_fr: str | None = None
    is_transient: bool = False
    #: A field path such as ``data[2].user_data.em``, sent as error_data.blame_field_specs
    #: (Marketing API error reference).
    blame: str | None = None

    @classmethod
    def adopt(cls, error: Any) -> GraphError:
        """Copy any object shaped like a Graph error (a test may hand one of trackside's)."""
        if isinstance(error, GraphError):
            return error

        def read(name: str, default: Any = None) -> Any:
            return getattr(error, name, default)

        return cls(
            http_status=int(read("http_status", 400)),
            code=int(read("code")),
            message=str(read("message", "")),
            type=str(read("type", "OAuthException")),
            subcode=read("subcode"),
            title=read("title"),
            user_msg=read("user_msg"),
            title_fr=read("title_fr"),
            user_msg_fr=read("user_msg_fr"),
            is_transient=bool(read("is_transient", False)),
            blame=read("blame"),
        )

    def body(self, fbtrace_id: str, language: str = "en") -> dict[str, Any]:
        french = language.strip().lower().startswith("fr")
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": fbtrace_id,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        title = (self.title_fr if french else None) or self.title
        user_msg = (self.user_msg_fr if french else None) or self.user_msg
        if title is not None:
            error["error_user_title"] = title
        if user_msg is not None:
            error["error_user_msg"] = user_msg
        if self.blame is not None:
            error["error_data"] = {"blame_field_specs": [[self.blame]]}
        return {"error": error}


# -- request-level refusals (rules 1-9) ---------------------------------------------------------


def parameter_error(message: str, blame: str | None = None) -> GraphError:
    """Graph's plain ``(#100)`` answer about a request parameter: no user-facing text."""
    return GraphError(400, 100, f"(#100) {message}", blame=blame)


def method_not_supported(method: str) -> GraphError:
    # Rule 1: "Reading, updating and deleting on this edge are not supported" (edge reference);
    # the wording is assumed, the code is Graph's usual 100.
    return GraphError(
        400,
        100,
        f"Unsupported {method.lower()} request. {GRAPH_DOCS_HINT}",
        type="GraphMethodException",
    )


def version_deprecated() -> GraphError:
    # Rule 2: code 2635 from the Marketing API reference pages; also the answer to an
    # unversioned call ("Unversioned calls are invalid against Marketing API endpoints",
    # https://developers.facebook.com/docs/marketing-api/overview/versioning).
    return GraphError(
        400,
        2635,
        "(#2635) You are calling a deprecated version of the Ads API. "
        "Please update to the latest version.",
    )


def version_unknown(version: str) -> GraphError:
    # Rule 2, a well-formed version newer than any Graph serves: Graph's usual answer to a
    # path it does not know (assumed for this edge).
    return GraphError(400, 2500, f"Unknown path components: /{version}")


def token_required() -> GraphError:  # rule 3 (standard Graph, assumed)
    return GraphError(400, 104, "An access token is required to request this resource.")


def token_unparseable() -> GraphError:  # rule 3, observed with HTTP 401
    return GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")


def token_expired() -> GraphError:  # rule 3, subcode 463 (Graph error-handling page)
    return GraphError(401, 190, "Error validating access token: Session has expired.", subcode=463)


def appsecret_proof_mismatch() -> GraphError:  # rule 4 (assumed wording)
    return GraphError(400, 100, "Invalid appsecret_proof provided in the API argument")


def object_not_found(object_id: str) -> GraphError:
    """Rule 5: wrong pixel, or a token without access. No error_user_* fields
    (fixture in rudderlabs/rudder-transformer test/integrations/destinations/facebook_pixel)."""
    return GraphError(
        400,
        100,
        f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. "
        + GRAPH_DOCS_HINT,
        type="GraphMethodException",
        subcode=33,
    )


# -- event-level refusals (rules 10-34) ---------------------------------------------------------


def invalid_event(
    subcode: int | None,
    title: str,
    user_msg: str,
    blame: str,
    french: tuple[str, str] | None = None,
) -> GraphError:
    """The rules' default envelope: HTTP 400, code 100, "Invalid parameter", with user text."""
    title_fr, user_msg_fr = french or (
        "Paramètre non valide",
        f"Un paramètre de l’événement n’est pas valide : {blame}.",
    )
    return GraphError(
        400,
        100,
        "Invalid parameter",
        subcode=subcode,
        title=title,
        user_msg=user_msg,
        title_fr=title_fr,
        user_msg_fr=user_msg_fr,
        blame=blame,
    )


# -- what fault injection answers (rule 37) -----------------------------------------------------

#: code → (message, subcode), from Meta's error codes
#: (https://developers.facebook.com/docs/graph-api/guides/error-handling) and rate limits
#: (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting).
FAULT_CATALOGUE: dict[int, tuple[str, int | None]] = {
    1: ("An unknown error occurred", 99),
    2: ("An unexpected error has occurred. Please retry your request later.", None),
    4: ("(#4) Application request limit reached", 1504022),
    17: ("(#17) User request limit reached", 2446079),
    32: ("(#32) Page request limit reached", None),
    613: ("(#613) Calls to this api have exceeded the rate limit.", None),
    80004: ("(#80004) There have been too many calls to this ad-account.", None),
}


def catalogue_error(code: int, http_status: int, is_transient: bool) -> GraphError:
    message, subcode = FAULT_CATALOGUE[code]
    return GraphError(
        http_status, code, message, subcode=subcode, is_transient=is_transient
    )
