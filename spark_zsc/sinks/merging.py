"""What Delta and Iceberg tables share: every write is one of the format's own transactions,
and an incremental run is a `MERGE INTO` on the id that rewrites only what changed.

- `--incremental`: the rows classified now and the rows whose other columns changed in the
  input since the last run are merged on the id (`UPDATE` the matched, `INSERT` the new);
  with `--drop-missing` a second `MERGE` deletes the ids that left the input;
- `--skip-existing`: an insert-only `MERGE` (ids already in the table are never inserted
  again, however the run is retried);
- columns the input gained are added to the table first (`ALTER TABLE ... ADD COLUMNS`), so
  appends and merges evolve the schema instead of failing or dropping them;
- the run record: table properties `spark_zsc.run.*`.
"""

from __future__ import annotations

import uuid

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .base import CHANGED, Sink
from .run_records import record_in_properties

ID_KEY = "__spark_zsc_id"


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MergingSink(Sink):
    """A table whose format commits each write as one transaction (Delta, Iceberg)."""

    identifier: str  # the table as SQL names it

    def describe(self, how: str = "") -> str:
        return f"table {self.identifier} ({self.format}{', ' + how if how else ''})"

    def read(self) -> DataFrame:
        return self.spark.table(self.identifier)

    def partition_columns(self) -> list[str]:
        if not self.exists():
            return self.options.partition_columns
        return self.keep_partitioning(self.table_partitions(), self.identifier)

    def table_partitions(self) -> list[str]:
        raise NotImplementedError

    def create(self, frame: DataFrame) -> None:
        """A new table holding `frame`, partitioned by --partition-by: created empty, then
        appended to (Delta's create-as-select loses the job's observed counts; a run killed in
        between leaves an empty table, which the next run fills)."""
        empty = self.spark.createDataFrame([], frame.schema)
        writer = empty.writeTo(self.identifier).using(self.format).options(**self.options.writer_options)
        if self.options.partition_columns:
            writer = writer.partitionedBy(*(F.col(c) for c in self.options.partition_columns))
        writer.create()
        frame.writeTo(self.identifier).append()

    # -- schema ------------------------------------------------------------------------------

    def _add_new_columns(self, frame: DataFrame) -> None:
        """Columns of `frame` the table lacks, added (as null for the rows it holds)."""
        have = {name.lower() for name in self.read().columns}
        new = [field for field in frame.schema if field.name.lower() not in have]
        if new:
            columns = ", ".join(f"{quoted(f.name)} {f.dataType.simpleString()}" for f in new)
            self.spark.sql(f"ALTER TABLE {self.identifier} ADD COLUMNS ({columns})")

    # -- writes ------------------------------------------------------------------------------

    def write(self, frame: DataFrame) -> str:
        if not self.exists():
            self.create(frame)
        elif self.options.write_mode == "append":
            self._add_new_columns(frame)
            frame.writeTo(self.identifier).append()
        else:  # overwrite: one transaction replaces every row; readers see the old or the new
            self._add_new_columns(frame)
            frame.writeTo(self.identifier).overwrite(F.lit(True))
        return self.describe()

    def append_missing(self, frame: DataFrame) -> str:
        if not self.exists():
            self.create(frame)
            return self.describe()
        self._merge(frame, update=False)
        return self.describe("merged")

    def replace(self, classified: DataFrame, kept, frame: DataFrame) -> str:
        if not self.exists():
            self.create(classified)
            return self.describe()
        changed = classified
        if kept is not None:  # rows kept whose other columns changed in the input are merged too
            changed = (
                kept.where(F.col(CHANGED)).drop(CHANGED).unionByName(classified, allowMissingColumns=True)
            )
        self._merge(changed, update=True)
        if self.options.drop_missing:
            self._delete_missing(frame)
        return self.describe("merged")

    def _merge(self, source: DataFrame, update: bool) -> None:
        self._add_new_columns(source)
        id_col, view = self.options.id_column, f"spark_zsc_source_{uuid.uuid4().hex[:8]}"
        source.createOrReplaceTempView(view)
        columns = [quoted(c) for c in source.columns]
        key = f"CAST(t.{quoted(id_col)} AS STRING) = CAST(s.{quoted(id_col)} AS STRING)"
        matched = (
            "WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{c} = s.{c}" for c in columns) + " "
            if update
            else ""
        )
        insert = f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({', '.join('s.' + c for c in columns)})"
        try:
            self.spark.sql(f"MERGE INTO {self.identifier} AS t USING {view} AS s ON {key} {matched}{insert}")
        finally:
            self.spark.catalog.dropTempView(view)

    def _delete_missing(self, frame: DataFrame) -> None:
        """Ids that left the input, deleted in one MERGE (Delta's DELETE takes no subquery)."""
        view = f"spark_zsc_ids_{uuid.uuid4().hex[:8]}"
        frame.select(F.col(self.options.id_column).cast("string").alias(ID_KEY)).createOrReplaceTempView(view)
        try:
            self.spark.sql(
                f"MERGE INTO {self.identifier} AS t USING {view} AS s "
                f"ON CAST(t.{quoted(self.options.id_column)} AS STRING) = s.{ID_KEY} "
                "WHEN NOT MATCHED BY SOURCE THEN DELETE"
            )
        finally:
            self.spark.catalog.dropTempView(view)

    def record_run(self, record: dict) -> None:
        record_in_properties(self.spark, self.identifier, record)
