"""Run the fake Graph API in its own process for benchmarks (so it doesn't share our GIL).

Usage: python bench/_fake_graph_server.py PORT PIXEL_ID TOKEN
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.graph_api import FakeGraphAPI


def main() -> None:
    port, pixel_id, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    fake = FakeGraphAPI(pixel_id=pixel_id, token=token)
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
