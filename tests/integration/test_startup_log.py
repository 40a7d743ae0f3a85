"""`serve` and `worker` say first which store they use: the kind and the file, or PostgreSQL's
host, port, database and user, the password masked wherever the URL carries it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fakes.server import free_port
from tests.pg import pg_url  # noqa: F401
from tests.waiting import wait_until
from trackside.store.opening import describe_store

CANARY_PASSWORD = "canary-db-pw-4d9f1b"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env["TRACKSIDE_API_KEYS"] = "startup-log-key-0123456789"
    env.update({f"TRACKSIDE_{key.upper()}": value for key, value in settings.items()})
    return env


def _store_lines(log: str) -> list[dict[str, str]]:
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [e for e in entries if e.get("action") == "startup" and e["msg"].startswith("store: ")]


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.TransportError:
        return False
    return True


def test_describe_store_names_the_kind_and_where_never_the_password(tmp_path: Path) -> None:
    assert describe_store(f"sqlite:///{tmp_path}/a.db") == f"sqlite {tmp_path}/a.db"
    assert describe_store("sqlite:///:memory:") == "sqlite :memory:"
    relative = describe_store("sqlite:///trackside.db")
    assert relative == f"sqlite {Path.cwd() / 'trackside.db'}"
    url = (f"postgresql://trackside:{CANARY_PASSWORD}@db.internal:6432/shop"
           f"?sslmode=require&password={CANARY_PASSWORD}")
    assert describe_store(url) == ("postgresql postgresql://trackside:**********@db.internal:6432"
                                   "/shop?sslmode=require&password=**********")
    assert describe_store("postgres://db.internal/shop") == "postgresql postgres://db.internal/shop"


@pytest.mark.slow
def test_worker_logs_the_sqlite_file_it_uses(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "trackside.cli", "worker", "--drain"],
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [line] = _store_lines(result.stderr)
    assert line["msg"] == f"store: sqlite {tmp_path / 'trackside.db'}"
    assert line["level"] == "info"


@pytest.mark.slow
def test_worker_logs_the_postgres_database_with_the_password_masked(
        pg_url: str) -> None:  # noqa: F811
    # The shared service trusts local users, so the password in the URL is carried, not needed.
    with_password = pg_url.replace("postgresql://postgres@",
                                   f"postgresql://postgres:{CANARY_PASSWORD}@", 1)
    assert with_password != pg_url
    result = subprocess.run([sys.executable, "-m", "trackside.cli", "worker", "--drain"],
                            env=_env(database_url=with_password), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    [line] = _store_lines(result.stderr)
    database = pg_url.rsplit("/", 1)[1]
    assert line["msg"] == (f"store: postgresql postgresql://postgres:**********@127.0.0.1:5432/"
                           f"{database}")
    assert CANARY_PASSWORD not in result.stdout + result.stderr


@pytest.mark.slow
def test_serve_logs_the_store_before_it_listens(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "gateway.db"
    database.parent.mkdir()
    log_path = tmp_path / "serve.log"
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "trackside.cli", "serve", "--port", str(port)],
            cwd=tmp_path, env=_env(database_url=f"sqlite:///{database}"), stdout=log,
            stderr=subprocess.STDOUT)
    try:
        [line] = wait_until(lambda: _store_lines(log_path.read_text()), timeout_s=30,
                            what="serve's store line")
        assert line["msg"] == f"store: sqlite {database}"
        # Up and listening (its signal handlers in place) before it is stopped.
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout_s=30,
                   what="serve listening")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
