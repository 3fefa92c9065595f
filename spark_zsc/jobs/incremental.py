"""`--incremental`: relabel exactly what changed, and put the new output in place whole.

A row of the output is *done* when its id is in the input with the same text (`text_sha256`
of its lineage), the same per-row labels where labels come per row, and the same
`config_sha256` (model, labels, template, strategy, ...). Everything else in the input is
classified; done rows are copied as they are (their `classified_at` too); rows whose id left
the input stay unless `--drop-missing`.

The new version is never written over the old one (Spark cannot overwrite a path it is
reading, and a killed run must leave the old output whole):

- files: written beside the output under a hidden name, then swapped in. On a local file
  system the swap is one `renameat2(RENAME_EXCHANGE)`: readers see the old version or the
  new one, never neither. Elsewhere (HDFS, object stores) it is two renames through the
  Hadoop file system, and a run killed between them is repaired by the next run before it
  reads (the path is briefly absent, never half-written);
- metastore tables (parquet, orc, json, ... unpartitioned): written to a new location, then
  `ALTER TABLE ... SET LOCATION`, one metastore update;
- Delta and Iceberg tables: `MERGE INTO` on the id (their own transactions), and a
  `DELETE` of ids that left the input with `--drop-missing`.
Leftovers of killed runs (hidden versions, old locations) are removed by the next run.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import uuid

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..errors import ConfigError
from ..log import log
from .options import JobOptions, is_local_path, local_path
from .storage import describe_table

MERGE_PROVIDERS = ("delta", "iceberg")
_ID, _TEXT_SHA, _LABELS = "__spark_zsc_id", "__spark_zsc_text_sha256", "__spark_zsc_labels"
_VERSION_MARK = ".spark_zsc-"  # hidden sibling versions: .<name>.spark_zsc-<uuid>
_LOCATION_MARK = "__spark_zsc_"  # table locations written by a swap: <location>__spark_zsc_<uuid>


def split(frame: DataFrame, existing: DataFrame, options: JobOptions, config_sha256: str) -> tuple:
    """(input rows to classify, output rows to keep as they are)."""
    meta = f"{options.output_col}_meta"
    missing = [c for c in (options.id_col, meta) if c not in existing.columns]
    if missing:
        raise ConfigError(
            f"the existing output has no {' or '.join(map(repr, missing))} column: --incremental compares ids and "
            "lineage written by this job; rewrite it once with --mode overwrite (lineage on), then run incrementally"
        )
    labels = options.labels_col
    wanted = frame.select(
        F.col(options.id_col).cast("string").alias(_ID),
        F.sha2(F.col(options.text_column), 256).alias(_TEXT_SHA),
        *([F.col(labels).alias(_LABELS)] if labels else []),
    )
    written = existing.where(F.col(f"{meta}.config_sha256") == F.lit(config_sha256)).select(
        F.col(options.id_col).cast("string").alias(_ID),
        F.col(f"{meta}.text_sha256").alias(_TEXT_SHA),
        *([F.col(labels).alias(_LABELS)] if labels else []),
    )
    same = [written[_ID] == wanted[_ID], written[_TEXT_SHA].eqNullSafe(wanted[_TEXT_SHA])]
    if labels:
        same.append(written[_LABELS].eqNullSafe(wanted[_LABELS]))
    done = written.join(wanted, same, "inner").select(written[_ID]).distinct()
    todo = frame.join(done, frame[options.id_col].cast("string") == done[_ID], "left_anti")
    keyed = existing.withColumn(_ID, F.col(options.id_col).cast("string"))
    kept = keyed.join(done, _ID, "left_semi")
    if not options.drop_missing:  # rows whose id left the input stay
        kept = kept.unionByName(keyed.join(wanted.select(_ID), _ID, "left_anti"))
    return todo, kept.dropDuplicates([_ID]).drop(_ID)


# -- files ------------------------------------------------------------------------------------


def _hidden_sibling(path: str, tag: str) -> str:
    parent, name = os.path.split(path.rstrip("/"))
    return os.path.join(parent, f".{name}{_VERSION_MARK}{tag}")


def exchange(a: str, b: str) -> bool:
    """Swap two local paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(), rename_exchange) == 0


class FileVersions:
    """The output path, its hidden next version, and the swap between them."""

    def __init__(self, spark: SparkSession, output: str):
        self.output = output.rstrip("/")
        self.local = is_local_path(output)
        self.next = _hidden_sibling(self.output, uuid.uuid4().hex[:12])
        if not self.local:
            jvm = spark._jvm
            self._fs = jvm.org.apache.hadoop.fs.Path(self.output).getFileSystem(
                spark._jsc.hadoopConfiguration()
            )
            self._path = jvm.org.apache.hadoop.fs.Path

    def _exists(self, path: str) -> bool:
        return os.path.exists(local_path(path)) if self.local else self._fs.exists(self._path(path))

    def _rename(self, source: str, target: str) -> None:
        if self.local:
            os.rename(local_path(source), local_path(target))
        elif not self._fs.rename(self._path(source), self._path(target)):
            raise OSError(f"could not rename {source} to {target}")

    def _delete(self, path: str) -> None:
        if self.local:
            shutil.rmtree(local_path(path), ignore_errors=True)
        else:
            self._fs.delete(self._path(path), True)

    def _leftovers(self) -> list[str]:
        parent, name = os.path.split(self.output)
        prefix = f".{name}{_VERSION_MARK}"
        if self.local:
            folder = local_path(parent) or "."
            names = [n for n in os.listdir(folder) if n.startswith(prefix)] if os.path.isdir(folder) else []
            return [os.path.join(parent, n) for n in names]
        statuses = self._fs.globStatus(self._path(os.path.join(parent, prefix + "*"))) or []
        return [str(status.getPath()) for status in statuses]

    def repair(self) -> None:
        """Before reading: finish or undo what a killed run left. An output missing while an
        old version waits beside it (killed between two renames) is put back; hidden versions
        are removed."""
        leftovers = self._leftovers()
        old = [p for p in leftovers if p.endswith("-old")]
        if not self._exists(self.output) and old:
            log.warning("restoring %s from %s, left by a run killed while swapping", self.output, old[0])
            self._rename(old[0], self.output)
        for path in self._leftovers():
            log.warning("removing %s, left by an earlier run that did not finish", path)
            self._delete(path)

    def swap_in(self) -> None:
        """Put the written next version in place of the output, then drop the old one."""
        if not self._exists(self.output):
            self._rename(self.next, self.output)
            return
        if self.local and exchange(local_path(self.next), local_path(self.output)):
            self._delete(self.next)  # now the old version
            return
        old = self.next + "-old"
        self._rename(self.output, old)
        self._rename(self.next, self.output)
        self._delete(old)


# -- tables -----------------------------------------------------------------------------------


def check_table(spark: SparkSession, table: str, provider: str) -> None:
    """Refuse, before any work, a table --incremental cannot replace safely."""
    if provider in MERGE_PROVIDERS:
        return
    if "# Partition Information" in describe_table(spark, table):
        raise ConfigError(
            f"--incremental into the partitioned table {table!r} is not supported ({provider}): write "
            "files (--output, partitioned too) or use a Delta or Iceberg table, which merge"
        )
    if provider == "hive":
        raise ConfigError(
            f"--incremental into the Hive-format table {table!r} is not supported: use a data source table "
            "(CREATE TABLE ... USING parquet|orc|json, or a first run with --output-format), files, or Delta/Iceberg"
        )


def replace_table(
    spark: SparkSession, frame: DataFrame, table: str, provider: str, writer_options: dict
) -> None:
    """Write `frame` to a new location and point `table` at it (one metastore update); the
    old location, and any left by killed runs, are removed."""
    location = describe_table(spark, table)["Location"]
    base = re.sub(rf"{_LOCATION_MARK}[0-9a-f]+$", "", location)
    new_location = f"{base}{_LOCATION_MARK}{uuid.uuid4().hex[:12]}"
    frame.write.format(provider).options(**writer_options).save(new_location)
    spark.sql(f"ALTER TABLE {table} SET LOCATION '{new_location}'")
    spark.sql(f"REFRESH TABLE {table}")
    hadoop = spark._jvm.org.apache.hadoop.fs.Path
    fs = hadoop(base).getFileSystem(spark._jsc.hadoopConfiguration())
    for status in fs.globStatus(hadoop(base + "*")) or []:
        path = str(status.getPath()).rstrip("/")
        ours = path == base.rstrip("/") or path.startswith(base.rstrip("/") + _LOCATION_MARK)
        if ours and path != new_location.rstrip("/"):
            fs.delete(status.getPath(), True)


def merge_statements(table: str, source: str, id_col: str, input_ids: str, drop_missing: bool) -> list[str]:
    """The statements that apply a classified `source` view to a Delta or Iceberg table."""
    key = f"CAST(t.`{id_col}` AS STRING) = CAST(s.`{id_col}` AS STRING)"
    statements = [
        f"MERGE INTO {table} AS t USING {source} AS s ON {key} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    ]
    if drop_missing:
        statements.append(
            f"DELETE FROM {table} WHERE CAST(`{id_col}` AS STRING) NOT IN (SELECT `{_ID}` FROM {input_ids})"
        )
    return statements


def merge(spark: SparkSession, classified: DataFrame, frame: DataFrame, options: JobOptions) -> None:
    """Delta/Iceberg: merge the classified rows on the id (untested here: neither installs offline)."""
    suffix = uuid.uuid4().hex[:8]
    source, ids = f"spark_zsc_source_{suffix}", f"spark_zsc_ids_{suffix}"
    classified.createOrReplaceTempView(source)
    frame.select(F.col(options.id_col).cast("string").alias(_ID)).createOrReplaceTempView(ids)
    try:
        for statement in merge_statements(
            options.output_table, source, options.id_col, ids, options.drop_missing
        ):
            spark.sql(statement)
    finally:
        spark.catalog.dropTempView(source)
        spark.catalog.dropTempView(ids)


# -- the run ----------------------------------------------------------------------------------


def prepare(spark: SparkSession, options: JobOptions, target_format: str):
    """Before reading anything: refuse a table that cannot be replaced safely, and repair what
    a killed run left beside a file output. The file versions, or None for a table."""
    if options.output_table:
        if spark.catalog.tableExists(options.output_table):
            check_table(spark, options.output_table, target_format)
        return None
    versions = FileVersions(spark, options.output)
    versions.repair()
    return versions


def write(
    spark,
    classified: DataFrame,
    kept: DataFrame,
    frame: DataFrame,
    options: JobOptions,
    target_format: str,
    versions,
) -> str:
    """Put the new version in place: the rows kept (None on a first run) plus the rows classified now."""
    if options.output_table and kept is None:  # a new table: nothing to protect yet
        classified.write.format(target_format).options(**options.writer_options).saveAsTable(
            options.output_table
        )
        return f"table {options.output_table} ({target_format})"
    if options.output_table and target_format in MERGE_PROVIDERS:
        merge(spark, classified, frame, options)
        return f"table {options.output_table} ({target_format}, merged)"
    whole = classified if kept is None else kept.unionByName(classified, allowMissingColumns=True)
    if options.output_table:
        replace_table(spark, whole, options.output_table, target_format, options.writer_options)
        return f"table {options.output_table} ({target_format}, replaced)"
    writer = whole.write.format(target_format).options(**options.writer_options)
    if options.partition_columns:
        writer = writer.partitionBy(*options.partition_columns)
    writer.save(versions.next)
    versions.swap_in()
    return f"{target_format} {options.output} (replaced)"
