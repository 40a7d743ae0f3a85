"""pytest fixture ``fake_graph``: the strict fake Meta Graph API on a loopback port, per test.

Import it into a test module (``from tests.fakes.fixtures import fake_graph``) or list this
module in a conftest's ``pytest_plugins``. The yielded object is the
:class:`~tests.fakes.graph_api.FakeGraphAPI` itself: ``.url``, ``.pixel_id``, ``.token``,
``.app_secret``, ``.events``, ``.requests``, ``.settings(**overrides)`` and the fault controls
(``fail_next``, ``fail_until_cleared``, ``reject_event_id``, ``clear_faults``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer


@pytest.fixture
def fake_graph() -> Iterator[FakeGraphAPI]:
    fake = FakeGraphAPI()
    server = ThreadedServer(fake.app).start()
    fake.url = server.url
    try:
        yield fake
    finally:
        fake.close()  # let a held `timeout` request finish so uvicorn can stop
        server.stop()
