"""A bounded memory of values, each kept until a deadline of its own.

For answers that are expensive to get and safe to reuse for a while (a verified token, a signed
one, a bearer check). When it is full, the expired entries go; if none had expired, all of them
do: the cost of a full memory is one more miss per key, never an unbounded process.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringMemo(Generic[K, V]):
    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: float) -> V | None:
        """The value, if it was put before and `now` is before its deadline."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, until: float, now: float) -> None:
        """Remember `value` for `key` while the clock reads less than `until`."""
        if len(self._entries) >= self.max_entries:
            self._entries = {k: entry for k, entry in self._entries.items() if now < entry[0]}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (until, value)

    def clear(self) -> None:
        self._entries.clear()
