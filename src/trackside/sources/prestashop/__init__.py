"""The PrestaShop source: read order state changes (database or webservice), map them to
Purchases and Refunds, and sync them through ``Pipeline.accept`` (docs/prestashop.md).

sync.py (the poller and the cursor), records.py (what both readers return), db.py (MariaDB),
ws.py (the webservice), map.py (records to canonical events), cli.py (``trackside prestashop``).
"""
