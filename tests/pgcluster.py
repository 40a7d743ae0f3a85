"""A private PostgreSQL cluster for fault tests: started, restarted, crashed, removed by a test.

Fault tests must never stop the shared service on 127.0.0.1:5432 (other test runs use it), so a
test that restarts PostgreSQL gets its own cluster: ``initdb`` into a temporary directory owned
by the ``postgres`` user (PostgreSQL refuses to run as root, and the suite runs as root), a free
loopback port, its socket in the same directory. ``private_cluster()`` always stops it
(``-m immediate``) and removes the directory, whatever the test did.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.fakes.server import free_port

PG_BIN = Path(os.environ.get("PG_TEST_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"


def _as_server_user(*argv: str) -> list[str]:
    """``argv`` run as the postgres user when we are root (runuser), as is otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *argv]
    return list(argv)


class PrivateCluster:
    """One initdb'd cluster on ``port``; ``url`` reaches its ``postgres`` database over TCP."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.log = directory / "server.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_server_user(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args),
            capture_output=True, text=True, check=check, timeout=120,
        )

    def _options(self) -> list[str]:
        # Only loopback, the socket in our own directory (not /var/run/postgresql, which the
        # shared service uses), fsync on: the restart tests are about durability.
        return ["-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"]

    def init(self) -> None:
        subprocess.run(
            _as_server_user(str(PG_BIN / "initdb"), "-D", str(self.data), "--auth=trust",
                            "-U", SERVER_USER, "--no-sync"),
            capture_output=True, text=True, check=True, timeout=120,
        )

    def start(self) -> None:
        """Start and wait until it accepts connections (pg_ctl -w)."""
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), *self._options())

    def restart(self) -> None:
        """A clean restart (fast shutdown: sessions are ended, then the server comes back)."""
        self._pg_ctl("restart", "-w", "-t", "60", "-m", "fast", "-l", str(self.log),
                     *self._options())

    def crash(self) -> None:
        """Stop without a checkpoint (``-m immediate``): what a killed server leaves behind."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate", "-w", check=False)

    def is_running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A started private cluster, stopped and deleted at the end of the block (always)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries at {PG_BIN} (set PG_TEST_BIN)")
    directory = Path(tempfile.mkdtemp(prefix="trackside-pgcluster-"))
    try:
        if os.geteuid() == 0:
            server_user = pwd.getpwnam(SERVER_USER)
            os.chown(directory, server_user.pw_uid, server_user.pw_gid)
        cluster = PrivateCluster(directory, free_port())
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as cluster:
        yield cluster
