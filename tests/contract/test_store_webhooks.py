"""Store.record_webhook / webhook_delivery / webhook_counts over every implementation: a
delivery is recorded once (the first answer kept), per shop, and counted by its reason."""

from __future__ import annotations

import pytest

from trackside.shop_names import ShopNameError
from trackside.store import Store, WebhookDelivery


def delivery(delivery_id: str, outcome: str = "ignored", reason: str = "unpaid", *,
             shop: str = "default", source: str = "shopify") -> WebhookDelivery:
    return WebhookDelivery(source=source, delivery_id=delivery_id, topic="orders/create",
                           outcome=outcome, reason=reason, detail=f"order {delivery_id}",
                           shop=shop)


def test_a_delivery_is_recorded_once_and_its_first_answer_kept(store: Store) -> None:
    assert store.webhook_delivery("shopify", "ev-1") is None
    assert store.record_webhook(delivery("ev-1"), now=100.0) is True
    assert store.record_webhook(delivery("ev-1", "converted", ""), now=200.0) is False
    found = store.webhook_delivery("shopify", "ev-1")
    assert found is not None
    assert (found.outcome, found.reason, found.detail, found.topic, found.received_at) == (
        "ignored", "unpaid", "order ev-1", "orders/create", 100.0)
    [count] = store.webhook_counts()
    assert (count.shop, count.source, count.outcome, count.reason, count.count) == (
        "default", "shopify", "ignored", "unpaid", 1)


def test_counts_group_by_shop_source_outcome_and_reason(store: Store) -> None:
    store.record_webhook(delivery("1"), now=10.0)
    store.record_webhook(delivery("2"), now=30.0)
    store.record_webhook(delivery("3", reason="unknown_topic"), now=20.0)
    store.record_webhook(delivery("4", "converted", ""), now=40.0)
    store.record_webhook(delivery("1", source="woocommerce"), now=50.0)
    store.record_webhook(delivery("1", shop="beta"), now=60.0)
    rows = [(c.shop, c.source, c.outcome, c.reason, c.count, c.last_received_at)
            for c in store.webhook_counts()]
    assert rows == [
        ("beta", "shopify", "ignored", "unpaid", 1, 60.0),
        ("default", "shopify", "converted", "", 1, 40.0),
        ("default", "shopify", "ignored", "unknown_topic", 1, 20.0),
        ("default", "shopify", "ignored", "unpaid", 2, 30.0),
        ("default", "woocommerce", "ignored", "unpaid", 1, 50.0),
    ]
    assert [c.shop for c in store.webhook_counts(shop="beta")] == ["beta"]
    assert store.webhook_counts(shop="gamma") == []


def test_another_shops_delivery_is_not_seen(store: Store) -> None:
    store.record_webhook(delivery("ev-9", shop="alpha"), now=1.0)
    assert store.webhook_delivery("shopify", "ev-9", shop="beta") is None
    assert store.webhook_delivery("shopify", "ev-9") is None
    assert store.record_webhook(delivery("ev-9", shop="beta"), now=2.0) is True
    assert store.webhook_delivery("shopify", "ev-9", shop="alpha") is not None


def test_a_bad_shop_name_is_refused_before_anything_is_written(store: Store) -> None:
    with pytest.raises(ShopNameError, match="shop"):
        store.record_webhook(delivery("x", shop="Not A Shop!"), now=1.0)
    assert store.webhook_counts() == []
