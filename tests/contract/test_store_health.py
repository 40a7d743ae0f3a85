"""Store.health_details over every implementation: what /healthz may show about the store's
connections (a pool's figures, or nothing), plain numbers and words only."""

from __future__ import annotations

from trackside.store import Store


def test_health_details_are_plain_figures(store: Store) -> None:
    store.ping()
    details = store.health_details()
    assert isinstance(details, dict)
    assert all(isinstance(key, str) and isinstance(value, int | str)
               for key, value in details.items())
    for value in details.values():
        assert "://" not in str(value)  # never a URL (nor the password in it)
