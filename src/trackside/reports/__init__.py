"""Reports for people over the store: numbers with their definitions, no HTTP and no terminal.

reconciliation.py computes the teardown (orders against the pixel) and its order lists;
render.py writes a report as JSON, CSV or a text table; match_quality.py the match-key shares
and estimates beside Meta's figures, which dataset_quality.py fetches hourly. The CLI
(reports/cli.py), the API (web/reports.py, web/match_quality.py) and the console
(web/console/) call these functions and format nothing of their own.
"""
