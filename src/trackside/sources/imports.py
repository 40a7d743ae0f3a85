"""The ``trackside import`` group: one command per file importer.

An importer is a typer command function in its source's folder (sources/offline/cli.py);
adding one (``trackside import leads``) is one line in :data:`IMPORTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from trackside.sources.leads.cli import import_leads
from trackside.sources.offline.cli import import_offline

#: Command name → the command's function.
IMPORTERS: dict[str, Callable[..., Any]] = {
    "offline": import_offline,
    "leads": import_leads,
}


def import_app() -> typer.Typer:
    """The ``import`` sub-app with every importer's command."""
    app = typer.Typer(help="Import conversions from files (offline sales, CRM leads).",
                      no_args_is_help=True, rich_markup_mode=None)  # plain help: see cli.py
    for name, command in IMPORTERS.items():
        app.command(name)(command)
    return app
