"""Fake vendor servers: real HTTP servers on loopback, as strict as the real ones per spec/."""
