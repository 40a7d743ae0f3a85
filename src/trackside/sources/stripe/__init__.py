"""Stripe webhooks → subscription events (docs/sources.md "Stripe").

- signature.py: the ``Stripe-Signature`` header (``t=…,v1=…``) over ``"{t}.{raw body}"``, five
  minutes of tolerance, several secrets during a roll.
- payload.py: the Event and Invoice objects of Stripe's API, read leniently.
- map.py: ``invoice.paid`` of a subscription → ``Subscribe`` (its first invoice) or
  ``Purchase`` (a renewal), event id ``renewal:{subscription}:{period start}``.
- source.py: STRIPE, the WebhookSource (sources/webhooks.py) served at ``/webhooks/stripe``.
"""

from trackside.sources.stripe.source import STRIPE

__all__ = ["STRIPE"]
