"""Offline sales (in-store, phone) from a CSV file: ``trackside import offline`` and
``POST /v1/imports/offline`` (docs/offline-sales.md).

- records.py: the file cut into CSV records as bytes arrive (quoted newlines kept), each
  with its line number, each decoded on its own (one bad line never hides the others);
- columns.py: the documented header names, ``--map COLUMN=field`` and the header check;
- mapping.py: one row → the canonical Purchase (event id ``offline:{receipt_id}``
  [``:{item_number}``], ``action_source`` physical_store or phone_call) or the row's errors;
- importer.py: rows in batches through the pipeline (one store transaction per batch: the
  group commit path), the summary (queued, duplicate, rejected) and per-line errors;
- cli.py: the ``trackside import offline`` command (sources/imports.py is the group).
"""
