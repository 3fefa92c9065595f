"""Counters summed over every task of every action, through one Spark accumulator."""

from __future__ import annotations

from pyspark.accumulators import AccumulatorParam

from ..engines.results import COUNTERS, BatchStats
from ..errors import MetricsUnavailable

WORKER_METRICS = {  # counted where a Python worker loads a model, beside the engines' counters
    "model_loads": "models loaded by Python workers (a worker keeps its model across tasks and actions)",
    "model_load_seconds": "seconds those loads took, summed",
}
METRICS = {**COUNTERS, **WORKER_METRICS}
METRIC_NAMES = (*BatchStats().as_dict().keys(), *WORKER_METRICS)


class _SumDict(AccumulatorParam):
    def zero(self, value):
        return {}

    def addInPlace(self, total, update):
        for name, amount in update.items():
            if isinstance(amount, dict):  # a breakdown, e.g. rows per top label
                total[name] = self.addInPlace(dict(total.get(name, {})), amount)
            else:
                total[name] = total.get(name, 0) + amount
        return total


def new_accumulator(spark):
    """An accumulator, or None on Spark Connect, which has none."""
    from ..runtime.session import is_connect

    return None if is_connect(spark) else spark.sparkContext.accumulator({}, _SumDict())


def snapshot(accumulator, used: bool = True) -> dict:
    """Every metric, zero where nothing was counted yet."""
    if accumulator is None and used:
        raise MetricsUnavailable(
            "metrics need Spark accumulators, which Spark Connect does not have; "
            "count results with DataFrame aggregations there (e.g. groupBy('zsc.label').count())"
        )
    values = dict(accumulator.value) if accumulator is not None else {}
    return {name: values.get(name, {} if name == "top_labels" else 0) for name in METRIC_NAMES}
