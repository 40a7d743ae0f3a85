"""What a destination says about itself: one :class:`DestinationSpec` per vendor folder.

Everything outside a vendor's folder that needs to know something about the vendor asks its
spec (through :mod:`trackside.destinations.registry`), never the vendor's name: consent asks
for its kind, the pipeline for the events it has no counterpart for, the settings loader for
its settings model, ``doctor`` for its check, the views and the purge for the payload keys
that hold personal data; the worker reads the event-age window, batch size and classifier
from the destination object ``create`` builds. Modelled on sentry-python's integrations,
which describe themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    import httpx

    from trackside.config import Settings
    from trackside.destinations import Destination

#: How ``doctor`` grades a line: ok (as it should be), warn (works, probably not what you
#: want), fail (nothing, or not everything, is delivered until you act: exit 1).
Level = Literal["ok", "warn", "fail"]

#: The consent kinds (consent.REQUIRED_SIGNALS): which consent signals a destination needs.
ConsentKind = Literal["ads", "analytics"]


@dataclass(frozen=True)
class DoctorLine:
    level: Level
    message: str


def _no_lines(settings: Settings) -> list[DoctorLine]:
    return []


def _no_online_lines(settings: Settings, client: httpx.Client) -> list[DoctorLine]:
    return []


@dataclass(frozen=True)
class DestinationSpec:
    #: Outbox name (the ``destination`` column): "meta", "ga4", "dryrun", "webhook".
    name: str
    #: How messages name it: "Meta", "the dry run".
    display_name: str
    #: What the destination is, in words ("ads", "analytics", "warehouse").
    kind: str
    #: Whether ``settings`` enable it.
    configured: Callable[[Settings], bool]
    #: Builds the destination (called only when ``configured``).
    create: Callable[[Settings], Destination]
    #: Which consent signals it needs; a callable when the shop chooses (the webhook).
    consent_kind: ConsentKind | Callable[[Settings], ConsentKind] = "ads"
    #: Event names it has no counterpart for (recorded ``not_applicable`` at accept).
    not_applicable: frozenset[str] = frozenset()
    #: Keys of its payloads whose values are personal data (the API views hash them).
    personal_keys: frozenset[str] = frozenset()
    #: Paths in its sent payloads ("user_data.client_ip_address", "client_id") of the
    #: personal data kept in clear, which the retention purge removes (:func:`purge_payload`).
    purged_paths: frozenset[str] = frozenset()
    #: Its own settings (fields named ``<name>_…``, read from ``TRACKSIDE_<NAME>_…``; every
    #: field has a default); read with ``settings.destination(name, Model)``. None: it needs
    #: none, or shares another's (the dry run reads Meta's).
    settings_model: type[BaseModel] | None = None
    #: ``doctor``'s lines about it (called for every registered destination).
    doctor: Callable[[Settings], list[DoctorLine]] = _no_lines
    #: ``doctor --online``'s lines: what only the vendor can answer (a read with the
    #: credentials, a validated sample), asked through ``client``; called only when
    #: ``configured``. Never a credential in a URL or a message.
    doctor_online: Callable[[Settings, httpx.Client], list[DoctorLine]] = _no_online_lines
    #: Sorts the destinations (Meta first, as before the registry); then the name.
    order: int = 100

    def consent_kind_for(self, settings: Settings) -> ConsentKind:
        kind = self.consent_kind
        return kind if isinstance(kind, str) else kind(settings)


def purge_payload(spec: DestinationSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` without ``spec.purged_paths`` (a sent payload after the retention period)."""
    purged = dict(payload)
    for path in spec.purged_paths:
        *parents, key = path.split(".")
        node: Any = purged
        for parent in parents:
            child = node.get(parent) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                node = None
                break
            node[parent] = child = dict(child)
            node = child
        if isinstance(node, dict):
            node.pop(key, None)
    return purged
