"""What Delta and Iceberg tables share: every write is one of the format's own transactions,
and an incremental run is a `MERGE INTO` on the id that rewrites only what changed.

- `--incremental`: the rows classified now and the rows whose other columns changed in the
  input since the last run are merged on the id (`UPDATE` the matched, `INSERT` the new);
  with `--drop-missing` the same `MERGE` deletes the ids that left the input (`WHEN NOT
  MATCHED BY SOURCE`), so a reader sees the run's changes and deletions together or neither;
- `--skip-existing`: an insert-only `MERGE` (ids already in the table are never inserted
  again, however the run is retried);
- columns the input gained are added to the table first (`ALTER TABLE ... ADD COLUMNS`), so
  appends and merges evolve the schema instead of failing or dropping them;
- a new table is created with its rows in one commit (create-table-as-select);
- the run record: table properties `spark_zsc.run.*`, set after the data commit (its counts are
  known once the rows are written; docs/guarantees.md says what a reader sees in between).
"""

from __future__ import annotations

import uuid
from typing import Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .base import CHANGED, Sink
from .run_records import record_in_properties

ID_KEY = "__spark_zsc_id"  # the id as a string, what a merge matches on
APPLY = "__spark_zsc_apply"  # false: an id still in the input whose row stays as it is


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
        """A new table holding `frame`, partitioned by --partition-by, in one commit (a
        create-table-as-select): readers see no table, or the whole first run."""
        writer = frame.writeTo(self.identifier).using(self.format).options(**self.options.writer_options)
        if self.options.partition_columns:
            writer = writer.partitionedBy(*(F.col(c) for c in self.options.partition_columns))
        writer.create()

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
        self._merge(changed, update=True, present=frame if self.options.drop_missing else None)
        return self.describe("merged")

    def _merge(self, source: DataFrame, update: bool, present: Optional[DataFrame] = None) -> None:
        """`source`'s rows merged on the id: inserted where new, updated where matched if
        `update`. With `present` (the input), in the same MERGE, rows whose id is not in
        `present` are deleted: its ids not in `source` join the merge as rows to leave alone."""
        self._add_new_columns(source)
        columns = [quoted(c) for c in source.columns]
        view = f"spark_zsc_source_{uuid.uuid4().hex[:8]}"
        source = source.withColumn(ID_KEY, F.col(self.options.id_column).cast("string"))
        clauses = []
        if present is not None:
            unchanged = present.select(F.col(self.options.id_column).cast("string").alias(ID_KEY)).join(
                source.select(ID_KEY), ID_KEY, "left_anti"
            )
            source = source.withColumn(APPLY, F.lit(True)).unionByName(
                unchanged.withColumn(APPLY, F.lit(False)), allowMissingColumns=True
            )
        applies = f" AND s.{APPLY}" if present is not None else ""
        if update:
            clauses.append(
                f"WHEN MATCHED{applies} THEN UPDATE SET " + ", ".join(f"{c} = s.{c}" for c in columns)
            )
        clauses.append(
            f"WHEN NOT MATCHED{applies} THEN INSERT ({', '.join(columns)}) "
            f"VALUES ({', '.join('s.' + c for c in columns)})"
        )
        if present is not None:
            clauses.append("WHEN NOT MATCHED BY SOURCE THEN DELETE")
        key = f"CAST(t.{quoted(self.options.id_column)} AS STRING) = s.{ID_KEY}"
        self._prepare_source(source).createOrReplaceTempView(view)
        try:
            self.spark.sql(
                f"MERGE INTO {self.identifier} AS t USING {view} AS s ON {key} {' '.join(clauses)}"
            )
        finally:
            self.spark.catalog.dropTempView(view)

    def _prepare_source(self, source: DataFrame) -> DataFrame:
        """A merge's source as the format can plan it."""
        return source

    def record_run(self, record: dict) -> None:
        record_in_properties(self.spark, self.identifier, record)
