"""Run the fake Graph API in its own process for benchmarks (so it doesn't share our GIL).

Usage: python bench/_fake_graph_server.py PORT PIXEL_ID TOKEN [PIXEL_ID=TOKEN ...]
                                          [--latency=SECONDS]

Each extra PIXEL_ID=TOKEN pair is one more pixel the fake answers, with its own token (bench/
shops.py: one fake for 50 shops). ``--latency`` holds every answer that long (bench/
scaleout.py: a vendor's round trip, so more workers have something to overlap).
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
    for option in [a for a in sys.argv[4:] if a.startswith("--latency=")]:
        fake.latency_s = float(option.split("=", 1)[1])
    for pair in [a for a in sys.argv[4:] if not a.startswith("--")]:
        extra_pixel, extra_token = pair.split("=", 1)
        fake.add_token(extra_token, [extra_pixel])
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
