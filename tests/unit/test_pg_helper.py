"""tests/pg.py gives each caller its own database and removes it afterwards."""

from __future__ import annotations

import psycopg

from tests.pg import ADMIN_URL, fresh_database


def _exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (name,)).fetchone() is not None


def test_fresh_databases_are_separate_and_dropped() -> None:
    with fresh_database() as first, fresh_database() as second:
        assert first != second
        names = [url.rsplit("/", 1)[1] for url in (first, second)]
        assert all(_exists(name) for name in names)
        with psycopg.connect(first) as conn:
            conn.execute("CREATE TABLE only_here (x int)")
        with psycopg.connect(second) as conn:
            assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
        with psycopg.connect(first) as still_open:
            still_open.execute("SELECT 1")
    assert not any(_exists(name) for name in names)
