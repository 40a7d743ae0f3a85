"""Which destinations exist (entry points) and which a configuration enables.

Every destination, trackside's own included, is registered under the
``trackside.destinations`` entry-point group (pyproject.toml) with its
:class:`~trackside.destinations.spec.DestinationSpec`, so a third-party package adds one by
declaring the same group in its own metadata; nothing here names a vendor.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points

from trackside.config import Settings
from trackside.destinations import Destination
from trackside.destinations.spec import ConsentKind, DestinationSpec
from trackside.errors import ConfigError

ENTRY_POINT_GROUP = "trackside.destinations"


class RegistryError(ConfigError):
    """The installed entry points do not describe usable destinations (exit 2, like a bad
    setting: the installation, not the input, needs fixing)."""


@functools.cache
def specs() -> tuple[DestinationSpec, ...]:
    """Every registered destination's spec, Meta first."""
    found: dict[str, DestinationSpec] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = entry.load()
        except Exception as exc:  # a broken plugin names itself instead of a traceback
            raise RegistryError(f"entry point {entry.name} = {entry.value} cannot be loaded: "
                                f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(spec, DestinationSpec):
            raise RegistryError(f"entry point {entry.name} = {entry.value} is not a "
                                "DestinationSpec")
        if spec.name != entry.name or spec.name in found:
            raise RegistryError(f"entry point {entry.name} = {entry.value} registers "
                                f"{spec.name!r} (a name is registered once, under itself)")
        found[spec.name] = spec
    if not found:
        raise RegistryError(f"no {ENTRY_POINT_GROUP} entry points: trackside is not installed "
                            "(pip install -e . refreshes an editable install's metadata)")
    return tuple(sorted(found.values(), key=lambda s: (s.order, s.name)))


def spec(name: str) -> DestinationSpec | None:
    return next((s for s in specs() if s.name == name), None)


def configured_destinations(settings: Settings) -> list[Destination]:
    """The destinations ``settings`` enable, in spec order."""
    return [s.create(settings) for s in specs() if s.configured(settings)]


def consent_kind(name: str, settings: Settings) -> ConsentKind:
    """Unknown destinations are treated as ad destinations (stricter)."""
    found = spec(name)
    return "ads" if found is None else found.consent_kind_for(settings)


def not_applicable(name: str) -> frozenset[str]:
    found = spec(name)
    return frozenset() if found is None else found.not_applicable


def personal_keys() -> frozenset[str]:
    """Every registered destination's personal payload keys (for views and the purge)."""
    return frozenset().union(*(s.personal_keys for s in specs()))


def purged_keys() -> tuple[frozenset[str], frozenset[str]]:
    """(``user_data`` keys, top-level payload keys) that some destination's purge clears: the
    parameters of retention.purge_personal_data, from every registered spec's purged_paths."""
    paths = frozenset().union(*(s.purged_paths for s in specs()))
    user = frozenset(p.removeprefix("user_data.") for p in paths if p.startswith("user_data."))
    top = frozenset(p for p in paths if "." not in p)
    return user, top
