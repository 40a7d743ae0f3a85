"""Another process inside a periodic job's ``Store.job_lock`` block, which can then be killed.

``holding_job(url, name, interval_s, owner, now)`` starts ``python tests/jobholder.py URL NAME
INTERVAL OWNER NOW``: it opens the store at URL, enters ``job_lock``, prints what it was
given (``True``/``False``) and stays inside the block until the test SIGKILLs it (``kill()``)
or closes its stdin (a clean exit of the block).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def holding_job(url: str, name: str, interval_s: float, owner: str,
                now: float) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, __file__, url, name, str(interval_s), owner, str(now)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if line != "True":
            raise RuntimeError(f"the job holder did not get the job: {line!r}")
        yield process
    finally:
        with process:
            if process.poll() is None:
                assert process.stdin is not None
                process.stdin.close()
            process.wait(timeout=30)


def _main(url: str, name: str, interval_s: float, owner: str, now: float) -> None:
    from trackside.store import Store
    from trackside.store.postgres import PostgresStore
    from trackside.store.sqlite import SQLiteStore

    store: Store = (PostgresStore(url, pool_size=1) if url.startswith("postgresql")
                    else SQLiteStore.from_url(url))
    with store.job_lock(name, interval_s, owner, now) as mine:
        print(mine, flush=True)
        sys.stdin.read()  # until the test closes stdin (or kills us)
    store.close()


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
