"""Which event names ``/collect`` accepts from ``trackside('track', …)``, and their spelling.

Anyone can post to /collect, so a browser may only name Meta's standard events or the custom
events the owner declared in ``TRACKSIDE_BROWSER_CUSTOM_EVENTS``. Names are matched without
regard to case and sent with the canonical spelling: Meta's names are case-sensitive, so
``purchase`` would otherwise reach Meta as a custom event beside the real ``Purchase`` rules,
and ``addtocart`` would never count as an ``AddToCart``.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Meta's standard events (https://developers.facebook.com/docs/meta-pixel/reference) plus
#: PageView, which the Conversions API takes too. t.js keeps the same list for the pixel.
META_STANDARD_EVENTS = (
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
    "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView",
    "Purchase", "Schedule", "Search", "StartTrial", "SubmitApplication", "Subscribe",
    "ViewContent",
)

SETTING = "TRACKSIDE_BROWSER_CUSTOM_EVENTS"


class BrowserEventNames:
    """Canonical names: the standard events, then the declared custom ones (standard wins,
    so declaring ``purchase`` cannot turn a Purchase into a custom event)."""

    def __init__(self, custom_events: Iterable[str] = ()) -> None:
        self._canonical = {name.strip().lower(): name.strip() for name in custom_events
                           if name.strip()}
        self._canonical.update({name.lower(): name for name in META_STANDARD_EVENTS})

    def canonical(self, name: str) -> str | None:
        """The name as it is sent on, or None when a browser may not send it."""
        return self._canonical.get(name.lower())

    def refusal(self) -> str:
        """Why a name was refused, for the 400's ``event_name`` entry."""
        return (f"not one of Meta's standard events (PageView, ViewContent, AddToCart, …) nor "
                f"a custom event declared in {SETTING}")
