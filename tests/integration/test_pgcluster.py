"""The private cluster helper (tests/pgcluster.py): it starts, survives a restart and a crash
with its committed data, and leaves nothing behind."""

from __future__ import annotations

import psycopg
import pytest

from tests.pgcluster import PrivateCluster, private_cluster


@pytest.mark.slow
def test_a_private_cluster_restarts_crashes_and_is_removed() -> None:
    with private_cluster() as cluster:
        assert cluster.port != 5432
        url = cluster.create_database("helper")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (n int)")
            connection.execute("INSERT INTO kept VALUES (1)")
            cluster.restart()
            # The session did not survive the restart: that is what the fault tests rely on.
            with pytest.raises(psycopg.OperationalError):
                connection.execute("SELECT 1")
        cluster.crash()
        assert not cluster.is_running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)
        cluster.start()
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT n FROM kept").fetchall() == [(1,)]
        directory = cluster.directory
    assert isinstance(cluster, PrivateCluster)
    assert not directory.exists()
