"""CRM leads from a CSV file (``trackside import leads``; docs/sources.md "CRM leads").

- rows.py: the documented columns and one row → a raw CRM event (``user.lead_id``, the stage as
  the event name, ``system_generated``); trackside/crm.py and events.py make it Meta's CRM
  event, id ``lead:{lead_id}:{stage}``.
- cli.py: the command, registered in the ``import`` group (sources/imports.py).
"""
