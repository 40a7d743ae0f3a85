"""Another process holding a SQLite database's write lock, as a backup job or a stuck tool would.

``hold_lock(path)`` starts ``python tests/lockholder.py PATH SECONDS``: it takes ``BEGIN
EXCLUSIVE``, prints ``locked``, and holds the lock until SECONDS pass or the test closes its
stdin, then rolls back. The context manager returns once the lock is held.
"""

from __future__ import annotations

import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def hold_lock(path: Path | str, seconds: float = 60.0) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, __file__, str(path), str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if line != "locked":
            raise RuntimeError(f"the lock holder did not take the lock: {line!r}")
        yield process
    finally:
        with process:  # on exit: both pipes closed (none left for the garbage collector)
            if process.poll() is None:
                assert process.stdin is not None
                process.stdin.close()  # this is what releases the lock
            process.wait(timeout=30)


def _main(path: str, seconds: float) -> None:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sys.stdin], [], [], remaining)
        if readable and not sys.stdin.read(1):  # stdin closed: release now
            break
    conn.execute("ROLLBACK")
    conn.close()


if __name__ == "__main__":
    _main(sys.argv[1], float(sys.argv[2]))
