"""The console over real HTTP (uvicorn on loopback, SQLite, the fake Graph API): sign-in, the
rate limit, CSRF on every action, each page, replay and drop, the disabled console, and the
canary password and e-mail never in any answer."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.console_shop import (
    EMAIL,
    PASSWORD,
    ConsoleShop,
    console_shop,
    csrf_of,
    signed_in,
)
from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from trackside.store import DatasetQuality

PAGES = ["/dashboard", "/dashboard/teardown", "/dashboard/teardown/orders?filter=recovered",
         "/dashboard/teardown.csv", "/dashboard/quality", "/dashboard/orders",
         "/dashboard/events/R-2", "/dashboard/events/R-4", "/dashboard/events/R-5"]


def client_of(shop: ConsoleShop) -> httpx.Client:
    return httpx.Client(base_url=shop.url, follow_redirects=False)


def test_without_a_password_the_console_only_says_how_to_enable_it(
        fake_graph: FakeGraphAPI, tmp_path: Path) -> None:  # noqa: F811
    with console_shop(fake_graph, tmp_path, admin_password=None) as shop, client_of(shop) as c:
        for path in ["/dashboard", "/dashboard/login", "/dashboard/quality",
                     "/dashboard/static/console.css", "/dashboard/anything/else"]:
            answer = c.get(path)
            assert answer.status_code == 403, path
            assert "TRACKSIDE_ADMIN_PASSWORD" in answer.text
            assert "Sign in" not in answer.text
        answer = c.post("/dashboard/login", data={"password": ""})
        assert answer.status_code == 403 and "TRACKSIDE_ADMIN_PASSWORD" in answer.text


def test_sign_in_wrong_password_rate_limit_and_cookie_flags(
        fake_graph: FakeGraphAPI, tmp_path: Path) -> None:  # noqa: F811
    with console_shop(fake_graph, tmp_path) as shop, client_of(shop) as c:
        assert c.get("/dashboard").status_code == 303  # to the sign-in form
        form = c.get("/dashboard/login")
        assert form.headers["content-security-policy"].startswith("default-src 'none'")
        token = csrf_of(form.text)
        wrong = c.post("/dashboard/login", data={"csrf": token, "password": "nope"})
        assert wrong.status_code == 401 and "password: wrong password" in wrong.text
        # Without the form's token (a page on another site posting the form): refused.
        forged = httpx.post(f"{shop.url}/dashboard/login", data={"password": PASSWORD})
        assert forged.status_code == 403 and "csrf" in forged.text
        good = c.post("/dashboard/login", data={"csrf": csrf_of(c.get("/dashboard/login").text),
                                                "password": PASSWORD})
        assert good.status_code == 303
        cookie = good.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Secure" not in cookie  # plain HTTP on loopback, no trusted proxy
        assert c.get("/dashboard").status_code == 200
        # Five attempts at once, then one every 12 s per address (three were made already).
        statuses = [c.post("/dashboard/login", data={"csrf": "x", "password": "guess"}
                           ).status_code for _ in range(4)]
        assert statuses[:2] == [403, 403] and statuses[-1] == 429
        limited = c.post("/dashboard/login", data={"csrf": "x", "password": PASSWORD})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_secure_cookie_behind_a_trusted_tls_proxy(fake_graph: FakeGraphAPI,  # noqa: F811
                                                  tmp_path: Path) -> None:
    with console_shop(fake_graph, tmp_path, trusted_proxies=["127.0.0.1"]) as shop, \
            client_of(shop) as c:
        tls = {"X-Forwarded-Proto": "https"}
        form = c.get("/dashboard/login", headers=tls)
        assert "Secure" in form.headers["set-cookie"]
        # httpx keeps a Secure cookie for https only: the proxy's TLS is not ours, so the
        # login form's cookie goes back by hand.
        pairing = form.headers["set-cookie"].split(";")[0]
        good = c.post("/dashboard/login", headers={**tls, "Cookie": pairing},
                      data={"csrf": csrf_of(form.text), "password": PASSWORD})
        assert good.status_code == 303 and "Secure" in good.headers["set-cookie"]
def test_every_page_and_the_actions_with_csrf(fake_graph: FakeGraphAPI,  # noqa: F811
                                              tmp_path: Path) -> None:
    with console_shop(fake_graph, tmp_path) as shop, client_of(shop) as c:
        shop.history()
        csrf = signed_in(c)
        overview = c.get("/dashboard")
        assert overview.status_code == 200
        assert 'id="events-total">5<' in overview.text and 'id="backlog">1<' in overview.text
        assert "<svg" in overview.text
        event = c.get("/dashboard/events/R-4").text
        assert "not sent: the shopper refused ad cookies" in event
        assert "<details>" in event and "consent:" in event
        # An action without the session's token is refused and changes nothing.
        refused = c.post("/dashboard/actions/drop", data={"event_id": "R-5", "csrf": "forged"})
        assert refused.status_code == 403
        assert {r.status for r in shop.runtime.store.event_view("R-5")[0].outbox} == {"pending"}
        dropped = c.post("/dashboard/actions/drop", data={"event_id": "R-5", "csrf": csrf,
                                                          "destination": "meta",
                                                          "reason": "test order"})
        assert dropped.status_code == 303
        [view] = shop.runtime.store.event_view("R-5")
        assert view.outbox[0].status == "dead"
        assert any(n.kind == "dropped" and "console" in n.detail for n in view.notes)
        orders = c.get("/dashboard/orders").text
        assert "R-5" in orders and "dropped by someone" in orders
        replayed = c.post("/dashboard/actions/replay", data={"event_id": "R-5", "csrf": csrf,
                                                             "destination": "meta"})
        assert replayed.status_code == 303 and "1%20replayed" in replayed.headers["location"]
        [view] = shop.runtime.store.event_view("R-5")
        assert view.outbox[0].status == "pending"
        assert any(n.kind == "replay" for n in view.notes)
        found = c.post("/dashboard/orders", data={"csrf": csrf, "kind": "email", "q": EMAIL})
        assert found.status_code == 200 and "R-2" in found.text and "R-1" not in found.text
        by_reference = c.post("/dashboard/orders",
                              data={"csrf": csrf, "kind": "reference", "q": "R-3"})
        assert "/dashboard/events/R-3" in by_reference.text
        bad = c.post("/dashboard/orders", data={"csrf": csrf, "kind": "email", "q": "no"})
        assert bad.status_code == 400 and "q: this is not an e-mail address" in bad.text
        for path in PAGES:
            assert c.get(path).status_code == 200, path
        # The teardown: 5 API orders, no beacon (the pixel saw none), R-1..R-3 delivered to
        # Meta (recovered), R-4 refused ad cookies, R-5 replayed and waiting.
        teardown = c.get("/dashboard/teardown").text
        assert 'id="orders-count">5<' in teardown and 'id="missed-share">100.0 %<' in teardown
        assert 'id="recovered-count">3<' in teardown
        assert 'data-filter="suppressed.consent">1<' in teardown
        assert 'data-filter="pending">1<' in teardown
        recovered = c.get("/dashboard/teardown/orders?filter=recovered").text
        assert all(f">{r}<" in recovered for r in ("R-1", "R-2", "R-3"))
        assert ">R-4<" not in recovered
        consent = c.get("/dashboard/teardown/orders?filter=suppressed.consent").text
        assert ">R-4<" in consent and "refused ad cookies" in consent
        csv = c.get("/dashboard/teardown.csv")
        assert csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv.headers["content-disposition"]
        header, *_, total = csv.text.strip().splitlines()
        assert header.startswith("date,orders_count") and total.startswith("total,5,")
        assert c.get("/dashboard/teardown/orders?filter=nope").status_code == 400
        assert c.get("/dashboard/teardown?since=2020-01-01").status_code == 400
        assert c.get("/dashboard/quality?since=2026-13-01").status_code == 400
        assert c.get("/dashboard?shop=nope").status_code == 404
        big = c.post("/dashboard/orders", content=b"csrf=" + b"x" * 5000,
                     headers={"content-type": "application/x-www-form-urlencoded"})
        assert big.status_code == 400
        out = c.post("/dashboard/logout", data={"csrf": csrf})
        assert out.status_code == 303


def test_match_quality_shows_metas_refusal_instead_of_failing(
        fake_graph: FakeGraphAPI, tmp_path: Path) -> None:  # noqa: F811
    with console_shop(fake_graph, tmp_path) as shop, client_of(shop) as c:
        shop.history()
        # What reports/dataset_quality.py stores when Meta answers code 10 (no permission).
        shop.runtime.store.save_dataset_quality(DatasetQuality(
            shop="default", dataset_id=fake_graph.pixel_id, checked_at=time.time(),
            error="Meta refused the Dataset Quality request: code 10: (#10) Application "
                  "does not have permission for this action"))
        signed_in(c)
        page = c.get("/dashboard/quality")
        assert page.status_code == 200
        assert "could not be fetched" in page.text and "code 10" in page.text
        assert "Purchase" in page.text
        assert '<td class="n">100 %</td>' in page.text  # every Purchase carries em


def test_no_canary_in_any_console_answer(fake_graph: FakeGraphAPI,  # noqa: F811
                                         tmp_path: Path) -> None:
    with console_shop(fake_graph, tmp_path) as shop, client_of(shop) as c:
        shop.history()
        answers = [c.get("/dashboard/login"),
                   c.post("/dashboard/login", data={"csrf": "x", "password": PASSWORD})]
        csrf = signed_in(c)
        answers += [c.get(path) for path in PAGES]
        answers += [c.get("/dashboard/static/console.css"), c.get("/dashboard/nope")]
        answers += [c.post("/dashboard/orders", data={"csrf": csrf, "kind": kind, "q": EMAIL})
                    for kind in ("email", "reference", "event_id")]
        answers.append(c.post("/dashboard/actions/drop", data={"csrf": csrf,
                                                               "event_id": EMAIL}))
        for answer in answers:
            text = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
            assert PASSWORD not in text, answer.url
            assert EMAIL not in text.lower(), answer.url
