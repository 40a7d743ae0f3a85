"""The stores the contract suite runs over, and how each is locked by "someone else".

Everything implementation-specific lives here: the tests use the Store protocol only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.lockholder import hold_lock
from tests.pg import fresh_database, pg_url  # noqa: F401 (the fixture, for the postgres-only tests)
from trackside.store import Store
from trackside.store.postgres import PostgresStore
from trackside.store.sqlite import SQLiteStore
from trackside.testing import MemoryStore

IMPLEMENTATIONS = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One database of this run on the shared service (tests/pg.py), migrated once: a new
    database per test costs ~0.7 s (create, migrate, drop), emptying its tables ~0.03 s."""
    with fresh_database() as url:
        first = PostgresStore(url, pool_size=1)
        first.migrate()
        first.close()
        yield url


#: Every table but schema_migrations, children before the tables they reference.
_TABLES = ("attempts", "notes", "outbox", "events", "cursors", "destination_state",
           "webhook_deliveries",
           "health_probe", "jobs", "dataset_quality",
           "match_key_deltas")


def _emptied(url: str) -> str:
    # DELETE, not TRUNCATE: on tables this small it is several times cheaper (no new files).
    with psycopg.connect(url) as conn:
        conn.execute("SET LOCAL synchronous_commit = off")  # test data: no fsync needed
        for table in _TABLES:
            conn.execute(f"DELETE FROM {table}")
    return url


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    implementation: Store
    if request.param == "postgres":
        url = _emptied(request.getfixturevalue("postgres_database"))
        implementation = PostgresStore(url, pool_size=4)
        implementation.migrate()  # already applied: checks and does nothing
        yield implementation
        implementation.close()
        return
    if request.param == "sqlite":
        implementation = SQLiteStore(str(tmp_path / "contract.db"))
    else:
        implementation = MemoryStore()
    implementation.migrate()
    yield implementation
    implementation.close()


@pytest.fixture
def store_url(store: Store, tmp_path: Path) -> str | None:
    """The URL another process opens ``store``'s data with (None: not shareable)."""
    if isinstance(store, SQLiteStore):
        return f"sqlite:///{tmp_path / 'contract.db'}"
    if isinstance(store, PostgresStore):
        return store.url
    return None


@pytest.fixture
def other_store(store: Store, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Another store object on ``store``'s data, as another process would have (the memory
    store, one process by nature, is its own other)."""
    opened: list[Store] = []

    def open_other() -> Store:
        if isinstance(store, SQLiteStore):
            other: Store = SQLiteStore(str(tmp_path / "contract.db"))
        elif isinstance(store, PostgresStore):
            other = PostgresStore(store.url, pool_size=2)
        else:
            return store
        opened.append(other)
        return other

    yield open_other
    for other in opened:
        other.close()


@pytest.fixture
def job_owner(store: Store, tmp_path: Path) -> Callable[[str], str | None]:
    """The owner the jobs row of a name records (None: no row)."""
    def read(name: str) -> str | None:
        if isinstance(store, SQLiteStore):
            with closing(sqlite3.connect(tmp_path / "contract.db")) as conn:
                row = conn.execute("SELECT owner FROM jobs WHERE name = ?", (name,)).fetchone()
            return None if row is None else str(row[0])
        if isinstance(store, PostgresStore):
            with psycopg.connect(store.url) as conn:
                found = conn.execute("SELECT owner FROM jobs WHERE name = %s",
                                     (name,)).fetchone()
            return None if found is None else str(found[0])
        assert isinstance(store, MemoryStore)
        job = store._state.jobs.get(name)
        return None if job is None else job.owner

    return read


@contextmanager
def _hold_postgres_locks(store: PostgresStore) -> Iterator[None]:
    # Another session holding the tables the store's writes need: reads still run (EXCLUSIVE
    # lets ACCESS SHARE through), every write waits.
    with psycopg.connect(store.url) as other:
        other.execute("LOCK TABLE events, outbox, attempts, notes, cursors, destination_state,"
                      " health_probe IN EXCLUSIVE MODE")
        yield
        other.rollback()


@contextmanager
def _hold_memory_lock(store: MemoryStore) -> Iterator[None]:
    # Another thread inside a write, as another writer of the same process would be.
    taken, done = threading.Event(), threading.Event()

    def writer() -> None:
        with store._write():
            taken.set()
            done.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    taken.wait(30)
    try:
        yield
    finally:
        done.set()
        thread.join(30)


@pytest.fixture
def locked_elsewhere(
    store: Store, tmp_path: Path
) -> Callable[[], AbstractContextManager[object]]:
    """A context manager during which another writer holds ``store``'s lock."""
    if isinstance(store, SQLiteStore):
        return lambda: hold_lock(tmp_path / "contract.db")
    if isinstance(store, PostgresStore):
        return lambda: _hold_postgres_locks(store)
    assert isinstance(store, MemoryStore)
    return lambda: _hold_memory_lock(store)
