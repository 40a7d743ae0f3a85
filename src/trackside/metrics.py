"""Prometheus metrics, one registry per process (served by GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_ACCEPTED = Counter(
    "trackside_events_accepted",
    "Events accepted, by shop, source and result (queued or duplicate).",
    ["shop", "source", "result"],
    registry=REGISTRY,
)
EVENTS_REJECTED = Counter(
    "trackside_events_rejected",
    "Events refused at the edge because they failed validation, by shop and source.",
    ["shop", "source"],
    registry=REGISTRY,
)
OUTCOMES = Counter(
    "trackside_outcomes",
    "Final outcomes recorded by this process's worker, by shop, destination and status.",
    ["shop", "destination", "status"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "trackside_delivery_retries",
    "Rows rescheduled after a failed send, by shop, destination and verdict.",
    ["shop", "destination", "verdict"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "trackside_delivery_latency_seconds",
    "Time from acceptance to delivery, by shop and destination.",
    ["shop", "destination"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400),
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "trackside_http_requests",
    "HTTP requests served, by route and status code.",
    ["route", "status"],
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "trackside_webhooks",
    "Authentic platform webhook deliveries (Shopify, WooCommerce, Stripe), by shop, source, "
    "outcome (converted, ignored, duplicate) and the reason an ignored one sent no event.",
    ["shop", "source", "outcome", "reason"],
    registry=REGISTRY,
)
WEBHOOKS_REFUSED = Counter(
    "trackside_webhooks_refused",
    "Platform webhook deliveries refused because their signature matched no secret.",
    ["shop", "source"],
    registry=REGISTRY,
)
