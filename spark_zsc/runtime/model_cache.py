"""The models a Python worker keeps: a small least-recently-used cache, model-agnostic.

Operational truths (the reasons it looks the way it does):

- It lives as long as its Python worker, which with `spark.python.worker.reuse=true`
  (Spark's default) is across tasks, partitions, actions and classifiers. A worker idle
  for about a minute is killed by Spark; the next task then loads the model again.
- Entries are keyed by what makes a loaded model what it is — the weights' content
  fingerprint, the device, the precision — never by a random id, so a new classifier or a
  re-created UDF over the same weights reuses the loaded model, and a reused worker never
  runs on a GPU another task was given.
- It holds at most `capacity` models and drops the least recently used first: a worker
  keeps a few models, not every model a notebook ever tried. The keys one task needs
  together are all marked recent before any is loaded, so loading one never evicts another
  (a shortlist cascade needs two).
- A reused worker can be handed a task on another GPU than its last one: the models it
  holds on the old GPU are dropped (`drop`), or they would keep memory there that Spark has
  given to another task's worker.
- Each concurrent task has its own worker process, so N task slots hold N caches; loading
  from one file per node (node_store) lets them share the weights' pages.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, NamedTuple, Sequence, TypeVar

from ..engines.bounded_cache import BoundedCache

Value = TypeVar("Value")


class ModelKey(NamedTuple):
    kind: str  # what the model is for: 'nli', 'embedding'
    fingerprint: str
    device: str
    precision: str


class ModelCache(Generic[Value]):
    def __init__(self, capacity: int, on_evict: Callable[[ModelKey], None] = lambda key: None):
        self._entries: BoundedCache[ModelKey, Value] = BoundedCache(capacity, on_evict=on_evict)
        self._lock = threading.Lock()  # one load at a time: two tasks never load one model twice

    @property
    def capacity(self) -> int:
        return self._entries.capacity

    def acquire(self, keys: Sequence[ModelKey], load: Callable[[ModelKey], Value]) -> tuple[dict, list]:
        """The values of `keys` (loaded with `load` where missing) and the keys loaded now.
        Room is made before a load, so a worker never holds more than `capacity` models."""
        with self._lock:
            self._entries.touch(keys)
            loaded = []
            for key in keys:
                if key not in self._entries:
                    self._entries.make_room()
                    self._entries.put(key, load(key))
                    loaded.append(key)
            return {key: self._entries.get(key) for key in keys}, loaded

    def drop(self, stale: Callable[[ModelKey], bool]) -> list:
        """Evict every entry whose key is `stale`; the keys evicted."""
        return self._entries.drop(stale)

    def __iter__(self):
        """The keys, least recently used first."""
        return iter(self._entries)
