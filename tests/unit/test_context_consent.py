"""Copies of one event combine their consent to the most restrictive choice, per signal."""

from __future__ import annotations

import itertools

import pytest

from trackside.context import CONSENT_SIGNALS, merge_context, most_restrictive_consent
from trackside.events import Consent, NormalizedEvent

VALUES = (None, "granted", "denied")
# (a, b) -> combined, for one signal; the table the docs state (docs/consent-and-privacy.md).
TABLE = {
    (None, None): None, (None, "granted"): "granted", (None, "denied"): "denied",
    ("granted", None): "granted", ("granted", "granted"): "granted",
    ("granted", "denied"): "denied", ("denied", None): "denied",
    ("denied", "granted"): "denied", ("denied", "denied"): "denied",
}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(VALUES, VALUES)))
@pytest.mark.parametrize("signal", CONSENT_SIGNALS)
def test_combination_table(signal: str, a: str | None, b: str | None) -> None:
    combined = most_restrictive_consent(Consent(**{signal: a}), Consent(**{signal: b}))
    assert combined is not None and getattr(combined, signal) == TABLE[(a, b)]
    # Each signal on its own: the others stay unstated.
    assert all(getattr(combined, s) is None for s in CONSENT_SIGNALS if s != signal)


def test_no_consent_at_all_stays_none_and_order_never_matters() -> None:
    assert most_restrictive_consent(None, None) is None
    mixed = [Consent(ad_storage="granted", analytics_storage="denied"),
             Consent(ad_storage="denied"), None, Consent(analytics_storage="granted",
                                                       ad_user_data="granted")]
    for order in itertools.permutations(mixed):
        assert most_restrictive_consent(*order) == Consent(
            ad_storage="denied", analytics_storage="denied", ad_user_data="granted")


def event(consent: Consent | None, source: str, **extra: object) -> NormalizedEvent:
    return NormalizedEvent(event_name="Purchase", event_id="R1", event_time=1_700_000_000,
                           action_source="website", consent=consent, source=source,
                           consent_source=None if consent is None else "event", **extra)


def test_merge_never_upgrades_a_denial_and_never_replaces_identifiers() -> None:
    stored = event(Consent(ad_storage="denied"), "store",
                   user_data={"fbp": "fb.1.1.shopper", "client_user_agent": "Shopper"})
    incoming = event(Consent(ad_storage="granted", ad_user_data="granted"), "browser",
                     user_data={"fbp": "fb.1.1.forger", "client_user_agent": "Forger",
                                "fbc": "fb.1.1.click"})
    merged, added = merge_context(stored, incoming)
    assert merged.consent == Consent(ad_storage="denied", ad_user_data="granted")
    assert merged.user_data["fbp"] == "fb.1.1.shopper"
    assert merged.user_data["client_user_agent"] == "Shopper"
    assert merged.user_data["fbc"] == "fb.1.1.click"  # only what the event lacked
    assert "consent" in added and "fbp" not in added


def test_a_joined_denial_wins_and_sets_opt_out() -> None:
    stored = event(Consent(ad_storage="granted", ad_personalization="granted"), "store")
    incoming = event(Consent(ad_personalization="denied"), "browser")
    merged, added = merge_context(stored, incoming)
    assert merged.consent.ad_personalization == "denied" and merged.opt_out is True
    assert added == ["consent"]
    # The same consent again adds nothing.
    assert merge_context(merged, incoming)[1] == []
