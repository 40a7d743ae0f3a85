"""docs/going-live.md's reverse-proxy configurations, run: real nginx and Caddy (Debian's)
in front of a real `trackside serve`, serving the tag and /collect under /tr/ of the shop's
own origin, and Chromium on a shop page loading /tr/t.js.

The page's nginx locations and Caddy block are taken from the page itself, with only the
gateway's port and the listening address changed, so the page cannot drift from what works.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import wait_until
from tests.fakes.fixtures import fake_graph  # noqa: F401  (pytest fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port
from tests.fleet import start_serve, stop, trackside_env
from trackside.store.sqlite import SQLiteStore

PAGE = Path(__file__).resolve().parents[2] / "docs" / "going-live.md"
DOC_GATEWAY = "127.0.0.1:8000"
#: The test's "shopper" connects from another loopback address than the proxy's own, so the
#: address trackside records tells the shopper's from the proxy's.
SHOPPER_IP = "127.0.0.2"
#: What a shopper may claim in its own X-Forwarded-For: never believed.
SPOOFED_IP = "203.0.113.9"

SHOP_PAGE = """<!doctype html><html><head>
<script>
window.trackside = window.trackside
  || function () { (trackside.q = trackside.q || []).push(arguments); };
trackside('consent', {ad_storage: 'granted', analytics_storage: 'granted',
  ad_user_data: 'granted', ad_personalization: 'granted'});
trackside('purchase', {reference: 'GOLIVE1', value: 10, currency: 'EUR'});
</script>
<script async src="/tr/t.js"></script>
</head><body>thank you</body></html>"""


def _block(language: str) -> str:
    [block] = re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert DOC_GATEWAY in block
    return block


@dataclass
class Proxied:
    url: str  # the shop's origin, as the browser sees it
    store_path: Path
    log: Path

    def stored(self, event_id: str) -> list[Any]:
        store = SQLiteStore(str(self.store_path))
        try:
            return store.event_view(event_id)
        finally:
            store.close()


def _nginx(tmp: Path, port: int, gateway: int) -> subprocess.Popen[bytes]:
    locations = _block("nginx").replace(DOC_GATEWAY, f"127.0.0.1:{gateway}")
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read tmp as root does
    conf = tmp / "nginx.conf"
    conf.write_text(f"""{user}daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    types {{ text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
{locations}
    }}
}}
""")
    check = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _caddy(tmp: Path, port: int, gateway: int) -> subprocess.Popen[bytes]:
    block = _block("caddy").replace(DOC_GATEWAY, f"127.0.0.1:{gateway}")
    caddyfile = tmp / "Caddyfile"
    caddyfile.write_text(f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {tmp}/caddy
}}
http://127.0.0.1:{port} {{
\troot * {tmp}/www
{block}
\tfile_server
}}
""")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "cfg"),
           "HOME": str(tmp)}
    check = subprocess.run(["caddy", "validate", "--config", str(caddyfile), "--adapter",
                            "caddyfile"], capture_output=True, text=True, timeout=60, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    return subprocess.Popen(["caddy", "run", "--config", str(caddyfile), "--adapter",
                             "caddyfile"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture(params=["nginx", "caddy"])
def proxied(request: Any, tmp_path: Path, fake_graph: FakeGraphAPI) -> Iterator[Proxied]:  # noqa: F811
    proxy = request.param
    assert shutil.which(proxy), f"{proxy} is not installed (apt-get install {proxy}; .ci/run does)"
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text(SHOP_PAGE)
    port, gateway = free_port(), free_port()
    origin = f"http://127.0.0.1:{port}"
    store_path = tmp_path / "trackside.db"
    # The page's settings: the shop's origin, and the proxy (loopback) trusted.
    env = trackside_env(f"sqlite:///{store_path}", fake_graph, allowed_origins=origin,
                        trusted_proxies="127.0.0.1,::1")
    log = tmp_path / "serve.log"
    server = start_serve(env, gateway, log=log)
    process = (_nginx if proxy == "nginx" else _caddy)(tmp_path, port, gateway)
    try:
        wait_until(lambda: _answers(origin + "/"), timeout_s=30, what=f"{proxy} listening")
        yield Proxied(origin, store_path, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert stop(server) == 0


def test_the_tag_and_collect_answer_under_the_prefix_and_nothing_else(proxied: Proxied) -> None:
    shopper = httpx.HTTPTransport(local_address=SHOPPER_IP)
    with httpx.Client(base_url=proxied.url, timeout=10, transport=shopper) as client:
        tag = client.get("/tr/t.js")
        assert tag.status_code == 200 and "javascript" in tag.headers["content-type"]
        assert "/collect" in tag.text
        assert client.get("/tr/t.js", params={"v": "x"}).status_code == 200  # query passes
        for private in ("/tr/metrics", "/tr/healthz", "/tr/v1/events", "/tr/dashboard",
                        "/metrics", "/t.js"):
            assert client.get(private).status_code == 404, private
        beacon = {"v": 1, "type": "track", "event_name": "AddToCart",
                  "event_id": "0123456789abcdef0123456789abcdef",
                  "url": f"{proxied.url}/product/7", "pixel": False, "cookies": {},
                  "consent": {"ad_storage": "granted", "analytics_storage": "granted"}}
        answered = client.post("/tr/collect", json=beacon, headers={
            "origin": proxied.url, "x-forwarded-for": SPOOFED_IP})
        assert answered.status_code == 202, answered.text
        assert "_fbp" in answered.cookies  # set through the proxy: the shop's own cookie
        refused = client.post("/tr/collect", json=beacon,
                              headers={"origin": "https://elsewhere.example"})
        assert refused.status_code == 403
        assert "TRACKSIDE_ALLOWED_ORIGINS" in refused.json()["error"]["message"]
    [view] = proxied.stored(beacon["event_id"])
    # The proxy passed on the shopper's address (nginx appends it, Caddy replaces what the
    # client claimed); trackside believes the trusted proxy's entry, not the client's.
    assert view.event.user_data["client_ip_address"] == SHOPPER_IP
    wait_until(lambda: "https://elsewhere.example" in proxied.log.read_text(),
               what="the refused origin's warning in serve's log")
    assert "TRACKSIDE_ALLOWED_ORIGINS" in proxied.log.read_text()


def test_a_shop_page_loads_the_tag_from_the_prefix_and_its_beacon_is_stored(
    proxied: Proxied, browser_context: Any
) -> None:
    page = browser_context.new_page()
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url)
            if request.method == "POST" else None)
    page.goto(proxied.url + "/")
    wait_until(lambda: proxied.stored("GOLIVE1"), timeout_s=20, what="the purchase stored")
    assert f"{proxied.url}/tr/collect" in posted  # next to where t.js was loaded from
    cookies = {c["name"]: c for c in browser_context.cookies(proxied.url)}
    assert "_fbp" in cookies and cookies["_fbp"]["domain"] == "127.0.0.1"  # first-party
