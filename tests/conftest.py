"""Shared fixtures: settings on a tmp SQLite file, a runtime, the ASGI app and a client on it.

Everything is real: a SQLite file under ``tmp_path``, the app with its lifespan running, httpx
talking to it through ``ASGITransport`` (no sockets). Tests that need a real port use
tests/fakes/server.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from trackside.config import Settings
from trackside.runtime import Runtime

#: The API key every default test setting accepts.
API_KEY = "test-api-key-0123456789"

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def settings_factory(tmp_path: Path) -> SettingsFactory:
    """``settings_factory(**overrides)``: Settings on ``tmp_path/trackside.db`` with one API key,
    no vendor credentials (dry run) and no join window, unless overridden."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'trackside.db'}",
            "api_keys": [API_KEY],
            "join_window_s": 0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def runtime(settings_factory: SettingsFactory) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings_factory())
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def app_client(
    runtime: Runtime, *, run_worker: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on ``create_app(runtime)`` with its lifespan running (use as an async
    generator: ``async for client in app_client(rt): …``, or through the ``client`` fixture)."""
    from trackside.web.app import create_app

    app = create_app(runtime, run_worker=run_worker)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://trackside.test") as c:
            yield c


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app for ``runtime``, worker off (tests drive delivery themselves)."""
    async for c in app_client(runtime):
        yield c
