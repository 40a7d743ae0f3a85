"""`trackside backup PATH`: a consistent copy while `serve` takes writes, the restore round
trip docs/going-live.md describes, and the refusals (an existing file, a PostgreSQL store)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (pytest fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port
from tests.fleet import Poster, start_serve, stop, trackside_env
from tests.waiting import wait_until


def backup(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackside.cli", "backup", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _more_than(poster: Poster, count: int) -> bool:
    return poster.accepted_count() > count


def _read(path: Path) -> tuple[set[str], int]:
    """The event ids of a backup, and how many of its events have no outbox row (half a
    transaction: must be 0)."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = {event_id for (event_id,) in conn.execute("SELECT event_id FROM events")}
        (orphans,) = conn.execute("SELECT count(*) FROM events e WHERE NOT EXISTS "
                                  "(SELECT 1 FROM outbox o WHERE o.event_pk = e.pk)").fetchone()
        return ids, orphans
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path, fake_graph: FakeGraphAPI) -> Iterator[tuple[Path, dict[str, str]]]:  # noqa: F811
    path = tmp_path / "trackside.db"
    yield path, trackside_env(f"sqlite:///{path}", fake_graph)


def test_backups_while_serve_takes_writes_then_a_restore(store: tuple[Path, dict[str, str]],
                                                         tmp_path: Path) -> None:
    path, env = store
    port = free_port()
    server = start_serve(env, port, log=tmp_path / "serve.log")
    poster = Poster([f"http://127.0.0.1:{port}"], batch_size=lambda: 20, threads=2).start()
    try:
        wait_until(lambda: poster.accepted_count() >= 100, timeout_s=60)
        for number in range(3):
            with poster._lock:
                before = set(poster.accepted)
            target = tmp_path / f"backup-{number}.db"
            result = backup(env, str(target))
            assert result.returncode == 0, result.stderr
            ids, orphans = _read(target)
            # Every event acknowledged before the backup began is in it; nothing in it was
            # never sent; no event without its outbox rows (one committed state).
            assert before <= ids <= poster.sent_refs
            assert orphans == 0
            assert f"backed up {len(ids)} events" in result.stdout
            assert not (tmp_path / f"backup-{number}.db-wal").exists()
            wait_until(partial(_more_than, poster, len(ids)), timeout_s=60)
    finally:
        poster.stop()
        assert stop(server) == 0
    accepted = set(poster.accepted)
    final = tmp_path / "final.db"
    assert backup(env, str(final)).returncode == 0
    # Restore (docs/going-live.md): stopped, the store and its -wal/-shm replaced by the copy.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(final, path)
    status = subprocess.run([sys.executable, "-m", "trackside.cli", "status", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    restored, orphans = _read(path)
    assert accepted <= restored and orphans == 0
    server = start_serve(env, port, log=tmp_path / "serve-restored.log")
    assert stop(server) == 0


def test_an_existing_file_needs_force(store: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = store
    assert subprocess.run([sys.executable, "-m", "trackside.cli", "migrate"], env=env,
                          capture_output=True, timeout=120).returncode == 0
    target = tmp_path / "kept.db"
    target.write_bytes(b"an older backup")
    refused = backup(env, str(target))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert target.read_bytes() == b"an older backup"
    forced = backup(env, str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "backed up 0 events" in forced.stdout
    assert _read(target) == (set(), 0)
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []


@pytest.mark.parametrize("case", ["store", "folder", "missing_folder", "no_store"])
def test_refusals_name_the_problem(case: str, store: tuple[Path, dict[str, str]],
                                   tmp_path: Path) -> None:
    path, env = store
    if case != "no_store":
        assert subprocess.run([sys.executable, "-m", "trackside.cli", "migrate"], env=env,
                              capture_output=True, timeout=120).returncode == 0
    target = {"store": path, "folder": tmp_path, "missing_folder": tmp_path / "nope" / "b.db",
              "no_store": tmp_path / "b.db"}[case]
    result = backup(env, str(target), "--force")
    assert result.returncode == 2
    assert {"store": "the store itself", "folder": "is a folder",
            "missing_folder": "does not exist", "no_store": "no store at"}[case] in result.stderr


def test_a_postgresql_store_is_told_to_use_pg_dump(store: tuple[Path, dict[str, str]],
                                                   tmp_path: Path) -> None:
    _, env = store
    env = {**env, "TRACKSIDE_DATABASE_URL":
           "postgresql://trackside:canary-pg-password@127.0.0.1:5432/trackside"}
    result = backup(env, str(tmp_path / "b.db"))
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
    assert "canary-pg-password" not in result.stdout + result.stderr
    assert not (tmp_path / "b.db").exists()
