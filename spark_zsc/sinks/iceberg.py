"""Iceberg: a table in an Iceberg catalog (`--output-table catalog.db.table`, provider iceberg;
`--output-format iceberg` creates one).

Guarantees (Iceberg's own, which every write here goes through):
- crash: a run's rows are one snapshot (a new table's create-as-select, an append, an
  overwrite, or one merge that also deletes) committed by swapping the table's metadata
  pointer; a run killed before its commit leaves files no snapshot names.
- retried run: `--skip-existing` and `--incremental` merge on the id, so a retry never adds an
  id twice; a stream batch retried is skipped by Iceberg's streaming sink, which records the
  query id and epoch of every commit in the snapshot summary.
- concurrent writer: Iceberg's optimistic concurrency. A merge that finds the table changed
  under it retries its commit, or fails with a ValidationException (a conflicting write) and
  nothing of it is applied.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from .merging import MergingSink


class IcebergSink(MergingSink):
    format = "iceberg"

    def __init__(self, spark, options):
        super().__init__(spark, options)
        self.table = self.identifier = options.output_table

    def exists(self) -> bool:
        return self.spark.catalog.tableExists(self.table)

    def table_partitions(self) -> list[str]:
        return [c.name for c in self.spark.catalog.listColumns(self.table) if c.isPartition]

    def _prepare_source(self, source: DataFrame) -> DataFrame:
        # Spark cannot plan a MERGE into an Iceberg table whose source reads that table (an
        # incremental run's kept rows do): the source is materialized first
        return source.localCheckpoint()

    def stream_writer(self, result: DataFrame):
        """Iceberg's streaming sink: exactly once through the query id and epoch it commits."""
        return result.writeStream.format("iceberg").options(**self.options.writer_options)

    def start_stream(self, writer):
        return writer.toTable(self.table)
