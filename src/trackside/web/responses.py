"""JSON answers of the ingest endpoints, encoded with orjson.

Starlette's JSONResponse encodes with the standard library: for a 500-event batch's results
that is about 2.3 ms of the request, against 0.4 ms with orjson (bench/stages.py,
docs/benchmarks.md). The bytes are the same compact UTF-8 JSON for what these endpoints
answer (strings, integers, lists, objects with string keys). Anything orjson refuses (a lone
surrogate, a key that is not a string, an integer over 64 bits) goes through the standard
encoder, so such content behaves exactly as it did before.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().render(content)
