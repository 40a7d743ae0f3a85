"""Everything a running trackside needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trackside import consent
from trackside.config import Settings
from trackside.delivery import Worker
from trackside.destinations import Destination
from trackside.destinations.registry import configured_destinations
from trackside.pipeline import Pipeline
from trackside.redact import Redactor
from trackside.store import Store, open_store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    destinations: list[Destination]
    pipeline: Pipeline
    redactor: Redactor

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        store = open_store(settings.database_url)
        destinations = configured_destinations(settings)
        return cls(
            settings=settings,
            store=store,
            destinations=destinations,
            pipeline=Pipeline(settings, store, [d.name for d in destinations]),
            redactor=Redactor(settings.secret_values()),
        )

    def worker(self, **kwargs: Any) -> Worker:
        kwargs.setdefault("timeout_s", self.settings.meta_timeout_s)
        kwargs.setdefault("redactor", self.redactor)
        kwargs.setdefault("lease_s", self.settings.worker_lease_s)
        kwargs.setdefault("policy", consent.policy(self.settings))
        return Worker(self.store, self.destinations, **kwargs)

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations if d.name == name), None)

    def close(self) -> None:
        self.store.close()
