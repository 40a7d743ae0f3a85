"""trackside/web/serving.py: the --workers check and the collector settings of serve."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from trackside.errors import ConfigError
from trackside.web import serving


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_gc_freezes_start_up_objects_and_collects_less_often(restore_gc: None) -> None:
    serving.tune_gc()
    assert gc.get_threshold() == serving.GC_THRESHOLD
    assert gc.get_freeze_count() > 0


@pytest.mark.parametrize("url", ["sqlite:///trackside.db", "sqlite:///:memory:"])
def test_several_processes_are_refused_on_sqlite(url: str) -> None:
    serving.check_workers(1, url)
    with pytest.raises(ConfigError, match="needs the PostgreSQL store"):
        serving.check_workers(2, url)


@pytest.mark.parametrize("url", ["postgresql://db/trackside", "postgres://db/trackside"])
def test_several_processes_are_allowed_on_postgresql(url: str) -> None:
    serving.check_workers(4, url)
    with pytest.raises(ConfigError, match="1 or more"):
        serving.check_workers(0, url)
