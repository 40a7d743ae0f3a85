"""Platform webhooks with several shops (/webhooks/<source>/{shop}), the environment's secret
list, and the deliveries `trackside status` reports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import app_client
from tests.fakes import shopify, woocommerce
from tests.fakes.graph_api import FakeGraphAPI
from trackside.cli import app
from trackside.runtime import Runtime
from trackside.shops import load_shops

ALPHA_SECRET = "alpha-shopify-canary-1f0e"
BETA_SECRET = "beta-shopify-canary-9c2d"


@pytest.fixture
def runtime(pixels: tuple[FakeGraphAPI, FakeGraphAPI], tmp_path: Path) -> Iterator[Runtime]:
    a, b = pixels
    config = tmp_path / "trackside.toml"
    config.write_text(f"""
database_url = "sqlite:///{tmp_path}/shops.db"
join_window_s = 0
server_event_consent = "grant"

[shops.alpha]
meta_pixel_id = "{a.pixel_id}"
meta_access_token = "{a.token}"
meta_graph_url = "{a.url}"
event_id_prefix = "a-"
shopify_webhook_secret = ["{ALPHA_SECRET}"]

[shops.beta]
meta_pixel_id = "{b.pixel_id}"
meta_access_token = "{b.token}"
meta_graph_url = "{b.url}"
event_id_prefix = "b-"
shopify_webhook_secret = "{BETA_SECRET}"
""", encoding="utf-8")
    rt = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
    try:
        yield rt
    finally:
        rt.close()


def test_each_shop_has_its_own_route_and_secret(
    runtime: Runtime, pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    a, b = pixels

    async def scenario() -> dict[str, int]:
        statuses = {}
        async for client in app_client(runtime):
            for name, path, secret in (
                ("alpha", "/webhooks/shopify/alpha", ALPHA_SECRET),
                ("beta", "/webhooks/shopify/beta", BETA_SECRET),
                ("alpha key on beta", "/webhooks/shopify/beta", ALPHA_SECRET),
                ("no shop named", "/webhooks/shopify", ALPHA_SECRET),
                ("unknown shop", "/webhooks/shopify/gamma", ALPHA_SECRET),
                ("no woo secret", "/webhooks/woocommerce/alpha", ALPHA_SECRET),
            ):
                body, headers = shopify.delivery("orders/paid", shopify.order(5), secret)
                statuses[name] = (await client.post(path, content=body,
                                                    headers=headers)).status_code
            async with runtime.worker() as worker:
                await worker.drain()
        return statuses

    assert asyncio.run(scenario()) == {"alpha": 200, "beta": 200, "alpha key on beta": 401,
                                       "no shop named": 404, "unknown shop": 404,
                                       "no woo secret": 404}
    assert a.event_ids() == ["a-5"] and b.event_ids() == ["b-5"]


def test_status_shows_each_shops_deliveries_by_reason(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async for client in app_client(runtime):
            for order_id, topic in ((1, "orders/create"), (2, "orders/create"), (3, "orders/paid")):
                body, headers = shopify.delivery(topic, shopify.order(order_id), ALPHA_SECRET)
                answer = await client.post("/webhooks/shopify/alpha", content=body,
                                           headers=headers)
                assert answer.status_code == 200

    asyncio.run(scenario())
    monkeypatch.setenv("TRACKSIDE_CONFIG", str(tmp_path / "trackside.toml"))
    result = CliRunner().invoke(app, ["status", "--shop", "alpha", "--json"])
    assert result.exit_code == 0, result.output
    webhooks = json.loads(result.output)["webhooks"]
    assert [(w["source"], w["outcome"], w["reason"], w["count"]) for w in webhooks] == [
        ("shopify", "converted", None, 1), ("shopify", "ignored", "not_a_purchase", 2)]
    table = CliRunner().invoke(app, ["status", "--shop", "alpha"])
    assert "Webhook deliveries" in table.output and "not_a_purchase" in table.output
    beta = CliRunner().invoke(app, ["status", "--shop", "beta", "--json"])
    assert json.loads(beta.output)["webhooks"] == []


def test_secrets_come_comma_separated_from_the_environment(tmp_path: Path) -> None:
    from trackside.config import load_settings

    settings = load_settings({"TRACKSIDE_WOOCOMMERCE_WEBHOOK_SECRET": "new-one, old-one",
                              "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/env.db"})
    assert [s.get_secret_value() for s in settings.woocommerce_webhook_secret] == [
        "new-one", "old-one"]
    runtime = Runtime.from_settings(settings)
    try:
        async def ping() -> int:
            async for client in app_client(runtime):
                body, _ = woocommerce.ping()
                signed = woocommerce.delivery("order.created", woocommerce.order(1, "pending"),
                                              "old-one")
                answers = [await client.post("/webhooks/woocommerce", content=body),
                           await client.post("/webhooks/woocommerce", content=signed[0],
                                             headers=signed[1])]
                return sum(a.status_code == 200 for a in answers)
            return 0

        assert asyncio.run(ping()) == 2
    finally:
        runtime.close()
    with pytest.raises(Exception, match="at most 2 secrets"):
        load_settings({"TRACKSIDE_SHOPIFY_WEBHOOK_SECRET": "a,b,c"})

