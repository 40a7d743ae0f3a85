"""One vocabulary: outcomes and reasons, the error root and exit codes, the key sets, one
Retry-After parser, and the log fields."""

from __future__ import annotations

import email.utils
import io
import json
import logging

import pytest
from typer.testing import CliRunner

from trackside import cli, logs, quality
from trackside.config import ConfigError
from trackside.destinations.meta.rules import facts
from trackside.errors import RefundError, SourceError, TracksideError, exit_code
from trackside.identity import keys
from trackside.identity.normalize import HASHED_KEYS
from trackside.outcomes import ALL, FINAL, Outcome, Reason, reason_class, reason_text
from trackside.redact import MASK, Redactor
from trackside.retry_after import MAX_RETRY_AFTER_S, parse_retry_after
from trackside.sources.prestashop.records import PrestaShopError
from trackside.store import STATUSES, StoreError, StoreLocked

NOW = 1_790_000_000.0
CANARY = "whsec_canarySECRET4242"


# Outcomes and reasons


def test_outcomes_are_the_strings_the_store_and_the_api_use() -> None:
    assert Outcome.DELIVERED == "delivered" and f"{Outcome.NOT_APPLICABLE}" == "not_applicable"
    assert {o.value for o in ALL} >= set(STATUSES)
    assert {o for o in ALL if o.final} == FINAL
    assert not Outcome.PENDING.final and not Outcome.HELD.final
    assert Outcome.SUPPRESSED.final


def test_a_reason_text_starts_with_its_class() -> None:
    text = reason_text(Reason.CONSENT, "ad_storage denied")
    assert text == "consent: ad_storage denied"
    assert reason_class(text) is Reason.CONSENT
    assert reason_class("vendor_refused: (#100) Invalid parameter") is Reason.VENDOR_REFUSED
    # Older free-text reasons have no class; they are not guessed.
    assert reason_class("the shopper said no: not sent") is None
    assert reason_class(None) is None and reason_class("") is None


# Errors and exit codes


def test_every_error_trackside_raises_on_purpose_has_one_root() -> None:
    for error in (ConfigError, StoreError, StoreLocked, RefundError, PrestaShopError, SourceError):
        assert issubclass(error, TracksideError), error
    assert exit_code(ConfigError("x")) == 2
    assert exit_code(StoreLocked("x")) == 2
    assert exit_code(PrestaShopError("x")) == 1
    assert exit_code(RefundError("x")) == 1
    assert exit_code(RuntimeError("a bug")) == 1


def test_an_uncaught_trackside_error_ends_the_command_with_its_code_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail() -> None:
        raise PrestaShopError("the webservice key is not allowed to read orders")

    monkeypatch.setattr(cli, "app", fail)
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 1
    assert "PrestaShopError: the webservice key is not allowed" in capsys.readouterr().err


def test_a_bad_setting_still_exits_2() -> None:
    result = CliRunner().invoke(cli.app, ["status"], env={"TRACKSIDE_WORKER_LEASE_S": "1"})
    assert result.exit_code == 2


# Key sets


def test_one_copy_of_each_key_set() -> None:
    assert facts.TOO_BROAD_SETS is keys.TOO_BROAD_SETS
    assert facts.HASHED_KEYS is keys.META_HASHED_KEYS
    assert facts.USER_DATA_KEYS is keys.META_USER_DATA_KEYS
    assert quality.CUSTOMER_INFORMATION_KEYS is keys.CUSTOMER_INFORMATION_KEYS
    assert HASHED_KEYS is keys.HASHED_KEYS
    assert set(keys.HASHED_KEYS) == set(keys.META_HASHED_KEYS) | {"external_id"}
    assert set(keys.PURGED_KEYS) == keys.BROWSER_KEYS
    assert keys.CUSTOMER_INFORMATION_KEYS <= keys.META_USER_DATA_KEYS


@pytest.mark.parametrize(
    ("present", "broad"),
    [
        ({"ct", "country", "zp"}, True),
        ({"db", "client_user_agent"}, True),
        ({"fn", "ge"}, True),
        ({"fn", "ln"}, False),
        ({"em"}, False),
        ({"client_user_agent", "client_ip_address"}, False),
    ],
)
def test_rule_29_too_broad(present: set[str], broad: bool) -> None:
    # Meta's "baseline matching rule" (best-practices page): these combinations alone are refused.
    assert keys.too_broad(present) is broad
    data = {key: "x" for key in present}
    assert quality.has_sufficient_customer_information(data) is not broad


# Retry-After (RFC 9110 §10.2.3: delay-seconds or HTTP-date)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90.0),
        (email.utils.formatdate(NOW - 90, usegmt=True), 0.0),
        ("99999999", MAX_RETRY_AFTER_S),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 99 Foo 2026 25:61:00 GMT", None),
    ],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


# Log fields


def test_log_extra_fields_are_written_and_masked() -> None:
    stream = io.StringIO()
    logs.configure(Redactor([CANARY]), "INFO", stream=stream)
    logging.getLogger("trackside.test").info(
        "batch delivered",
        extra={"action": "delivered", "destination": "meta", "count": 12, "event_id": "o-1",
               "fbtrace_id": "AbC123", "code": None, "unlisted": "not written",
               "source": f"leaked {CANARY}"},
    )
    output = stream.getvalue()
    line = json.loads(output.splitlines()[-1])
    assert line["action"] == "delivered" and line["destination"] == "meta"
    assert line["count"] == 12 and line["event_id"] == "o-1" and line["fbtrace_id"] == "AbC123"
    assert "code" not in line and "unlisted" not in line
    assert CANARY not in output and line["source"] == f"leaked {MASK}"


def test_the_api_views_hash_every_destinations_personal_keys() -> None:
    from trackside.destinations import registry
    from trackside.web.views import hash_personal, personal_keys

    assert personal_keys() >= keys.PERSONAL_KEYS
    for spec in registry.specs():
        assert spec.personal_keys <= personal_keys(), spec.name
    hashed = hash_personal({"user_data": {"client_ip_address": "203.0.113.9"}, "event_id": "o-1"})
    assert hashed["event_id"] == "o-1"
    assert hashed["user_data"]["client_ip_address"] != "203.0.113.9"
    assert len(hashed["user_data"]["client_ip_address"]) == 64
