"""pyproject.toml matches the code: dependencies are what src imports, package data exists,
every registered pytest marker is used."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE = ROOT / "src" / "trackside"


def _distribution_name(requirement: str) -> str:
    # "uvicorn[standard]>=0.30" -> "uvicorn"; names compare normalized (PEP 503).
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def _imported_top_level_modules(folder: Path) -> set[str]:
    modules: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "trackside"}


def _distributions_of(modules: set[str]) -> dict[str, set[str]]:
    provided = importlib.metadata.packages_distributions()
    return {m: {_distribution_name(d) for d in provided.get(m, [])} for m in modules}


def test_every_dependency_is_imported_by_the_package() -> None:
    declared = {_distribution_name(r) for r in PYPROJECT["project"]["dependencies"]}
    imported = set().union(*_distributions_of(_imported_top_level_modules(PACKAGE)).values())
    assert declared - imported == set(), "declared but never imported in src/trackside"


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = {_distribution_name(r) for r in PYPROJECT["project"]["dependencies"]}
    undeclared = {module: distributions
                  for module, distributions in _distributions_of(
                      _imported_top_level_modules(PACKAGE)).items()
                  if not distributions & declared}
    assert undeclared == {}, "imported in src/trackside but not in [project].dependencies"


def test_every_package_data_pattern_matches_files() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["trackside"]
    assert [p for p in patterns if not any(PACKAGE.glob(p))] == []


def test_every_registered_marker_is_used_by_a_test() -> None:
    markers = [line.split(":")[0] for line in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]]
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py")
                        if p.resolve() != Path(__file__).resolve())
    assert [m for m in markers if f"pytest.mark.{m}" not in sources] == []


def test_pytest_runs_strict() -> None:
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert options["filterwarnings"][0] == "error"
    assert options["xfail_strict"] is True
    assert {"--strict-config", "--strict-markers"} <= set(options["addopts"].split())
