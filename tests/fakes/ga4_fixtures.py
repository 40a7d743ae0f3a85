"""pytest fixture ``fake_ga4``: a fake GA4 server on a loopback port for one test.

Import it into a test module (``from tests.fakes.ga4_fixtures import fake_ga4``). By default the
fixture fails the test at teardown if any payload sent to ``/mp/collect`` broke a rule: every
payload trackside produces must validate with no messages. A test that sends broken payloads on
purpose calls ``fake_ga4.expect_violations()``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.ga4 import FakeGA4
from tests.fakes.server import ThreadedServer
from trackside.config import Settings


class FakeGA4Handle(FakeGA4):
    strict: bool = True

    def expect_violations(self) -> None:
        self.strict = False

    def settings(self, **overrides: Any) -> Settings:
        """Settings that point trackside's GA4 destination at this fake."""
        values: dict[str, Any] = {
            "ga4_measurement_id": self.measurement_id,
            "ga4_api_secret": self.api_secret,
            "ga4_url": self.url,
        }
        values.update(overrides)
        return Settings(**values)


@pytest.fixture
def fake_ga4() -> Iterator[FakeGA4Handle]:
    fake = FakeGA4Handle(
        measurement_id="G-" + secrets.token_hex(5).upper(),
        api_secret="ga4s-" + secrets.token_urlsafe(16),
    )
    server = ThreadedServer(fake.app()).start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()
    if fake.strict:
        assert fake.violations == [], f"payloads sent to the fake GA4 broke rules: {fake.violations}"
