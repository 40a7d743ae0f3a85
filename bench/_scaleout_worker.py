"""`trackside worker` with its claims and Meta requests cut to N events (bench/scaleout.py).

Usage: python bench/_scaleout_worker.py N [worker options]

The shipped sizes (1,000 rows per claim, 1,000 events per request) make one worker CPU-bound
against a 50 ms vendor; with small batches the vendor's latency dominates, as it does at Meta
(~0.6 s per request), which is what adding workers scales.
"""

from __future__ import annotations

import sys

import trackside.delivery.worker as worker_module
from trackside.cli import app
from trackside.destinations.meta.destination import MetaDestination


def main() -> None:
    size = int(sys.argv[1])
    worker_module.CLAIM_LIMIT = size
    MetaDestination.max_batch_size = size
    app(["worker", *sys.argv[2:]])


if __name__ == "__main__":
    main()
