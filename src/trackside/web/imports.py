"""POST /v1/imports/offline: an offline-sales CSV over HTTP (docs/api.md, docs/offline-sales.md).

Checks in order: API key (401, the key names the shop), ``Content-Type: text/csv`` (415), the
query (400: ``action_source``, ``map``), the declared size (413 before anything is read). The
body is read as it streams: every :data:`~trackside.sources.offline.importer.BATCH_ROWS` good
rows go through the shared committer (the group commit path) before more is read, so memory
stays flat. The answer is the summary (rows, queued, duplicate, rejected) and the per-line
errors. A body found larger than ``TRACKSIDE_MAX_IMPORT_BYTES`` while it streams is a 413 that
still says what was stored: sending the file again in parts stores nothing twice.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from trackside.events import FieldError
from trackside.pipeline import Pipeline
from trackside.runtime import Runtime
from trackside.sources.offline.columns import ColumnsError, parse_maps
from trackside.sources.offline.importer import Batch, OfflineImport
from trackside.sources.offline.mapping import ACTION_SOURCES, SOURCE, OfflineActionSource
from trackside.sources.offline.records import RecordSplitter
from trackside.web.api import require_api_key
from trackside.web.committer import Committer, CommitterClosed
from trackside.web.errors import ApiError


class OfflineImportAPI:
    def __init__(self, runtime: Runtime, committer: Committer) -> None:
        self.runtime = runtime
        self.committer = committer

    async def post_offline(self, request: Request) -> Response:
        shop = require_api_key(request, self.runtime)
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media not in ("text/csv", "application/csv"):
            raise ApiError(415, "The body must be a CSV file: Content-Type: text/csv")
        job = OfflineImport(_maps(request), _action_source(request),
                            self.runtime.settings.max_event_bytes)
        limit = self.runtime.settings.max_import_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"The file is over the limit of {limit} bytes "
                                "(TRACKSIDE_MAX_IMPORT_BYTES)")
        splitter = RecordSplitter()
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return JSONResponse(_over_limit(job, limit), status_code=413)
                for record in splitter.feed(chunk):
                    await self._commit(job, job.take(record), shop.pipeline)
            for record in splitter.finish():
                await self._commit(job, job.take(record), shop.pipeline)
            job.finish()
            await self._commit(job, job.flush(), shop.pipeline)
        except ClientDisconnect:
            raise ApiError(400, "The file was not received completely; what was stored is "
                                "kept: send it again, stored rows come back duplicate") from None
        except ColumnsError as exc:
            raise ApiError(400, str(exc), [FieldError(field="header", reason=str(exc))]) \
                from None
        return JSONResponse(job.summary.as_dict(), status_code=200)

    async def _commit(self, job: OfflineImport, batch: Batch | None,
                      pipeline: Pipeline) -> None:
        if batch is None:
            return
        try:
            results = await self.committer.accept(batch.events, SOURCE, pipeline=pipeline)
        except CommitterClosed:
            raise ApiError(503, "The service is shutting down; retry on another instance (rows "
                                "stored so far come back duplicate)",
                           headers={"Retry-After": "5"}) from None
        except Exception:
            # Logged by the committer; batches before this one are stored, this one is not.
            raise ApiError(503, "The store did not take the rows; send the file again (rows "
                                "stored so far come back duplicate)",
                           headers={"Retry-After": "5"}) from None
        job.count(batch, results)


def _action_source(request: Request) -> OfflineActionSource:
    value = request.query_params.get("action_source", "physical_store")
    if value not in ACTION_SOURCES:
        raise ApiError(400, "action_source must be physical_store or phone_call",
                       [FieldError(field="action_source",
                                   reason="must be physical_store or phone_call")])
    return "phone_call" if value == "phone_call" else "physical_store"


def _maps(request: Request) -> dict[str, str]:
    try:
        return parse_maps(request.query_params.getlist("map"))
    except ColumnsError as exc:
        raise ApiError(400, str(exc), [FieldError(field="map", reason=str(exc))]) from None


def _over_limit(job: OfflineImport, limit: int) -> dict[str, object]:
    message = (f"The file is over the limit of {limit} bytes (TRACKSIDE_MAX_IMPORT_BYTES); the "
               "rows before the limit were stored (summary): send the rest again in a smaller "
               "file, stored rows come back duplicate")
    return {"error": {"status": 413, "message": message, "errors": []},
            "summary": job.summary.as_dict()}
