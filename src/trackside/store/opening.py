"""Opening the store a ``TRACKSIDE_DATABASE_URL`` names, and bringing its schema up to date.

``sqlite://`` opens the embedded store (sqlite.py); ``postgresql://`` and ``postgres://`` the
shared one (postgres.py). Each dialect has its own numbered migrations
(store/migrations/<dialect>/); ``trackside migrate`` applies them explicitly, and a process
started with ``--no-migrate`` refuses a schema that is behind instead of changing it.
"""

from __future__ import annotations

import os
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trackside.store import Store, StoreError

#: Connections a PostgreSQL store keeps at most (TRACKSIDE_DATABASE_POOL_SIZE).
DEFAULT_POOL_SIZE = 10


class SchemaBehind(StoreError):
    """The database lacks migrations this version needs, and the process may not apply them."""

    health = "schema_behind"


class MigratingStore(Store, Protocol):
    def pending_migrations(self) -> list[str]: ...

    def apply_migrations(self) -> list[str]: ...


def is_postgres_url(database_url: str) -> bool:
    return database_url.startswith(("postgresql://", "postgres://"))


def describe_store(database_url: str) -> str:
    """The store a URL names, as the startup log shows it: the kind and the file, or the
    PostgreSQL URL (host, port, database, user) with its password masked, in the netloc as
    in a ``password=`` query parameter."""
    if database_url.startswith("sqlite://"):
        path = database_url[len("sqlite://"):].removeprefix("/") or "trackside.db"
        return f"sqlite {path if path == ':memory:' else os.path.abspath(path)}"
    if is_postgres_url(database_url):
        from trackside.config import mask_url_password

        parts = urlsplit(mask_url_password(database_url))
        query = urlencode([(key, "**********" if key == "password" else value)
                           for key, value in parse_qsl(parts.query, keep_blank_values=True)],
                          safe="*")
        return f"postgresql {urlunsplit(parts._replace(query=query))}"
    return f"unknown ({database_url.split(':', 1)[0]}:)"


def connect(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> MigratingStore:
    """The store of ``database_url``, its schema as it is."""
    if database_url.startswith("sqlite://"):
        from trackside.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(database_url)
    if is_postgres_url(database_url):
        from trackside.store.postgres import PostgresStore

        return PostgresStore(database_url, pool_size=pool_size)
    from trackside.config import ConfigError

    raise ConfigError("TRACKSIDE_DATABASE_URL: must start with sqlite:/// or postgresql://")


def open_migrated(database_url: str, *, migrate: bool = True,
                  pool_size: int = DEFAULT_POOL_SIZE) -> Store:
    """The store of ``database_url``: migrated, or (``migrate=False``) checked to need none."""
    store = connect(database_url, pool_size=pool_size)
    try:
        if migrate:
            store.apply_migrations()
        else:
            pending = store.pending_migrations()
            if pending:
                raise SchemaBehind(
                    f"the database schema is behind this version (missing {', '.join(pending)})"
                    "; run `trackside migrate` first")
    except BaseException:
        store.close()
        raise
    return store


def migrate(database_url: str, *, pool_size: int = 2) -> list[str]:
    """Apply the missing migrations of ``database_url``; the names of those applied."""
    store = connect(database_url, pool_size=pool_size)
    try:
        return store.apply_migrations()
    finally:
        store.close()
