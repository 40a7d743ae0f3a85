"""Everything a running trackside needs, built once from the settings: the store, and per
shop (trackside/shops.py) its destinations and its pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trackside import consent
from trackside.config import Settings
from trackside.delivery import Worker
from trackside.delivery.shops import ShopWorkers
from trackside.destinations import Destination
from trackside.destinations.registry import configured_destinations
from trackside.pipeline import Pipeline
from trackside.redact import Redactor
from trackside.shops import DEFAULT_SHOP, Shop, Shops
from trackside.store import Store, open_store


@dataclass
class ShopRuntime:
    """One shop's part of the runtime: its settings, destinations and pipeline."""

    shop: Shop
    destinations: list[Destination]
    pipeline: Pipeline

    @property
    def name(self) -> str:
        return self.shop.name

    @property
    def settings(self) -> Settings:
        return self.shop.settings

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations if d.name == name), None)


@dataclass
class Runtime:
    #: The process's settings. The global keys (database, limits, worker) are the same in every
    #: shop's settings; with one shop this is that shop's settings, whole.
    settings: Settings
    store: Store
    #: The first shop's destinations and pipeline (the only shop's, before several shops).
    destinations: list[Destination]
    pipeline: Pipeline
    redactor: Redactor
    shops: Shops
    per_shop: dict[str, ShopRuntime]

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """One shop, ``default``, with these settings."""
        return cls.from_shops(Shops([Shop(DEFAULT_SHOP, settings)]))

    @classmethod
    def from_shops(cls, shops: Shops, *, migrate: bool = True) -> Runtime:
        """Every shop's runtime on one store; ``migrate=False``: a store whose schema is
        behind is refused (SchemaBehind) instead of migrated."""
        first = next(iter(shops))
        store = open_store(first.settings.database_url, migrate=migrate,
                           pool_size=first.settings.database_pool_size)
        per_shop: dict[str, ShopRuntime] = {}
        for shop in shops:
            destinations = configured_destinations(shop.settings)
            pipeline = Pipeline(shop.settings, store, [d.name for d in destinations],
                                shop=shop.name, admitting=destinations)
            per_shop[shop.name] = ShopRuntime(shop, destinations, pipeline)
        main = per_shop[first.name]
        return cls(
            settings=first.settings,
            store=store,
            destinations=main.destinations,
            pipeline=main.pipeline,
            redactor=Redactor(shops.secret_values()),
            shops=shops,
            per_shop=per_shop,
        )

    def shop(self, name: str) -> ShopRuntime:
        """Shop ``name``'s runtime (a name from ``self.shops``)."""
        return self.per_shop[name]

    def for_shop(self, name: str) -> Runtime:
        """A one-shop view of this runtime (same store, same redactor): what a shop's own
        job, such as its PrestaShop poller, works with."""
        part = self.per_shop[name]
        return Runtime(settings=part.settings, store=self.store,
                       destinations=part.destinations, pipeline=part.pipeline,
                       redactor=self.redactor, shops=Shops([part.shop]),
                       per_shop={name: part})

    @property
    def shop_name(self) -> str:
        """The shop of ``pipeline`` and ``destinations``: the only one of a one-shop runtime."""
        return self.pipeline.shop

    def worker(self, *, shop: str | None = None, **kwargs: Any) -> Worker | ShopWorkers:
        """The delivery worker: with one shop a Worker, with several one Worker per shop
        side by side (delivery/shops.py). ``shop`` asks for that shop's Worker alone (a shop
        this runtime does not configure gets the first shop's destinations: tests)."""
        if shop is not None or len(self.per_shop) == 1:
            name = shop or self.shop_name
            part = self.per_shop.get(name, self.per_shop[self.shop_name])
            return self._shop_worker(part, name, **kwargs)
        return ShopWorkers([self._shop_worker(part, part.name, **kwargs)
                            for part in self.per_shop.values()])

    def _shop_worker(self, part: ShopRuntime, shop: str, **kwargs: Any) -> Worker:
        kwargs.setdefault("timeout_s", self.settings.meta_timeout_s)
        kwargs.setdefault("redactor", self.redactor)
        kwargs.setdefault("lease_s", self.settings.worker_lease_s)
        kwargs.setdefault("policy", consent.policy(part.settings))
        return Worker(self.store, part.destinations, shop=shop, **kwargs)

    def destination(self, name: str) -> Destination | None:
        return next((d for d in self.destinations if d.name == name), None)

    def close(self) -> None:
        self.store.close()
