"""``doctor --online``'s Meta lines: the token reads the pixel, and a test event arrives.

The read is the worker's probe (destination.build_probe: ``GET /{version}/{pixel_id}?fields=id``
with the token in the Authorization header, never in the URL). With
TRACKSIDE_META_TEST_EVENT_CODE set, one PageView goes to ``/{pixel_id}/events`` with that code,
so it shows in Events Manager > Test Events ("test_event_code",
https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api);
without the code nothing is sent, since a test event without it counts as a real one.
"""

from __future__ import annotations

import hashlib
import time

import httpx

from trackside import PARTNER_AGENT
from trackside.config import Settings
from trackside.destinations import Classification, Skip, Verdict
from trackside.destinations.meta.destination import MetaDestination
from trackside.destinations.meta.settings import MetaSettings
from trackside.destinations.spec import DoctorLine
from trackside.events import NormalizedEvent

__all__ = ["doctor_online"]

#: The test event's id: trackside-doctor-<seconds>, told apart in Test Events.
TEST_EVENT_PREFIX = "trackside-doctor-"


def doctor_online(settings: Settings, client: httpx.Client) -> list[DoctorLine]:
    destination = MetaDestination(settings)
    meta = settings.destination("meta", MetaSettings)
    lines = [_pixel_read(destination, meta, client)]
    if lines[0].level == "ok" and meta.meta_test_event_code:
        lines.append(_test_event(destination, meta, client))
    return lines


def _pixel_read(destination: MetaDestination, meta: MetaSettings,
                client: httpx.Client) -> DoctorLine:
    response, error = _send(client, destination.build_probe())
    result = destination.classify_probe(response, error)
    if result.verdict == Verdict.DELIVERED:
        return DoctorLine("ok", f"Meta: the token reads pixel {meta.meta_pixel_id} at "
                                f"{meta.meta_graph_url}")
    return DoctorLine("fail", f"Meta: pixel {meta.meta_pixel_id} not readable with the token "
                              f"({_described(result)})")


def _test_event(destination: MetaDestination, meta: MetaSettings,
                client: httpx.Client) -> DoctorLine:
    now = time.time()
    event_id = f"{TEST_EVENT_PREFIX}{int(now)}"
    prepared = destination.prepare(0, _sample(event_id, now), now)
    if isinstance(prepared, Skip):
        return DoctorLine("fail", f"Meta: trackside could not build a test event: "
                                  f"{prepared.reason}")
    response, error = _send(client, destination.build_request([prepared]))
    result = destination.classify(response, error, 1)
    if result.verdict == Verdict.DELIVERED:
        return DoctorLine("ok", f"Meta: test event {event_id} accepted; it shows in Events "
                                f"Manager > Test Events under code {meta.meta_test_event_code}")
    return DoctorLine("fail", f"Meta: the test event was not accepted ({_described(result)})")


def _send(client: httpx.Client,
          request: httpx.Request) -> tuple[httpx.Response | None, Exception | None]:
    try:
        response = client.send(request)
        response.read()
        return response, None
    except httpx.HTTPError as exc:
        return None, exc


def _described(result: Classification) -> str:
    parts = [f"HTTP {result.http_status}" if result.http_status else "no answer"]
    if result.code is not None:
        parts.append(f"code {result.code}" + (f"/{result.subcode}" if result.subcode else ""))
    if result.message:
        parts.append(result.message)  # scrubbed by the destination
    return ", ".join(parts)


def _sample(event_id: str, now: float) -> NormalizedEvent:
    return NormalizedEvent.model_validate({
        "event_name": "PageView",
        "event_id": event_id,
        "event_time": int(now),
        "action_source": "website",
        "event_source_url": "https://trackside.test/doctor",
        "user_data": {"external_id": [hashlib.sha256(b"trackside-doctor").hexdigest()],
                      "client_user_agent": PARTNER_AGENT,
                      "client_ip_address": "192.0.2.1"},
        "consent": {"ad_storage": "granted", "ad_user_data": "granted",
                    "analytics_storage": "granted", "ad_personalization": "granted"},
    })
