"""A destination from another package: an installed distribution that declares a
``trackside.destinations`` entry point is used with no edit to trackside (registry, settings,
consent, the pipeline's not-applicable plan, doctor)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackside.config import ConfigError, load_settings, unknown_variable_problems
from trackside.destinations import registry
from trackside.runtime import Runtime

TOKEN = "canary-tiktok-token-0f9e8d7c"

PLUGIN = '''
from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr

from trackside.destinations import Classification, Prepared, Skip, Verdict, chunk, too_old
from trackside.destinations.spec import DestinationSpec, DoctorLine


class TikTokSettings(BaseModel):
    tiktok_pixel_code: str | None = None
    tiktok_access_token: SecretStr | None = None


class TikTokDestination:
    name = "tiktok"
    max_batch_size = 50
    max_event_age_s = 7 * 86400
    expiry_margin_s = 0
    age_limit = "TikTok takes events up to 7 days old"
    build_probe = None

    def __init__(self, settings):
        self.own = settings.destination("tiktok", TikTokSettings)

    def prepare(self, outbox_id, event, now):
        return too_old(self, event, now) or Prepared(outbox_id, event, {"event": event.event_name})

    def batches(self, prepared):
        return chunk(prepared, self.max_batch_size)

    def build_request(self, batch):
        return httpx.Request("POST", "https://business-api.tiktok.invalid/event/track/",
                             json={"data": [item.payload for item in batch]})

    def classify(self, response, error, batch_size):
        if response is not None and response.status_code == 200:
            return Classification(Verdict.DELIVERED, http_status=200)
        return Classification(Verdict.RETRY)


SPEC = DestinationSpec(
    name="tiktok",
    display_name="TikTok",
    kind="ads",
    configured=lambda s: s.destination("tiktok", TikTokSettings).tiktok_pixel_code is not None,
    create=TikTokDestination,
    not_applicable=frozenset({"Refund"}),
    settings_model=TikTokSettings,
    doctor=lambda s: [DoctorLine("ok", "TikTok: from a plugin")],
)
'''


def install(site: Path, module: str, source: str, entry: str) -> None:
    """An installed distribution: ``module``.py and its dist-info declaring ``entry``."""
    info = site / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[trackside.destinations]\n{entry}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    registry.specs.cache_clear()
    try:
        yield site
    finally:
        monkeypatch.undo()
        registry.specs.cache_clear()


@pytest.fixture
def plugin_installed(site: Path) -> None:
    install(site, "tiktok_plugin", PLUGIN, "tiktok = tiktok_plugin:SPEC")


@pytest.mark.parametrize(
    ("source", "entry", "message"),
    [
        ("raise ImportError('needs tiktok-sdk')\n", "broken = broken_plugin:SPEC",
         "entry point broken = broken_plugin:SPEC cannot be loaded: ImportError: needs"),
        ("SPEC = 'not a spec'\n", "broken = broken_plugin:SPEC",
         "entry point broken = broken_plugin:SPEC is not a DestinationSpec"),
    ],
)
def test_a_broken_plugin_is_a_configuration_error_naming_it(
    site: Path, source: str, entry: str, message: str
) -> None:
    install(site, "broken_plugin", source, entry)
    with pytest.raises(ConfigError) as refused:
        load_settings({})
    assert message in str(refused.value)


def test_a_plugin_destination_is_registered_configured_and_planned(
    plugin_installed: None, tmp_path: Path
) -> None:
    assert "tiktok" in [spec.name for spec in registry.specs()]
    settings = load_settings({"TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                              "TRACKSIDE_JOIN_WINDOW_S": "0",
                              "TRACKSIDE_CONSENT_MODE": "off",
                              "TRACKSIDE_TIKTOK_PIXEL_CODE": "C123",
                              "TRACKSIDE_TIKTOK_ACCESS_TOKEN": TOKEN})
    assert TOKEN in settings.secret_values()
    assert settings.effective()["TRACKSIDE_TIKTOK_ACCESS_TOKEN"] == "**********"
    assert unknown_variable_problems({"TRACKSIDE_TIKTOK_PIXELCODE": "C1"}) == [
        "TRACKSIDE_TIKTOK_PIXELCODE is not a known setting "
        "(did you mean TRACKSIDE_TIKTOK_PIXEL_CODE?)"]
    assert registry.consent_kind("tiktok", settings) == "ads"
    runtime = Runtime.from_settings(settings)
    try:
        assert [d.name for d in runtime.destinations] == ["dryrun", "tiktok"]
        runtime.pipeline.accept([
            {"event_name": "Purchase", "event_id": "P1", "user": {"email": "a@example.com"},
             "order": {"reference": "P1", "value": 5, "currency": "EUR"}},
            {"event_name": "Refund", "event_id": "F1", "user": {"email": "a@example.com"},
             "order": {"reference": "P1", "value": 5, "currency": "EUR"}},
        ], "api")
        rows = {(view.event_id, row.destination): row.status
                for event_id in ("P1", "F1") for view in runtime.store.event_view(event_id)
                for row in view.outbox}
        assert rows[("P1", "tiktok")] == "pending"
        assert rows[("F1", "tiktok")] == "not_applicable"
    finally:
        runtime.close()


def test_without_the_plugin_its_variables_are_unknown() -> None:
    registry.specs.cache_clear()
    assert "tiktok" not in [spec.name for spec in registry.specs()]
    assert unknown_variable_problems({"TRACKSIDE_TIKTOK_PIXEL_CODE": "C1"}) == [
        "TRACKSIDE_TIKTOK_PIXEL_CODE is not a known setting"]
