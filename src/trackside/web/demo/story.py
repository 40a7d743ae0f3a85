"""What the demo's cards say: one card per business event of this shopper (page view, add to
cart, purchase), read from the gateway's store and from what the stand-in pixel received, in a
shop owner's words (the console's wording), and the console's teardown numbers for today.

Nothing here is made up for the show: a card says "seen by the pixel" only when the stand-in
pixel posted that event id to the demo, "sent to Meta" only when the store's outbox row for it
is delivered, and the teardown is the reconciliation the console and `trackside reconcile` use.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trackside.events import NormalizedEvent
from trackside.identity.event_id import purchase_event_id
from trackside.outcomes import Outcome
from trackside.reports import reconciliation as recon
from trackside.store import Store
from trackside.store.records import EventView
from trackside.web.console import wording
from trackside.web.console.teardown import LABELS, SUPPRESSED

#: The cards, in the order a shopper meets them: (key, title, event name).
CARDS = (("page_view", "Page view", "PageView"), ("add_to_cart", "Add to cart", "AddToCart"),
         ("purchase", "Purchase", "Purchase"))
#: Destinations by the name a shop owner knows them by.
DESTINATIONS = {"meta": "Meta", "dryrun": "Meta (dry run)", "ga4": "Google Analytics",
                "webhook": "your webhook"}
#: The source name the demo's "shop backend" stores its orders under.
SERVER_SOURCE = "demo-shop"
#: Browser events of one shopper looked at per answer (newest first).
RECENT = 60
#: Pixel hits kept per shopper and shoppers kept: the demo runs for one person, but a page
#: anyone can post to must not grow without bound.
PIXEL_HITS = 200
VISITORS = 1000


@dataclass
class Visitor:
    """One shopper of the demo (its demo_customer cookie)."""

    started_at: float
    #: (event name, event id) as the stand-in pixel received them, oldest first.
    pixel: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=PIXEL_HITS))
    #: Order references, oldest first.
    orders: deque[str] = field(default_factory=lambda: deque(maxlen=PIXEL_HITS))


class Visitors:
    def __init__(self, limit: int = VISITORS) -> None:
        self.limit = limit
        self._by_key: OrderedDict[str, Visitor] = OrderedDict()

    def get(self, key: str) -> Visitor:
        visitor = self._by_key.get(key)
        if visitor is None:
            # A minute's grace: the first page's beacon may be stored before the cookie returns.
            visitor = self._by_key[key] = Visitor(started_at=time.time() - 60)
            while len(self._by_key) > self.limit:
                self._by_key.popitem(last=False)
        self._by_key.move_to_end(key)
        return visitor

    def find(self, key: str | None) -> Visitor | None:
        return self._by_key.get(key) if key else None


def _refused_cookies(event: NormalizedEvent) -> bool:
    consent = event.consent
    return consent is not None and "denied" in (consent.ad_storage, consent.ad_user_data)


def _pixel_line(event: NormalizedEvent, seen: bool) -> dict[str, str]:
    if seen:
        return {"state": "good", "text": "Seen by the pixel"}
    if _refused_cookies(event):
        return {"state": "off", "text": "Not seen by the pixel: the shopper refused cookies, so "
                                        "the page did not fire it"}
    return {"state": "bad", "text": "Not seen by the pixel: it was blocked, as an ad blocker "
                                    "or a browser's tracking protection does"}


def _copies(view: EventView) -> tuple[int, int]:
    """How many copies came from the shop's server and from the browser."""
    server = browser = 0
    for source in [view.source, *(n.detail.removeprefix("duplicate from ").split(";")[0]
                                  for n in view.notes if n.kind == "duplicate")]:
        if source == SERVER_SOURCE:
            server += 1
        else:
            browser += 1
    return server, browser


def _gateway_line(view: EventView) -> dict[str, str]:
    server, browser = _copies(view)
    parts = []
    if server:
        parts.append("from the shop's server when the order was placed")
    if browser:
        page = "the confirmation page" if view.event_name == "Purchase" else "the page"
        times = "" if browser == 1 else f" ({browser} times: the page was reloaded)"
        parts.append(f"from {page} in the browser{times}")
    return {"state": "good", "text": "Received by the gateway " + ", and ".join(parts)}


def _sent_lines(view: EventView) -> list[dict[str, str]]:
    lines = []
    for row in view.outbox:
        words = wording.outcome(row.status, row.message)
        state = ("good" if row.status == Outcome.DELIVERED else
                 "wait" if row.status in (Outcome.PENDING, Outcome.HELD) else "off")
        name = DESTINATIONS.get(row.destination, row.destination)
        lines.append({"state": state, "text": f"{name}: {words}"})
    return lines or [{"state": "off", "text": "No destination is configured"}]


def _counted_line(view: EventView, pixel_seen: bool) -> dict[str, str]:
    statuses = {row.status for row in view.outbox}
    server, browser = _copies(view)
    if Outcome.DELIVERED in statuses:
        text = ("Counted once: the pixel and trackside sent it with the same id, and Meta "
                "keeps one" if pixel_seen else
                "Counted once: the pixel missed it, so Meta counts trackside's copy")
        if server + browser > 1:
            text += f" ({server + browser} copies reached the gateway, trackside sent one)"
        return {"state": "good", "text": text}
    if statuses & {Outcome.PENDING, Outcome.HELD}:
        return {"state": "wait", "text": "Not counted yet: trackside sends it in a moment"}
    return {"state": "off", "text": "Not counted: nothing was sent to Meta"}


def _card(title: str, key: str, view: EventView | None, pixel_ids: set[str]) -> dict[str, Any]:
    if view is None:
        return {"key": key, "title": title, "happened": False,
                "lines": [{"state": "wait", "text": "Not yet in this session"}]}
    seen = view.event_id in pixel_ids
    lines = [_pixel_line(view.event, seen), _gateway_line(view), *_sent_lines(view),
             _counted_line(view, seen)]
    return {"key": key, "title": title, "happened": True, "event_id": view.event_id,
            "lines": lines}


def _latest_views(store: Store, customer_id: str | None, visitor: Visitor,
                  prefix: str) -> dict[str, EventView]:
    views: dict[str, EventView] = {}
    if visitor.orders:
        found = store.event_view(purchase_event_id(visitor.orders[-1], prefix))
        if found:
            views["Purchase"] = found[0]
    if customer_id is None:
        return views
    for event in store.browser_events_by_key("customer_id", customer_id, visitor.started_at,
                                             RECENT):
        if event.event_name in ("PageView", "AddToCart") and event.event_name not in views:
            found = store.event_view(event.event_id)
            if found:
                views[event.event_name] = found[0]
    return views


def teardown(store: Store) -> dict[str, Any]:
    """Today's teardown numbers, as the console's teardown page shows them."""
    today = datetime.now(UTC).date().isoformat()
    report = recon.reconciliation(store, recon.period(today, today))
    rows = [{"key": name, "label": LABELS[name], "count": report[name]["count"]}
            for name in recon.COUNTED]
    consent = report["suppressed"].get("consent")
    rows.append({"key": "refused", "label": SUPPRESSED["consent"],
                 "count": consent["count"] if consent else 0})
    share = report["pixel_missed"]["share"]
    return {"date": today, "rows": rows,
            "missed_share": None if share is None else f"{share * 100:.1f} %"}


def story(store: Store, visitor: Visitor, customer_id: str | None, *, prefix: str,
          pixel_blocked: bool, cookies_refused: bool) -> dict[str, Any]:
    """The whole panel: the toggles' state, the cards and the teardown."""
    views = _latest_views(store, customer_id, visitor, prefix)
    pixel_ids = {event_id for _name, event_id in visitor.pixel}
    return {
        "pixel_blocked": pixel_blocked,
        "cookies_refused": cookies_refused,
        "pixel_received": len(visitor.pixel),
        "cards": [_card(title, key, views.get(name), pixel_ids) for key, title, name in CARDS],
        "teardown": teardown(store),
    }
