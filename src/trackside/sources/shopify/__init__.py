"""Shopify webhooks → canonical events (docs/sources.md "Shopify").

- payload.py: the order and refund bodies Shopify documents (REST resources), read leniently:
  unknown fields ignored, a wrong type is a malformed delivery.
- map.py: ``orders/paid`` → Purchase (id: the order id with the shop prefix, as the Customer
  Events pixel sends ``checkout.order.id``), ``refunds/create`` → Refund,
  ``orders/cancelled`` → Refund of what was not refunded yet.
- source.py: SHOPIFY, the WebhookSource: X-Shopify-Hmac-Sha256 over the raw body, the delivery
  key (X-Shopify-Event-Id, else X-Shopify-Webhook-Id), X-Shopify-Triggered-At, the topics.
"""

from trackside.sources.shopify.source import SHOPIFY

__all__ = ["SHOPIFY"]
