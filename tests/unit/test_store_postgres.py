"""PostgresStore beyond the contract suite: opening by URL, migrations (explicit, concurrent,
refused with --no-migrate), driver errors as the store's named errors, a server restart
survived, the password never shown, and /healthz's pool figures. Real PostgreSQL: the shared
service (each test its own database, tests/pg.py) or a private cluster where it is restarted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

import trackside.store
from tests.contract.test_store_contract import NOW, accept, make_event
from tests.fakes.server import free_port
from tests.pg import fresh_database, pg_url  # noqa: F401 (the fixture)
from tests.waiting import wait_until
from trackside.store import StoreUnavailable, StoreUnwritable, open_store
from trackside.store.opening import SchemaBehind, migrate
from trackside.store.postgres import PostgresStore, _migrations

CANARY_PASSWORD = "canaryPGpasswordQ7w8e9"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: Every PostgreSQL migration file, in order (0001_initial.sql, 0003_order_facts.sql, …).
ALL_MIGRATIONS = [name for _, name, _ in _migrations()]

#: Every PostgreSQL migration, in the order they apply (a new database needs them all).
ALL_MIGRATIONS = sorted(path.name for path in (
    Path(trackside.store.__file__).parent / "migrations" / "postgres").glob("*.sql"))


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_opens_postgres_urls_migrated(pg_url: str, scheme: str) -> None:  # noqa: F811
    url = scheme + pg_url[pg_url.index("://"):]
    store = open_store(url, pool_size=2)
    try:
        assert isinstance(store, PostgresStore) and store.pending_migrations() == []
        assert accept(store, make_event("R1")) == ["queued"]
    finally:
        store.close()


#: Every PostgreSQL migration file, in order: what migrating an empty database applies.
ALL_MIGRATIONS = [name for _, name, _ in _migrations()]


def test_no_migrate_refuses_a_schema_that_is_behind_and_migrate_applies_it(
    pg_url: str,  # noqa: F811
) -> None:
    with pytest.raises(SchemaBehind, match="trackside migrate"):
        open_store(pg_url, migrate=False)
    assert migrate(pg_url) == ALL_MIGRATIONS
    assert migrate(pg_url) == []
    open_store(pg_url, migrate=False).close()


def test_two_processes_migrating_at_once_apply_each_migration_once(
    pg_url: str,  # noqa: F811
) -> None:
    applied: list[list[str]] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait(10)
        applied.append(migrate(pg_url))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(applied) == [[], [], ALL_MIGRATIONS]


def test_a_read_only_database_is_unwritable_not_unavailable(pg_url: str) -> None:  # noqa: F811
    migrate(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT 1")
        name = pg_url.rsplit("/", 1)[1]
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    store = PostgresStore(pg_url, pool_size=1)
    try:
        with pytest.raises(StoreUnwritable):
            store.probe_write(1.0, NOW)
        store.ping()  # reads still work
    finally:
        store.close()


def test_down_at_start_names_the_url_with_its_password_masked() -> None:
    url = f"postgresql://trackside:{CANARY_PASSWORD}@127.0.0.1:{free_port()}/trackside"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert "postgresql://trackside:**********@127.0.0.1" in message
    assert CANARY_PASSWORD not in message and CANARY_PASSWORD not in repr(caught.value)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackside.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _env(database_url: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")},
            "TRACKSIDE_DATABASE_URL": database_url, "TRACKSIDE_API_KEYS": "k" * 24}


@pytest.mark.slow
def test_commands_exit_2_when_postgres_is_down_and_never_print_the_password() -> None:
    env = _env(f"postgresql://trackside:{CANARY_PASSWORD}@127.0.0.1:{free_port()}/trackside")
    for command in (["serve"], ["worker"], ["migrate"], ["serve", "--no-migrate"]):
        result = _cli(env, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert "postgresql://trackside:**********@127.0.0.1" in result.stderr, command
        assert CANARY_PASSWORD not in result.stdout + result.stderr, command


@pytest.mark.slow
def test_migrate_command_and_no_migrate_at_start(pg_url: str) -> None:  # noqa: F811
    env = _env(pg_url)
    refused = _cli(env, "worker", "--drain", "--no-migrate")
    assert refused.returncode == 2 and "trackside migrate" in refused.stderr
    first = _cli(env, "migrate")
    assert first.returncode == 0
    assert all(f"applied {name}" in first.stdout for name in ALL_MIGRATIONS)
    again = _cli(env, "migrate")
    assert again.returncode == 0 and "the schema is up to date" in again.stdout
    drained = _cli(env, "worker", "--drain", "--no-migrate")
    assert drained.returncode == 0, drained.stderr


@pytest.fixture
def private_cluster() -> Iterator[tuple[str, list[str]]]:
    """A PostgreSQL cluster of this test alone (it gets restarted); the URL and its pg_ctl.
    postgres refuses to run as root: the folder belongs to the postgres user."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15's server binaries are not installed")
    folder = Path(tempfile.mkdtemp(prefix="trackside-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust",
                    "-U", "postgres"], check=True, capture_output=True, timeout=120)
    ctl = [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "60",
           "-l", str(folder / "log"), "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"]
    subprocess.run([*ctl, "start"], check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", ctl
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_server_restart_is_survived(private_cluster: tuple[str, list[str]]) -> None:
    url, ctl = private_cluster
    store = open_store(url, pool_size=3)
    try:
        accept(store, make_event("R1"), destinations=("meta",))
        store.ping()
        # A worker's reads go on during the restart: each waits for the server to come back
        # (a read whose connection breaks under it runs again on a new one), none fails.
        failures: list[BaseException] = []
        reads, restarted = [0], threading.Event()

        def reader() -> None:
            while not restarted.is_set():
                try:
                    store.next_due("meta")
                    reads[0] += 1
                except BaseException as exc:  # noqa: BLE001 (reported below)
                    failures.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            # -l: the restarted server logs to its file, not to our pipe (which stays open).
            subprocess.run([*ctl, "-m", "fast", "restart"], check=True, capture_output=True,
                           timeout=120)
        finally:
            restarted.set()
            thread.join(60)
        assert failures == [] and reads[0] > 0
        # The pooled connections died with the old server: each is checked, discarded and
        # replaced, so the first call after the restart already succeeds.
        assert accept(store, make_event("R2"), destinations=("meta",)) == ["queued"]
        assert [row.event.event_id for row in store.claim("meta", 10, "w", 60, NOW)] == [
            "R1", "R2"]
    finally:
        store.close()


def test_health_details_show_the_pool_and_no_secret() -> None:
    with fresh_database() as url:
        store = open_store(url, pool_size=3)
        try:
            store.ping()
            details = store.health_details()
            assert details.keys() == {"size", "idle", "waiting", "max"}
            assert details["max"] == 3 and 1 <= int(details["size"]) <= 3
            assert details["waiting"] == 0
        finally:
            store.close()


async def test_healthz_shows_the_pool(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    from tests.conftest import API_KEY, app_client
    from trackside.config import Settings
    from trackside.runtime import Runtime

    runtime = Runtime.from_settings(Settings(database_url=pg_url, api_keys=[API_KEY],
                                             database_pool_size=4))
    try:
        async for client in app_client(runtime):
            response = await client.get("/healthz")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["store"] == "ok" and body["store_pool"]["max"] == 4
        assert set(body["store_pool"]) == {"size", "idle", "waiting", "max"}
    finally:
        runtime.close()


@pytest.mark.slow
def test_serve_on_postgres_survives_an_outage_and_never_shows_the_password(
    private_cluster: tuple[str, list[str]], tmp_path: Path,
) -> None:
    # Trust authentication accepts any password: the canary rides in the URL like a real one.
    url, ctl = private_cluster
    url = url.replace("postgres@", f"postgres:{CANARY_PASSWORD}@")
    port, key = free_port(), "k" * 24
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "trackside.cli", "serve", "--no-worker", "--port", str(port),
             "--log-level", "debug"], env={**_env(url), "TRACKSIDE_API_KEYS": key},
            stdout=log, stderr=subprocess.STDOUT)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    seen: list[str] = []

    def post(event_id: str) -> int:
        response = httpx.post(f"{base}/v1/events", headers=auth, timeout=30,
                              json={"events": [{"event_name": "Lead", "event_id": event_id,
                                                "user": {"email": "a@example.com"}}]})
        seen.append(response.text)
        return response.status_code

    def healthz() -> httpx.Response:
        response = httpx.get(f"{base}/healthz", timeout=30)
        seen.append(response.text)
        return response

    try:
        wait_until(lambda: _answers(base) or process.poll() is not None, timeout_s=30,
                   what="serve listening")
        assert post("before") == 202
        assert healthz().json()["store_pool"]["max"] == 10
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=True, capture_output=True,
                       timeout=120)
        assert post("during") == 503  # never a 202 the store did not commit
        assert healthz().status_code == 503
        subprocess.run([*ctl, "start"], check=True, capture_output=True, timeout=120)
        wait_until(lambda: healthz().status_code == 200, timeout_s=60, what="healthy again")
        assert post("after") == 202
        seen.append(httpx.get(f"{base}/metrics", timeout=30).text)
    finally:
        process.terminate()
        process.wait(timeout=60)
    output = log_path.read_text(errors="replace")
    assert "Health check" in output  # the outage was logged...
    assert CANARY_PASSWORD not in output  # ...without the password
    assert all(CANARY_PASSWORD not in text for text in seen)


def _answers(base: str) -> bool:
    try:
        httpx.get(f"{base}/healthz", timeout=1)
    except httpx.TransportError:
        return False
    return True


@pytest.mark.parametrize("url", [
    f"postgresql://trackside:{CANARY_PASSWORD}@127.0.0.1:notaport/trackside",
    f"postgresql://trackside:{CANARY_PASSWORD}@127.0.0.1/trackside?sslmode=sometimes",
])
def test_a_bad_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore(url)
    assert CANARY_PASSWORD not in str(caught.value)
