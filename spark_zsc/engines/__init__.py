"""Spark-free scoring: texts and labels in, scores out (no pyspark import anywhere here).

pairs (tokens of text/hypothesis pairs) -> batching (length-sorted batches, shape ladder,
device outputs) -> nli / embedding / cascade (the strategies' engines) -> results (ranking
and counters); batch_loop is the pandas UDF's per-task loop over them.
"""
