"""CI runs ruff and mypy --strict before the tests, and a failing check fails the run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = ROOT / ".ci" / "run"
CHECKS = "python -m pip install -q -e '.[test]' && python -m ruff check . && python -m mypy src"
TESTS = "python -m pip install -q -e '.[test]' && python -m pytest"


def _commands() -> list[str]:
    return [line for line in CI_RUN.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_checks_run_before_the_readme_test_command_which_stays_last() -> None:
    commands = _commands()
    assert commands[-1] == TESTS
    assert f"\n    {TESTS}\n" in (ROOT / "README.md").read_text()
    [checks] = [c for c in commands if c.startswith(CHECKS)]
    assert commands.index(checks) < len(commands) - 1


@pytest.mark.parametrize("failing", ["pip", "ruff", "mypy"])
def test_a_failing_check_stops_the_run_before_the_tests(failing: str, tmp_path: Path) -> None:
    # `python` is replaced by a shell function so the line's own control flow is what runs.
    [checks] = [c for c in _commands() if c.startswith(CHECKS)]
    script = (
        "set -euo pipefail\n"
        f'python() {{ echo "$*" >> ran; [[ "$*" != *{failing}* ]]; }}\n'
        f"{checks}\n"
        "echo tests-ran\n"
    )
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode != 0
    assert "tests-ran" not in result.stdout
    assert failing in (tmp_path / "ran").read_text().splitlines()[-1]


def test_passing_checks_let_the_run_go_on(tmp_path: Path) -> None:
    [checks] = [c for c in _commands() if c.startswith(CHECKS)]
    script = f'set -euo pipefail\npython() {{ echo "$*" >> ran; }}\n{checks}\necho tests-ran\n'
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0 and "tests-ran" in result.stdout
    assert (tmp_path / "ran").read_text().splitlines() == [
        "-m pip install -q -e .[test]", "-m ruff check .", "-m mypy src"]


def test_ruff_is_clean() -> None:
    # The fast half of the CI checks (well under a second); mypy is left to .ci/run.
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lint_and_type_settings_are_the_agreed_ones() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^select = \[.*"B".*\]', pyproject, re.M)
    assert "B905" not in re.search(r"^ignore = \[(.*?)\]", pyproject, re.M | re.S)[1]
    assert re.search(r"^strict = true$", pyproject, re.M)
    assert 'plugins = ["pydantic.mypy"]' in pyproject
    assert (ROOT / "src" / "trackside" / "py.typed").exists()
