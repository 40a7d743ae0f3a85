"""The console with several shops ([shops.alpha], [shops.beta] in one TOML file, one SQLite
file, uvicorn on loopback): a shop picker, each page of the chosen shop only, and an action
posted for one shop never touching the other's event with the same id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.console_shop import PASSWORD, csrf_of, purchase
from tests.fakes.server import ThreadedServer
from trackside.runtime import Runtime
from trackside.shops import load_shops
from trackside.web.app import create_app

KEYS = {"alpha": "alpha-console-key-11111111", "beta": "beta-console-key-22222222"}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    config = tmp_path / "trackside.toml"
    config.write_text(f"""
database_url = "sqlite:///{tmp_path}/shops.db"
admin_password = "{PASSWORD}"
consent_mode = "off"

[shops.alpha]
api_keys = ["{KEYS['alpha']}"]

[shops.beta]
api_keys = ["{KEYS['beta']}"]
""", encoding="utf-8")
    runtime = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
    server = ThreadedServer(create_app(runtime, run_worker=False)).start()
    try:
        yield runtime, server.url
    finally:
        server.stop()
        runtime.close()


def test_each_page_shows_the_chosen_shop_only(gateway: tuple[Runtime, str]) -> None:
    runtime, url = gateway
    for shop, references in {"alpha": ["R-1", "R-2", "R-3"], "beta": ["R-1"]}.items():
        answer = httpx.post(f"{url}/v1/events", headers={"Authorization": f"Bearer {KEYS[shop]}"},
                            json={"events": [purchase(r) for r in references]})
        assert answer.status_code == 202, answer.text
    with httpx.Client(base_url=url, follow_redirects=True) as c:
        form = c.get("/dashboard/login")
        c.post("/dashboard/login", data={"csrf": csrf_of(form.text), "password": PASSWORD})
        alpha, beta = c.get("/dashboard"), c.get("/dashboard?shop=beta")
        assert 'id="events-total">3<' in alpha.text and 'id="current-shop">alpha<' in alpha.text
        assert 'id="events-total">1<' in beta.text and 'id="current-shop">beta<' in beta.text
        assert '<select id="shop" name="shop"' in alpha.text
        csrf = csrf_of(beta.text)
        dropped = c.post("/dashboard/actions/drop", data={"csrf": csrf, "shop": "beta",
                                                          "event_id": "R-1"})
        assert dropped.status_code == 200 and "dropped" in dropped.text  # redirect followed
        assert "shop=beta" in str(dropped.url)
        beta_rows = runtime.store.event_view("R-1", shop="beta")[0].outbox
        alpha_rows = runtime.store.event_view("R-1", shop="alpha")[0].outbox
        assert {row.status for row in beta_rows} == {"dead"}
        assert {row.status for row in alpha_rows} == {"pending"}
        assert "R-1" not in c.get("/dashboard/orders?shop=alpha").text
        assert "R-1" in c.get("/dashboard/orders?shop=beta").text
        assert c.get("/dashboard/events/R-2?shop=beta").status_code == 404
        assert c.get("/dashboard/events/R-2?shop=alpha").status_code == 200
