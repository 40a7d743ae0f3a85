"""web/responses.py: orjson's bytes are the standard encoder's for what the ingest endpoints
answer, and what orjson refuses behaves as Starlette's JSONResponse does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from trackside.events import FieldError
from trackside.pipeline import AcceptResult
from trackside.web.responses import FastJSONResponse

_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["queued", "duplicate", "rejected"]), _TEXT,
                          st.lists(st.tuples(_TEXT, _TEXT), max_size=2),
                          st.lists(_TEXT, max_size=2)), max_size=20))
def test_results_encode_to_the_same_bytes(rows: list[tuple[Any, str, Any, list[str]]]) -> None:
    results = [AcceptResult(index, status, event_id or None, "Purchase",
                            errors=[FieldError(field=f, reason=r) for f, r in errors],
                            warnings=warnings).as_dict()
               for index, (status, event_id, errors, warnings) in enumerate(rows)]
    body = {"queued": 1, "duplicate": 0, "rejected": 0, "results": results}
    assert FastJSONResponse(body, status_code=202).body == JSONResponse(body).body


@pytest.mark.parametrize("content", [{"k": "\ud800"}, {1: "non-string key"}])
def test_what_orjson_refuses_behaves_as_before(content: dict[Any, str]) -> None:
    try:
        expected: bytes | type[Exception] = JSONResponse(content).body
    except Exception as exc:  # noqa: BLE001 - whatever the standard encoder does
        expected = type(exc)
    if isinstance(expected, bytes):
        assert FastJSONResponse(content).body == expected
    else:
        with pytest.raises(expected):
            FastJSONResponse(content)
