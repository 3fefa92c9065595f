"""Delta Lake: a metastore table (`--output-table`, provider delta) or a path
(`--output PATH --output-format delta`).

Guarantees (Delta's own, which every write here goes through):
- crash: a run's rows are one commit to the transaction log (a new table's create-as-select,
  an append, an overwrite, or one merge that also deletes); a run killed before its commit
  leaves files no reader sees (Delta's VACUUM removes them). The commit's userMetadata names
  the run's configuration; its record with counts follows in the table properties.
- retried run: `--skip-existing` and `--incremental` merge on the id, so a retry never adds an
  id twice; a stream batch retried is skipped by Delta's streaming sink, which records the
  query id and batch id of every commit.
- concurrent writer: Delta's optimistic concurrency. Of two merges of the same table one
  commits, the other fails with Delta's ConcurrentAppendException (or kin) and nothing of it
  is applied: run it again.
"""

from __future__ import annotations

import contextlib
import json

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame

from ..paths import files_for
from ..runtime.session import spark_major
from .merging import MergingSink, quoted

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"  # Delta's, for the session's commits


def is_delta_folder(files, path: str) -> bool:
    """A folder Delta writes has its transaction log in `_delta_log`."""
    return files.exists(f"{path.rstrip('/')}/_delta_log")


class DeltaSink(MergingSink):
    format = "delta"

    def __init__(self, spark, options):
        super().__init__(spark, options)
        self.table, self.path = options.output_table, (options.output or "").rstrip("/") or None
        self.identifier = self.table or f"delta.{quoted(self.path)}"

    def hides_observations(self, merges: bool) -> bool:
        """Delta 3 (Spark 3.5) materializes a MERGE's source in a query of its own, apart from
        the MERGE whose metrics Spark reports: an Observation on the source reads 0 rows. Delta 4
        (Spark 4) runs a new metastore table's create-table-as-select the same way."""
        if not self.exists():
            return bool(self.table) and spark_major(self.spark) >= 4
        return merges and spark_major(self.spark) < 4

    def exists(self) -> bool:
        if self.table:
            return self.spark.catalog.tableExists(self.table)
        files = files_for(self.spark, self.path)
        if files is not None:
            return is_delta_folder(files, self.path)
        try:  # Spark Connect, a path off this machine: ask the server
            self.spark.sql(f"DESCRIBE DETAIL {self.identifier}").collect()
            return True
        except AnalysisException:  # no Delta table there
            return False

    def table_partitions(self) -> list[str]:
        return list(self.spark.sql(f"DESCRIBE DETAIL {self.identifier}").collect()[0].partitionColumns)

    def create(self, frame: DataFrame) -> None:
        if self.table:
            super().create(frame)
            return
        writer = frame.write.format("delta").options(**self.options.writer_options)
        if self.options.partition_columns:
            writer = writer.partitionBy(*self.options.partition_columns)
        writer.save(self.path)

    @contextlib.contextmanager
    def committing(self, record: dict):
        """The write's commit carries `record` as its `userMetadata` (DESCRIBE HISTORY shows
        it), so the commit that changed the rows names the run that produced them."""
        previous = self.spark.conf.get(USER_METADATA, None)
        self.spark.conf.set(USER_METADATA, json.dumps(record, default=str, sort_keys=True))
        try:
            yield
        finally:
            if previous is None:
                self.spark.conf.unset(USER_METADATA)
            else:
                self.spark.conf.set(USER_METADATA, previous)

    def stream_writer(self, result: DataFrame):
        """Delta's streaming sink: exactly once through the query id and batch id it commits."""
        return result.writeStream.format("delta").options(**self.options.writer_options)

    def start_stream(self, writer):
        return writer.toTable(self.table) if self.table else writer.start(self.path)
