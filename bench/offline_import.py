"""Benchmark: `trackside import offline`'s path for N rows (default 50,000) into SQLite and
PostgreSQL: read, parse, normalize and hash, commit in batches (one transaction per batch).

Prints rows/s (wall clock and process CPU) per store and per batch size; a second run of the
same file (every row a duplicate) too. PostgreSQL: a throwaway database on the shared service
(tests/pg.py), dropped afterwards.

Usage: python bench/offline_import.py [--rows 50000] [--batch 500] [--no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.offline_files import write_sales
from tests.pg import fresh_database
from trackside.config import Settings
from trackside.runtime import Runtime
from trackside.sources.offline.importer import OfflineImport, file_chunks, import_file


def run(url: str, path: Path, batch: int) -> None:
    runtime = Runtime.from_settings(Settings(database_url=url))
    try:
        for label in ("first run", "again (all duplicates)"):
            job = OfflineImport({}, "physical_store", runtime.settings.max_event_bytes,
                                batch_rows=batch)
            wall, cpu = time.perf_counter(), time.process_time()
            summary = import_file(file_chunks(str(path)), job, runtime.pipeline)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"  {label:24} {summary.rows:,} rows ({summary.queued:,} queued, "
                  f"{summary.duplicate:,} duplicate): {summary.rows / wall:,.0f} rows/s wall, "
                  f"{summary.rows / cpu:,.0f} rows/s CPU", flush=True)
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_sales(Path(folder) / "sales.csv", rows=args.rows, bad=False).path
        print(f"{args.rows:,} rows ({path.stat().st_size:,} bytes), batches of {args.batch}")
        print("SQLite:")
        run(f"sqlite:///{folder}/bench.db", path, args.batch)
        if not args.no_postgres:
            print("PostgreSQL:")
            with fresh_database("trackside_bench") as url:
                run(url, path, args.batch)


if __name__ == "__main__":
    main()
