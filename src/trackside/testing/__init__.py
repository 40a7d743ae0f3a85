"""Public helpers for testing code that uses trackside: :class:`MemoryStore`.

``MemoryStore`` is the whole Store protocol in memory (tests/contract/ runs the same suite over
it and over SQLite). It copies its data on every write so a failed write changes nothing: fine
for tests and trials, not for production volumes.
"""

from trackside.testing.memory_store import MemoryStore
from trackside.testing.memory_unit import MemoryUnit

__all__ = ["MemoryStore", "MemoryUnit"]
