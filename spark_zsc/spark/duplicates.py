"""dedupe="input": every copy of a text brought together before the UDF scores it.

The engine scores each distinct (text, hypothesis) once per slice of an Arrow batch, so a
text repeated in other partitions, or in other batches of its partition, is scored again.
A hash shuffle on the text puts all copies of a text in one partition, and a sort within
partitions puts them side by side, in one Arrow batch but where a batch boundary splits
them: each distinct text is then scored about once in the whole input. Both are Spark's
own operators; what they cost (one shuffle of the rows, a local sort) is small beside the
model's work for a pair.

The partitions are `spark.sql.shuffle.partitions`, given as a number so that adaptive
execution does not coalesce them: it sizes partitions by bytes, and a few kilobytes of text
here are minutes of model time (where the setting is not a number, Databricks' `auto`,
Spark chooses). A stream is shuffled but not sorted: Spark refuses to sort a stream, and a
micro-batch's partition is mostly one Arrow batch anyway.
"""

from __future__ import annotations

from pyspark.sql import DataFrame


def group_duplicates(dataset: DataFrame, text_col: str) -> DataFrame:
    """`dataset` with every copy of a text in one partition, side by side (but in a stream)."""
    text = dataset[text_col]
    partitions = str(dataset.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    grouped = (
        dataset.repartition(int(partitions), text) if partitions.isdigit() else dataset.repartition(text)
    )
    return grouped if dataset.isStreaming else grouped.sortWithinPartitions(text_col)
