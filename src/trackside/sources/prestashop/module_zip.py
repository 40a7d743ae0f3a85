"""The PrestaShop module as the zip the Back Office installs (``trackside prestashop module``).

The module's files ship as package data under ``sources/prestashop/module/`` (the repository's
``integrations/prestashop/trackside`` points there), so an editable and a regular install build
the same zip. PrestaShop wants one top folder named like the module: ``trackside/``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

MODULE_NAME = "trackside"
#: Inside the package: not part of the module.
_SKIPPED = frozenset({"__pycache__", "__init__.py"})
#: A fixed timestamp: the same files give the same zip, byte for byte.
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def module_files() -> Traversable:
    return resources.files("trackside.sources.prestashop") / "module"


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name in _SKIPPED or entry.name.endswith(".pyc"):
            continue
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            yield from _walk(entry, name)
        else:
            yield name, entry


def build_module_zip(out: Path) -> list[str]:
    """Write the module to ``out``; returns the names written (``trackside/trackside.php``…)."""
    names: list[str] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, entry in _walk(module_files(), MODULE_NAME):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entry.read_bytes())
            names.append(name)
    if not names:
        raise FileNotFoundError("the module's files are missing from this installation")
    return names
