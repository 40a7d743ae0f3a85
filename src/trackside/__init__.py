"""trackside: a self-hosted server-side conversion tracking gateway."""

__version__ = "0.1.0"

#: Sent to Meta as ``partner_agent`` (Meta's guidance: < 23 characters, ≥ 2 letters).
PARTNER_AGENT = f"trackside-{__version__}"
