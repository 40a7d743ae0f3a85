"""WooCommerce webhooks → canonical events (docs/sources.md "WooCommerce").

- payload.py: the order body of WooCommerce's REST API v3, read leniently.
- map.py: a paid order (``processing``/``completed``, or ``date_paid`` set) → Purchase with id
  ``{prefix}{order id}``; each refund → Refund; never a Purchase for ``pending``, ``on-hold``,
  ``failed``.
- source.py: WOOCOMMERCE, the WebhookSource: the unsigned ping, X-WC-Webhook-Signature over the
  raw body, X-WC-Webhook-Delivery-ID, the topics.
"""

from trackside.sources.woocommerce.source import WOOCOMMERCE

__all__ = ["WOOCOMMERCE"]
