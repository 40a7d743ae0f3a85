"""The consent a cart's or customer's beacons lend: per signal, the newest stated choice."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from trackside.context import CONSENT_SIGNALS, newest_consent
from trackside.events import Consent, NormalizedEvent
from trackside.join import browser_consent

VALUES = (None, "granted", "denied")


def beacon(at: int, event_id: str, **consent: str | None) -> NormalizedEvent:
    return NormalizedEvent(event_name="PageView", event_id=event_id, event_time=at,
                           action_source="website", source="browser",
                           consent=Consent(**consent) if consent else None)


def test_newest_consent_takes_the_first_stated_value_per_signal() -> None:
    assert newest_consent(None, None) is None
    assert newest_consent(None, Consent()) == Consent()
    assert newest_consent(Consent(ad_storage="granted"), None,
                          Consent(ad_storage="denied", ad_user_data="denied")) == Consent(
        ad_storage="granted", ad_user_data="denied")
    assert newest_consent(Consent(ad_storage="denied"), Consent(ad_storage="granted")) == Consent(
        ad_storage="denied")


def test_a_grant_today_wins_over_a_refusal_months_ago_and_a_withdrawal_wins_back() -> None:
    refused = beacon(1_700_000_000, "old", **dict.fromkeys(CONSENT_SIGNALS, "denied"))
    accepted = beacon(1_700_000_000 + 90 * 86400, "new",
                      **dict.fromkeys(CONSENT_SIGNALS, "granted"))
    withdrawn = beacon(1_700_000_000 + 91 * 86400, "newer",
                       **dict.fromkeys(CONSENT_SIGNALS, "denied"))
    # Whatever order the store hands them in (cart's first, then customer's).
    for rows in itertools.permutations([refused, accepted]):
        assert browser_consent(rows) == accepted.consent
    for rows in itertools.permutations([refused, accepted, withdrawn]):
        assert browser_consent(rows) == withdrawn.consent


def test_each_signal_takes_its_own_newest_statement() -> None:
    rows = [beacon(300, "c", ad_storage="denied"),
            beacon(200, "b", ad_personalization="granted", analytics_storage="denied"),
            beacon(100, "a", **dict.fromkeys(CONSENT_SIGNALS, "granted")),
            beacon(400, "d")]  # no consent stated at all: says nothing
    assert browser_consent(rows) == Consent(ad_storage="denied", analytics_storage="denied",
                                            ad_user_data="granted",
                                            ad_personalization="granted")


def test_rows_of_the_same_second_keep_the_stores_order() -> None:
    # The store's order is newest first by receipt within a key: it decides a tie.
    first, second = beacon(100, "x", ad_storage="granted"), beacon(100, "y", ad_storage="denied")
    assert browser_consent([first, second]) == Consent(ad_storage="granted")
    assert browser_consent([second, first]) == Consent(ad_storage="denied")


_rows = st.lists(
    st.tuples(st.integers(0, 50), st.none() | st.tuples(*[st.sampled_from(VALUES)] * 4)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(_rows, st.randoms(use_true_random=False))
def test_browser_consent_is_the_newest_statement_per_signal(
    specs: list[tuple[int, tuple[str | None, ...] | None]], shuffler: random.Random
) -> None:
    rows = [beacon(at, f"e{i}", **dict(zip(CONSENT_SIGNALS, values, strict=True)))
            if values is not None else beacon(at, f"e{i}")
            for i, (at, values) in enumerate(specs)]
    combined = browser_consent(rows)
    if all(row.consent is None for row in rows):
        assert combined is None
        return
    assert combined is not None
    for signal in CONSENT_SIGNALS:
        stated = [(row.event_time, -index, getattr(row.consent, signal))
                  for index, row in enumerate(rows)
                  if row.consent is not None and getattr(row.consent, signal) is not None]
        # The newest; of one second, the first given.
        expected = max(stated)[2] if stated else None
        assert getattr(combined, signal) == expected
    # With distinct times the order the rows come in never matters.
    if len({row.event_time for row in rows}) == len(rows):
        shuffled = list(rows)
        shuffler.shuffle(shuffled)
        assert browser_consent(shuffled) == combined
