"""Reports for people over the store: numbers with their definitions, no HTTP and no terminal.

reconciliation.py computes the teardown (orders against the pixel) and its order lists;
render.py writes a report as JSON, CSV or a text table. The CLI (reports/cli.py), the API
(web/reports.py) and the console call these functions and format nothing of their own.
"""
