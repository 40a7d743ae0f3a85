"""Fuzzing the Stripe webhook: authentic deliveries (signed with the right secret) with a
hostile value wherever Stripe's event and invoice JSON reach. Every answer must be 200 with a
status trackside names (authentic: answered, so Stripe does not retry for three days), never
a 4xx nor a 5xx; a good invoice sent beside them still gets in. Hypothesis prints its seed when
an example fails (``--hypothesis-seed`` replays it)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import stripe
from tests.integration.test_fuzz import _hostile
from tests.integration.test_webhook_fuzz import FUZZ, _hostile_body, deliver
from trackside.config import Settings
from trackside.runtime import Runtime

SECRET = "whsec_fuzzCanarySecret"
_serial = itertools.count(1)
INVOICE = ("data", "object")
PATHS = [
    (), ("id",), ("type",), ("created",), ("data",), INVOICE, (*INVOICE, "id"),
    (*INVOICE, "customer"), (*INVOICE, "customer_email"), (*INVOICE, "customer_phone"),
    (*INVOICE, "customer_name"), (*INVOICE, "customer_address"),
    (*INVOICE, "customer_address", "country"), (*INVOICE, "currency"),
    (*INVOICE, "amount_paid"), (*INVOICE, "billing_reason"), (*INVOICE, "period_start"),
    (*INVOICE, "parent"), (*INVOICE, "parent", "subscription_details"),
    (*INVOICE, "parent", "subscription_details", "subscription"),
    (*INVOICE, "status_transitions"), (*INVOICE, "status_transitions", "paid_at"),
    (*INVOICE, "lines"), (*INVOICE, "lines", "data"), (*INVOICE, "lines", "data", 0),
    (*INVOICE, "lines", "data", 0, "period"), (*INVOICE, "lines", "data", 0, "period", "start"),
    (*INVOICE, "lines", "data", 0, "quantity"), (*INVOICE, "lines", "data", 0, "amount"),
    (*INVOICE, "lines", "data", 0, "pricing"),
]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.from_settings(Settings(
        database_url=f"sqlite:///{tmp_path}/fuzz.db", join_window_s=0,
        stripe_webhook_secret=[SECRET]))
    yield rt
    rt.close()


def paid_event(serial: int) -> dict[str, Any]:
    start = int(time.time()) - serial * 60
    return stripe.event("invoice.paid", stripe.invoice(f"sub_fuzz{serial}", start, first=False))


@FUZZ
@given(path=st.sampled_from(PATHS), value=_hostile)
def test_stripe_never_answers_an_authentic_delivery_with_an_error(
    runtime: Runtime, path: tuple[Any, ...], value: Any,
) -> None:
    hostile = _hostile_body(paid_event(next(_serial)), path, value)
    good, good_headers = stripe.delivery(paid_event(next(_serial)), [SECRET])
    answers = deliver(runtime, [
        ("/webhooks/stripe", hostile, stripe.delivery(hostile, [SECRET])[1]),
        ("/webhooks/stripe", good, good_headers),
    ])
    for status, body in answers:
        assert status == 200, (status, body)
        assert body["status"] in ("converted", "ignored", "duplicate")
    assert answers[1][1]["status"] == "converted"
