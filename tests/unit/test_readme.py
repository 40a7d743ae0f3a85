"""The README's first steps work as written: the Quickstart's server already has the API key
the "Send your first event" curl lines send, so nothing needs a restart, and the Quickstart
stays two commands (install and run; install and test)."""

from __future__ import annotations

from tests.readme import bearer_keys, indented_commands, section, serve_command, serve_environment

TESTS = "python -m pip install -q -e '.[test]' && python -m pytest"


def test_the_quickstart_is_two_commands_install_and_serve_then_the_tests() -> None:
    commands = indented_commands(section("Quickstart"))
    assert len(commands) == 2 and commands[1] == TESTS
    assert commands[0].startswith("python -m pip install -e . && ")
    assert serve_command()[-2:] == ["trackside", "serve"]


def test_the_quickstart_server_has_the_key_the_first_event_is_sent_with() -> None:
    key = serve_environment()["TRACKSIDE_API_KEYS"]
    assert key and bearer_keys() == {key}


def test_sending_the_first_event_needs_no_restart() -> None:
    first_event = section("Send your first event")
    assert not any("trackside serve" in line or "export TRACKSIDE_API_KEYS" in line
                   for line in indented_commands(first_event))
    assert "Ctrl-C" not in first_event
