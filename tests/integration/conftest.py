"""Fixtures shared by the integration tests of several shops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer


@pytest.fixture
def pixels() -> Iterator[tuple[FakeGraphAPI, FakeGraphAPI]]:
    """Two fake Graph APIs on loopback, each with its own pixel and token (two shops)."""
    fakes, servers = [], []
    for _ in range(2):
        fake = FakeGraphAPI()
        server = ThreadedServer(fake.app).start()
        fake.url = server.url
        fakes.append(fake)
        servers.append(server)
    try:
        yield fakes[0], fakes[1]
    finally:
        for fake, server in zip(fakes, servers, strict=True):
            fake.close()
            server.stop()
