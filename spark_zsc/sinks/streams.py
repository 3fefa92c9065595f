"""`--stream --output-table` into a table of files (parquet, orc, json): `foreachBatch`, each
micro-batch written once however often Spark retries it.

A batch is staged in the table's folder (`_spark_zsc_staging`, which readers skip: on the
table's own file system, where a file moves by a rename, wherever the checkpoint is), then its
files move into the table's folder under names made of the stream's query id and the batch id
(`spark-zsc-<query>-<batch>-<n>`); a retried batch first removes what an earlier attempt of
the same batch of the same stream left, so it replaces that attempt instead of adding to it.
The query id is the one Spark keeps in the checkpoint (`<checkpoint>/metadata`): another
stream into the same table, or this one after its checkpoint was reset, has another id and
never touches these files.

Guarantees:
- crash: a run killed while a batch moves in leaves part of that batch in the table until the
  next run retries the batch and replaces it (readers during that time can see part of it).
- retried batch: replaces its earlier attempt; every row once.
- concurrent writer: a second stream on the same checkpoint is refused by Spark; streams with
  their own checkpoints write files of their own.
"""

from __future__ import annotations

import json
from typing import Optional

from pyspark.sql import DataFrame

from ..paths import files_for

BATCH_FILE = "spark-zsc-{query}-{batch:012d}-"  # a table file's name starts with its stream and batch
STAGING = "_spark_zsc_staging"  # Spark's file index skips names starting with "_"


def query_id(spark, checkpoint: str) -> str:
    """The stream's id as Spark keeps it in its checkpoint (the same across restarts)."""
    text = files_for(spark, checkpoint).read_text(f"{checkpoint.rstrip('/')}/metadata")
    return json.loads(text.splitlines()[0])["id"]


class TableBatches:
    """`foreachBatch` for a table of files: each batch written once, however often it is retried."""

    def __init__(self, table: str, provider: str, location: str, checkpoint: str, writer_options: dict):
        self.table, self.provider, self.location = table, provider, location
        self.checkpoint, self.writer_options = checkpoint.rstrip("/"), writer_options
        self._query: Optional[str] = None

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession
        self._query = self._query or query_id(spark, self.checkpoint)
        staged = f"{self.location.rstrip('/')}/{STAGING}/{self._query}-{batch_id}"
        batch.write.options(**self.writer_options).format(self.provider).mode("overwrite").save(staged)
        files = files_for(spark, self.location)
        prefix = BATCH_FILE.format(query=self._query, batch=batch_id)
        for earlier in files.matching(self.location, prefix + "*"):  # an earlier attempt's
            files.delete(earlier)
        parts = [name for name in files.list_names(staged) if name.startswith("part-")]
        for n, name in enumerate(parts):
            suffix = name[name.index(".") :] if "." in name else ""
            target = f"{self.location.rstrip('/')}/{prefix}{n:05d}{suffix}"
            if not files.rename(f"{staged}/{name}", target):
                raise RuntimeError(f"could not move {staged}/{name} into {self.location}")
        files.delete(staged)
        spark.catalog.refreshTable(self.table)
