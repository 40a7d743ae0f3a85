"""docs/scale-out.md is followed (issue 14): the "try it locally" block's commands, read from
the page, start the documented topology (`trackside migrate`, 2 `serve --no-worker`, 2
`worker`) on a fresh PostgreSQL database; purchases posted to both servers reach the fake
Graph API once each, and /healthz shows the pool."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port
from tests.fleet import (
    TRACKSIDE,
    Poster,
    duplicates_at,
    start_serve,
    start_worker,
    stop,
    trackside_env,
    wait_delivered,
)
from tests.pg import pg_url  # noqa: F401
from tests.waiting import wait_until

pytest.importorskip("trackside.store.postgres", reason="the PostgreSQL store (engineer P)")

PAGE = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"


def try_it_locally() -> tuple[dict[str, str], list[list[str]]]:
    """The block's exported settings and its trackside command lines (without `&`)."""
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"<!-- try-it-locally -->\n```sh\n(.*?)```", text, re.S)
    assert block is not None, "docs/scale-out.md lost its try-it-locally block"
    exported: dict[str, str] = {}
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line.rstrip("&"))
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            exported[name] = value
        elif words[:1] == ["trackside"]:
            commands.append(words[1:])
    return exported, commands


def test_the_block_is_the_documented_topology() -> None:
    exported, commands = try_it_locally()
    assert exported["TRACKSIDE_DATABASE_URL"].startswith("postgresql://")
    assert commands[0] == ["migrate"]
    assert [c[:2] for c in commands[1:]] == [["serve", "--no-worker"]] * 2 + [["worker"]] * 2


@pytest.mark.slow
def test_the_documented_topology_delivers_each_event_once(
    fake_graph: FakeGraphAPI, pg_url: str, tmp_path: Path  # noqa: F811
) -> None:
    exported, commands = try_it_locally()
    # The page's settings, with this test's database, key and fake Graph API in their place.
    env = trackside_env(pg_url, fake_graph)
    assert set(exported) <= set(env), "the block sets something this test does not provide"
    ports: dict[str, int] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, words in enumerate(commands):
            if words[0] == "migrate":
                subprocess.run([*TRACKSIDE, *words], env=env, check=True, capture_output=True)
            elif words[0] == "serve":
                documented = words[words.index("--port") + 1]
                ports[documented] = free_port()
                argv = [*TRACKSIDE, *(str(ports[documented]) if w == documented else w
                                      for w in words)]
                processes.append(start_serve(env, ports[documented], argv=argv,
                                             log=tmp_path / f"{index}-serve.log"))
            else:
                processes.append(start_worker(env, argv=[*TRACKSIDE, *words],
                                              log=tmp_path / f"{index}-worker.log"))
        poster = Poster([f"http://127.0.0.1:{port}" for port in ports.values()],
                        batch_size=lambda: 25, threads=2, total=1000).start()
        wait_until(lambda: poster.done, timeout_s=120, what="1000 events posted")
        delivered = wait_delivered(fake_graph, poster.accepted, timeout_s=60)
        healths = [httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
                   for port in ports.values()]
    finally:
        exits = [stop(process) for process in processes]

    assert len(poster.accepted) == 1000
    assert delivered, sorted(poster.accepted - set(fake_graph.event_ids()))[:10]
    assert not duplicates_at(fake_graph), "without a kill, every event is sent once"
    for health in healths:
        assert health["store"] == "ok", health
        assert health["worker"] == "disabled"
        pool = health["store_pool"]
        assert {"size", "idle", "waiting", "max"} <= set(pool), pool
        assert pool["max"] >= pool["size"] >= 1
    assert exits == [0] * len(processes)
