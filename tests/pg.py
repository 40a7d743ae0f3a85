"""Throwaway PostgreSQL databases on the shared service, one per test (or per run).

The service at 127.0.0.1:5432 (user postgres, trust auth) is shared by every test run on the
machine, so nothing here touches a database it did not create: each caller gets a new
``trackside_<random>`` database, dropped (connections closed first) when it is done.
``PG_TEST_ADMIN_URL`` (not TRACKSIDE_*: `serve` refuses TRACKSIDE_* variables it does not know)
points the suite at another server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get("PG_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _url_for(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@contextmanager
def fresh_database(prefix: str = "trackside") -> Iterator[str]:
    """The URL of a new empty database, dropped at the end of the block."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _url_for(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new empty PostgreSQL database for this test (the schema is the store's to create)."""
    with fresh_database() as url:
        yield url
