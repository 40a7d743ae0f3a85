"""``doctor --online``'s store check: a real write, rolled back.

A store that opens and reads may still refuse writes (a read-only file or mount, a database
user without INSERT, a full PostgreSQL tablespace is only found on write). The probe creates a
scratch table, inserts a row and rolls the transaction back: nothing stays, and the store's own
tables are not touched.
"""

from __future__ import annotations

import sqlite3

from trackside.store import StoreError
from trackside.store.backup import sqlite_file
from trackside.store.opening import is_postgres_url

_SCRATCH = "trackside_doctor_probe"


def check_writable(database_url: str) -> None:
    """Return when the store takes a write; raise StoreError saying why not."""
    if is_postgres_url(database_url):
        _postgres(database_url)
    else:
        _sqlite(database_url)


def _sqlite(database_url: str) -> None:
    path = sqlite_file(database_url)
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        # IMMEDIATE: the write lock is taken now, as the server's writes take it.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"CREATE TABLE {_SCRATCH} (probe INTEGER)")
        conn.execute(f"INSERT INTO {_SCRATCH} VALUES (1)")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StoreError(f"{path} does not take a write: {exc}") from None
    finally:
        conn.close()


def _postgres(database_url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            conn.execute(f"CREATE TABLE {_SCRATCH} (probe integer)")
            conn.execute(f"INSERT INTO {_SCRATCH} VALUES (1)")
            conn.rollback()
    except psycopg.Error as exc:
        # psycopg's messages name host and database, never the password.
        raise StoreError("the PostgreSQL store does not take a write: "
                         + " ".join(str(exc).split())) from None
