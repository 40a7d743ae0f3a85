"""``doctor --online``: what only the other side can answer, one finding each.

The store takes a write (store/writable.py); each configured destination asks its vendor
(its spec's ``doctor_online``: Meta reads the pixel with the token and, with a test event code,
sends a test event; GA4 validates a sample); a configured PrestaShop returns its latest order.
Credentials go in headers or bodies, never in URLs; messages are scrubbed of every secret.
"""

from __future__ import annotations

import httpx

from trackside.config import Settings
from trackside.destinations import registry
from trackside.doctor import Finding
from trackside.errors import TracksideError
from trackside.runtime import Runtime
from trackside.shops import Shop
from trackside.sources.prestashop.records import PrestaShopError
from trackside.sources.prestashop.sync import open_reader, prestashop_configured
from trackside.store.writable import check_writable

#: Seconds each vendor request may take.
TIMEOUT_S = 10.0


def online_findings(runtime: Runtime, shop: Shop) -> list[Finding]:
    settings = shop.settings
    found: list[Finding] = [_store(settings)]
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for spec in registry.specs():
            if spec.configured(settings):
                found += [(line.level, line.message)
                          for line in spec.doctor_online(settings, client)]
    if prestashop_configured(settings):
        found.append(_prestashop(settings))
    # Every message masked once more: a vendor's or a driver's text may echo a secret.
    return [(level, runtime.redactor(message) or "") for level, message in found]


def _store(settings: Settings) -> Finding:
    try:
        check_writable(settings.database_url)
    except TracksideError as exc:  # StoreError, or a store file doctor cannot name
        return "fail", f"store: {exc}"
    return "ok", "store: takes a write (a scratch table, rolled back)"


def _prestashop(settings: Settings) -> Finding:
    """The reader the poller uses: its checks, then the latest order state change's order."""
    try:
        reader = open_reader(settings)
    except PrestaShopError as exc:
        return "fail", f"PrestaShop: {exc}"
    try:
        reader.check()
        latest = reader.max_history_id()
        if latest == 0:
            return "warn", (f"PrestaShop: {reader.description} answers, but has no order "
                            "state changes yet")
        history = reader.history_by_ids([latest])
        references = reader.references([row.id_order for row in history])
        orders = reader.orders_by_reference(list(references.values()))
        if not orders:
            return "fail", (f"PrestaShop: {reader.description} lists order state change "
                            f"{latest} but its order could not be read")
        return "ok", (f"PrestaShop: {reader.description} answers; latest order "
                      f"{orders[0].reference} read")
    except PrestaShopError as exc:
        return "fail", f"PrestaShop ({reader.description}): {exc}"
    finally:
        reader.close()
