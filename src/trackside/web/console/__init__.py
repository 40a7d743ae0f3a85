"""The console at /dashboard (issue 15): sign-in (auth.py), handlers (routes.py), what each page
reads (views.py, teardown.py), the owner's wording (wording.py), SVG charts (svg.py) and
rendering with its security headers (pages.py); templates/ and static/ beside them."""

from trackside.web.console.routes import Console, console_routes

__all__ = ["Console", "console_routes"]
