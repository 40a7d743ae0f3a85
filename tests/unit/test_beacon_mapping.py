"""BeaconMapping (sources/browser.py): the shortcuts of the beacon → event mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trackside.config import load_settings
from trackside.sources.browser import Beacon, BeaconMapping

ORIGIN = "https://shop.example"


def _mapping(tmp: Path, **environ: str) -> BeaconMapping:
    return BeaconMapping(load_settings(environ={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp / 'unused.db'}",
        "TRACKSIDE_ALLOWED_ORIGINS": ORIGIN, **environ}))


_COOKIE_NAME = st.one_of(st.sampled_from(["_ga", "_ga_", "_ga_ABC", "_ga_abc", "_ga_Z9",
                                          "_gab", "_fbp", "x"]),
                         st.text(max_size=6).map(lambda s: "_ga_" + s))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_COOKIE_NAME, st.text(max_size=5), max_size=6))
def test_without_a_stream_the_session_is_the_first_ga_cookie_by_name(
        cookies: dict[str, str]) -> None:
    mapping = _mapping(Path("/nonexistent"))
    assert mapping.ga_session_cookie is None
    expected = next((v for k, v in sorted(cookies.items()) if k.startswith("_ga_")), None)
    assert mapping._ga_session(cookies) == expected


_SIGNAL = st.sampled_from(["ad_storage", "analytics_storage", "ad_user_data",
                           "ad_personalization", "other"])


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.none(), st.dictionaries(_SIGNAL, st.one_of(
    st.sampled_from(["granted", "denied", "GRANTED", ""]), st.booleans(), st.integers()),
    max_size=5)))
def test_consent_handed_in_is_the_beacons_own(consent: dict[str, Any] | None) -> None:
    mapping = _mapping(Path("/nonexistent"))
    beacon = Beacon(event_name="ViewContent", event_id="e-1", url=f"{ORIGIN}/p",
                    consent=consent, params={"value": 3, "currency": "eur"})
    kwargs: dict[str, Any] = {"fbp": None, "fbc": None, "ip": "203.0.113.7",
                              "user_agent": "UA"}
    plain = mapping.event(beacon, {}, **kwargs)
    given_in = mapping.event(beacon, {}, consent=beacon.consent_signals(), **kwargs)
    assert not isinstance(plain, list) and not isinstance(given_in, list)
    assert given_in[0].model_dump(exclude={"event_time"}) == plain[0].model_dump(
        exclude={"event_time"})
    assert given_in[1] == plain[1]
