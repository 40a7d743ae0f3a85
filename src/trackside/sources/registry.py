"""Which sources bring a poller: add yours here (docs/architecture.md "How to add a source").

Imported lazily by trackside/pollers.py: a source's poller module may import the runtime,
which imports the pipeline, which imports the sources' parsing modules.
"""

from __future__ import annotations

from trackside.pollers import Poller


def source_pollers() -> list[Poller]:
    """One fresh poller of every source that has one; each says whether it is configured."""
    from trackside.sources.prestashop.poller import PrestaShopPoller

    return [PrestaShopPoller()]
