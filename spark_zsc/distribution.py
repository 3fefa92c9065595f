"""How a model's bytes reach executors, chosen on the driver.

`broadcast` (classic Spark): the bundle's files go out as one Spark broadcast; a worker
reads it lazily, and only when its node has no verified copy of the model yet.
"""

from __future__ import annotations

import logging
import threading
import time

from .model_source import ModelBundle

log = logging.getLogger("spark_zsc")


class BroadcastModel:
    """A picklable handle, captured in the UDF closure: the fingerprint travels in every task,
    the bytes only where a worker asks for them."""

    def __init__(self, broadcast, fingerprint: str, size: int):
        self._broadcast = broadcast
        self.fingerprint = fingerprint
        self.size = size

    def fetch_files(self) -> dict:
        return self._broadcast.value


_shipped: dict = {}
_shipped_lock = threading.Lock()


def ship(spark, bundle: ModelBundle) -> BroadcastModel:
    """Broadcast `bundle` once per Spark application; later calls reuse the broadcast."""
    sc = spark.sparkContext
    key = (sc.applicationId, bundle.fingerprint)
    with _shipped_lock:
        handle = _shipped.get(key)
        if handle is None:
            started = time.perf_counter()
            handle = BroadcastModel(sc.broadcast(bundle.files), bundle.fingerprint, bundle.size)
            _shipped[key] = handle
            log.info(
                "broadcast model %s (%.1f MB) in %.1f s",
                bundle.fingerprint[:12], bundle.size / 1e6, time.perf_counter() - started,
            )
    return handle
