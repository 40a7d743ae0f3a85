"""Fake vendor servers: real HTTP servers on loopback, as strict as the vendors' docs say the real ones are.

Each rule cites the vendor's own page it comes from, in the fake that implements it."""
