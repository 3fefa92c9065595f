"""The one cache type for what spark_zsc keeps for the life of a process: loaded models in a
Python worker, resolved model bundles on the driver, embeddings and tokenized hypotheses in an
engine. Each is bounded, so a long-lived worker or notebook never grows without end: the least
recently used entries go first, by count and, where a weight is given, by summed weight."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Iterable, Optional, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class BoundedCache(Generic[Key, Value]):
    """At most `capacity` entries and, with `max_weight`, at most that summed `weight(key, value)`;
    `on_evict(key)` is told of every entry dropped. Safe to share between threads."""

    def __init__(
        self,
        capacity: int,
        *,
        max_weight: Optional[int] = None,
        weight: Callable[[Key, Value], int] = lambda key, value: 0,
        on_evict: Callable[[Key], None] = lambda key: None,
    ):
        self.capacity, self.max_weight = capacity, max_weight
        self._weight, self._on_evict = weight, on_evict
        self._entries: "OrderedDict[Key, tuple[Value, int]]" = OrderedDict()  # least recently used first
        self._total = 0
        self._lock = threading.RLock()

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        """The keys, least recently used first."""
        with self._lock:
            return iter(list(self._entries))

    def get(self, key: Key, default=None):
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            return self._entries[key][0]

    def touch(self, keys: Iterable[Key]) -> None:
        """Mark `keys` (those held) as just used, so that making room spares them."""
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)

    def make_room(self, count: int = 1, weight: int = 0) -> None:
        """Drop the least recently used entries until `count` more of `weight` in all fit."""
        with self._lock:
            while self._entries and (
                len(self._entries) + count > self.capacity
                or (self.max_weight is not None and self._total + weight > self.max_weight)
            ):
                key, (_, dropped) = self._entries.popitem(last=False)
                self._total -= dropped
                self._on_evict(key)

    def put(self, key: Key, value: Value) -> None:
        with self._lock:
            if key in self._entries:
                self._total -= self._entries.pop(key)[1]
            weight = self._weight(key, value)
            self.make_room(1, weight)
            self._entries[key] = (value, weight)
            self._total += weight

    def put_all(self, keys: Iterable[Key], values: Iterable[Value]) -> None:
        for key, value in zip(keys, values):
            self.put(key, value)

    def clear(self) -> None:
        """Drop every entry (as a new process would start)."""
        self.drop(lambda key: True)

    def drop(self, stale: Callable[[Key], bool]) -> list:
        """Drop every entry whose key is `stale`; the keys dropped."""
        with self._lock:
            dropped = [key for key in self._entries if stale(key)]
            for key in dropped:
                self._total -= self._entries.pop(key)[1]
                self._on_evict(key)
            return dropped
