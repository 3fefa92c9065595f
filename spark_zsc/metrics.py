"""Counters summed over every task of every action, through one Spark accumulator."""

from __future__ import annotations

from pyspark.accumulators import AccumulatorParam

from .engine import BatchStats

METRIC_NAMES = (*BatchStats().as_dict().keys(), "model_loads", "model_load_seconds")


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
    return spark.sparkContext.accumulator({}, _SumDict())


def snapshot(accumulator) -> dict:
    """Every metric, zero where nothing was counted yet."""
    values = dict(accumulator.value) if accumulator is not None else {}
    return {name: values.get(name, {} if name == "top_labels" else 0) for name in METRIC_NAMES}
