"""`--output-table NAME` for a metastore table of files (parquet, orc, json, csv, Hive format).

Guarantees:
- crash: a plain write or append is Spark's `saveAsTable`: a job killed mid-way commits
  nothing of its own tasks' files. An `--incremental` run writes the whole new version to a
  new location and points the table at it with one `ALTER TABLE ... SET LOCATION`: readers see
  the old version or the new one; a killed run leaves an unused location, removed by the next.
- retried run: as for files (`--skip-existing` appends only missing ids; `--incremental`
  replaces the version whole).
- concurrent writer: refused. A run on an existing table takes the lock beside the table's
  location before it reads or cleans up anything, so clean-up never touches a live run's
  location. Two runs creating the same new table: the metastore lets one create it, the
  other fails.
- an existing table keeps its own format and partitioning; `--incremental` is refused before
  work for partitioned and Hive-format tables (use Delta or Iceberg, or files).
"""

from __future__ import annotations

import re
import uuid

from pyspark.sql import DataFrame

from ..errors import ConfigError
from ..paths import base_name, files_for, parent
from ..runtime.session import is_connect
from .base import Sink, whole_version
from .locks import WriterLock
from .run_records import record_in_properties
from .streams import TableBatches

STREAM_TABLE_FORMATS = ("parquet", "orc", "json")  # folders of files whose names a stream can choose
LOCATION_MARK = "__spark_zsc_"  # table locations written by a swap: <location>__spark_zsc_<id>


def describe_table(spark, table: str) -> dict:
    """`DESCRIBE TABLE EXTENDED` as name -> value: Provider, Location, '# Partition Information', ..."""
    return {r.col_name: r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()}


def table_provider(spark, table: str) -> str:
    """The data source an existing table is stored as (parquet, orc, json, hive, delta, iceberg, ...)."""
    return describe_table(spark, table).get("Provider", "hive").lower()


class TableSink(Sink):
    def __init__(self, spark, options, provider: str):
        super().__init__(spark, options)
        self.table, self.format = options.output_table, provider

    def describe(self, how: str = "") -> str:
        return f"table {self.table} ({self.format}{', ' + how if how else ''})"

    def exists(self) -> bool:
        return self.spark.catalog.tableExists(self.table)

    def read(self) -> DataFrame:
        return self.spark.table(self.table)

    def partition_columns(self) -> list[str]:
        """An existing table's own (a different --partition-by is refused), else --partition-by."""
        if not self.exists():
            return self.options.partition_columns
        existing = [c.name for c in self.spark.catalog.listColumns(self.table) if c.isPartition]
        return self.keep_partitioning(existing, f"--output-table {self.table!r}")

    def check_incremental(self) -> None:
        if not self.exists():
            if self.options.partition_columns:
                raise ConfigError(
                    f"--incremental --partition-by into a new {self.format} table {self.table!r}: a partitioned "
                    "table of files cannot be replaced in one step; create it as Delta or Iceberg "
                    "(--output-format delta), or write files (--output, partitioned too)"
                )
            return
        if self.partition_columns():
            raise ConfigError(
                f"--incremental into the partitioned table {self.table!r} is not supported ({self.format}): write "
                "files (--output, partitioned too) or use a Delta or Iceberg table, which merge"
            )
        if self.format == "hive":
            raise ConfigError(
                f"--incremental into the Hive-format table {self.table!r} is not supported: use a data source "
                "table (CREATE TABLE ... USING parquet|orc|json, or a first run with --output-format), files, "
                "or Delta/Iceberg"
            )
        if is_connect(self.spark):
            raise ConfigError(
                f"--incremental into the {self.format} table {self.table!r} needs classic Spark (it moves the "
                "table to a new location through the driver's Hadoop file system): on Spark Connect use a "
                "Delta or Iceberg table, which merge"
            )

    def _location(self) -> str:
        return describe_table(self.spark, self.table)["Location"]

    def writer_lock(self):
        if not self.exists() or is_connect(self.spark):  # a new table: the metastore creates it once
            return super().writer_lock()
        base = re.sub(rf"{LOCATION_MARK}[0-9a-f]+$", "", self._location())
        return WriterLock(files_for(self.spark, base), base, f"--output-table {self.table!r}")

    def _writer(self, frame: DataFrame):
        writer = frame.write.format(self.format).mode(self.options.write_mode)
        partitions = self.partition_columns()
        if partitions:
            writer = writer.partitionBy(*partitions)
        return writer.options(**self.options.writer_options)

    def write(self, frame: DataFrame) -> str:
        self._writer(frame).saveAsTable(self.table)
        return self.describe()

    def replace(self, classified: DataFrame, kept, frame: DataFrame) -> str:
        if kept is None and not self.exists():  # a new table: nothing to protect yet
            self._writer(classified).saveAsTable(self.table)
            return self.describe()
        whole = whole_version(classified, kept)
        location = self._location()
        base = re.sub(rf"{LOCATION_MARK}[0-9a-f]+$", "", location)
        new_location = f"{base}{LOCATION_MARK}{uuid.uuid4().hex[:12]}"
        whole.write.format(self.format).options(**self.options.writer_options).save(new_location)
        self.spark.sql(f"ALTER TABLE {self.table} SET LOCATION '{new_location}'")
        self.spark.sql(f"REFRESH TABLE {self.table}")
        files = files_for(self.spark, base)
        for path in files.matching(parent(base), base_name(base) + "*"):
            path = path.rstrip("/")
            ours = path == base.rstrip("/") or path.startswith(base.rstrip("/") + LOCATION_MARK)
            if ours and path != new_location.rstrip("/"):
                files.delete(path)
        return self.describe("replaced")

    def record_run(self, record: dict) -> None:
        record_in_properties(self.spark, self.table, record)

    def stream_writer(self, result: DataFrame):
        """`foreachBatch` into a table of files (see `streams`), created empty with the result's
        columns when missing; an existing one must be unpartitioned, with the same columns."""
        if is_connect(self.spark):
            raise ConfigError(
                "--stream into --output-table needs classic Spark; on Spark Connect stream to --output PATH"
            )
        if self.format not in STREAM_TABLE_FORMATS:
            raise ConfigError(
                f"--output-table {self.table!r} is written as {self.format}, which a stream cannot write exactly "
                f"once here: stream into a {', '.join(STREAM_TABLE_FORMATS)}, delta or iceberg table (a new one: "
                "--output-format parquet), or to --output PATH"
            )
        if not self.exists():
            self.spark.createDataFrame([], result.schema).write.format(self.format).saveAsTable(self.table)
        elif self.partition_columns():
            raise ConfigError(
                f"--output-table {self.table!r} is partitioned: a stream writes unpartitioned tables of files "
                "here (Delta and Iceberg tables in any partitioning), or --output PATH"
            )
        existing = [(f.name, f.dataType) for f in self.read().schema]
        if existing != [(f.name, f.dataType) for f in result.schema]:
            raise ConfigError(
                f"--output-table {self.table!r} has columns ({', '.join(n for n, _ in existing)}), not the "
                f"stream's ({', '.join(result.columns)}): write to a new table"
            )
        batches = TableBatches(
            self.table,
            self.format,
            self._location(),
            self.options.checkpoint_folder,
            self.options.writer_options,
        )
        return result.writeStream.foreachBatch(batches)
