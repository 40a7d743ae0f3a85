"""The PrestaShop module (integrations/prestashop/trackside): the zip `trackside prestashop
module` builds, `php -l` on every PHP file, and the PHPUnit tests of its pure functions, whose
signatures and join tokens must equal trackside.sources.signing's on the same inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer
from trackside.cli import app
from trackside.runtime import Runtime
from trackside.sources.prestashop.module_zip import module_files
from trackside.sources.signing import join_token, sign_purchase, signature_message
from trackside.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "integrations" / "prestashop" / "trackside"
PHP = shutil.which("php")
PHPUNIT = shutil.which("phpunit")
needs_php = pytest.mark.skipif(PHP is None, reason="php-cli is not installed (.ci/run installs it)")
needs_phpunit = pytest.mark.skipif(PHPUNIT is None or PHP is None,
                                   reason="phpunit is not installed (.ci/run installs it)")


def build(tmp_path: Path) -> zipfile.ZipFile:
    out = tmp_path / "trackside.zip"
    result = CliRunner().invoke(app, ["prestashop", "module", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "module folder trackside/" in result.output
    return zipfile.ZipFile(out)


def test_the_zip_has_one_top_folder_named_like_the_module(tmp_path: Path) -> None:
    with build(tmp_path) as archive:
        names = archive.namelist()
        assert all(n.startswith("trackside/") for n in names)
        for required in ("trackside/trackside.php", "trackside/config.xml", "trackside/logo.png",
                         "trackside/lib/trackside_functions.php", "trackside/views/js/consent.js",
                         "trackside/views/templates/hook/header.tpl",
                         "trackside/views/templates/hook/confirmation.tpl"):
            assert required in names
        # PrestaShop's convention: an index.php guard in every folder of the module.
        folders = {n.rsplit("/", 1)[0] for n in names}
        assert {f"{f}/index.php" for f in folders} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.endswith((".py", ".pyc"))]
        assert "class Trackside extends Module" in archive.read("trackside/trackside.php").decode()
        assert "<name>trackside</name>" in archive.read("trackside/config.xml").decode()
        assert archive.read("trackside/logo.png").startswith(b"\x89PNG")


def test_the_same_files_give_the_same_zip(tmp_path: Path) -> None:
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    build(first).close()
    build(second).close()
    assert (first / "trackside.zip").read_bytes() == (second / "trackside.zip").read_bytes()


def test_the_repository_folder_is_the_packaged_module() -> None:
    assert MODULE.resolve() == Path(str(module_files())).resolve()


def test_an_unwritable_destination_is_named_without_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "missing-folder" / "trackside.zip"
    result = CliRunner().invoke(app, ["prestashop", "module", "--out", str(out)])
    assert result.exit_code == 1
    assert "cannot write" in result.output and "Traceback" not in result.output


@needs_php
def test_every_php_file_passes_php_lint(tmp_path: Path) -> None:
    with build(tmp_path) as archive:
        archive.extractall(tmp_path / "unzipped")
    files = sorted((tmp_path / "unzipped").rglob("*.php")) + sorted(REPO.glob("tests/php/*.php"))
    assert len(files) >= 8
    for path in files:
        result = subprocess.run([str(PHP), "-l", str(path)], capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


PURCHASES = [
    ("XKBKNABJK", 49.9, "EUR"), ("XKBKNABJK", 1500, "eur"), ("A", 1.005, "USD"),
    ("B", 0.125, "USD"), ("C", 2.675, "GBP"), ("D", 10.245, "EUR"), ("E", 0.0, "EUR"),
    ("F", 123456.785, "JPY"), ("G", 0.1 + 0.2, "EUR"), ("Réf-ü", 19.99, "chf"),
]
TOKENS = [("cart", "8841"), ("customer", "311"), ("cart", "1"), ("customer", "ABC")]


@needs_phpunit
def test_phpunit_the_module_and_its_functions(fake_graph: FakeGraphAPI,  # noqa: F811
                                              tmp_path: Path) -> None:
    """tests/php: the pure functions, signed as the Python side signs (vectors below), and
    trackside.php's hooks on PrestaShop stand-ins, pushing to a real gateway on loopback."""
    key = "canary-signing-key-7f3a"
    api_key = "canary-api-key-phpunit-5e0c"
    vectors = {
        "key": key,
        "purchases": [{"reference": r, "value": v, "currency": c,
                       "message": signature_message(r, v, c).decode(),
                       "signature": sign_purchase(key, r, v, c)} for r, v, c in PURCHASES],
        "tokens": [{"kind": k, "id": i, "token": join_token(key, k, i)} for k, i in TOKENS],
    }
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors, ensure_ascii=False), encoding="utf-8")
    runtime = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/gateway.db", api_keys=[api_key]))
    server = ThreadedServer(create_app(runtime, run_worker=False)).start()
    try:
        result = subprocess.run(
            [str(PHPUNIT), "--do-not-cache-result", "--colors=never", str(REPO / "tests" / "php")],
            capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "TRACKSIDE_VECTORS": str(path),
                 "TRACKSIDE_GATEWAY": server.url, "TRACKSIDE_API_KEY": api_key})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "OK (" in result.stdout and "Skipped" not in result.stdout, result.stdout
        assert api_key not in result.stdout + result.stderr
        # The module pushed the paid order once, under the poller's id (the reference: no
        # prefix), and nothing while the push was off or the state not paid.
        [pushed] = runtime.store.event_view("PUSHED1")
        assert pushed.event_name == "Purchase" and pushed.source == "api"
        assert pushed.event.cart_id == "8841"
        assert runtime.store.event_view("NOTPUSHED") == []
    finally:
        server.stop()
        runtime.close()
