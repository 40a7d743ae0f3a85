"""Reports over the stored events: what the console, the API and the CLI show (issue 15)."""
