"""Reading the job's input and writing its output: files or metastore tables, incrementally."""

from __future__ import annotations

import os
import shutil

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from ..errors import ConfigError
from ..log import log
from ..runtime.distribution import is_connect
from ..spark.columns import require_column
from .options import JobOptions, SourceOptions, is_local_path, local_path


def _read_files(spark: SparkSession, path: str, file_format: str, csv_columns: list[str] = ()) -> DataFrame:
    reader = spark.read.format(file_format)
    if file_format == "csv":
        # every column as a string: no inference pass over the data, no surprise types
        reader = reader.option("header", not csv_columns).option("multiLine", True).option("escape", '"')
        if csv_columns:
            reader = reader.schema(", ".join(f"`{c}` string" for c in csv_columns))
    return reader.load(path)


def read_input(spark: SparkSession, o: SourceOptions) -> DataFrame:
    if o.input_table:
        if not spark.catalog.tableExists(o.input_table):
            raise ConfigError(f"--input-table {o.input_table!r} does not exist in the metastore")
        return spark.table(o.input_table)
    return _read_files(spark, o.input, o.input_format, o.csv_column_names)


def check_columns(frame: DataFrame, o: JobOptions) -> DataFrame:
    """The named columns exist and have usable types; a comma-separated labels string becomes an array."""
    named = [("--text-col", o.text_column), ("--id-col", o.id_col), ("--labels-col", o.labels_col)]
    for option, column in named + [("--partition-by", column) for column in o.partition_columns]:
        if column:
            require_column(frame.schema, column, option)
    if o.output_col in frame.columns:
        raise ConfigError(
            f"--output-col {o.output_col!r} is already a column of the input: choose another name"
        )
    if o.labels_col and isinstance(frame.schema[o.labels_col].dataType, StringType):
        frame = frame.withColumn(
            o.labels_col, F.expr(f"transform(split(`{o.labels_col}`, ','), l -> trim(l))")
        )
    elif o.labels_col and not isinstance(frame.schema[o.labels_col].dataType, ArrayType):
        raise ConfigError(f"--labels-col {o.labels_col!r} must be array<string> or a comma-separated string")
    return frame


def _hadoop_fs(spark: SparkSession, path: str):
    """(file system, path) through the driver's JVM; None on Spark Connect, which has no JVM here."""
    if is_connect(spark):
        return None
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()), hadoop_path


def output_exists(spark: SparkSession, o: JobOptions) -> bool:
    if o.output_table:
        return spark.catalog.tableExists(o.output_table)
    fs = _hadoop_fs(spark, o.output)
    if fs is not None:
        return fs[0].exists(fs[1])
    try:  # Spark Connect: ask the server to list the path
        spark.read.format("binaryFile").load(o.output).schema  # noqa: B018 (the server resolves the path)
        return True
    except Exception as error:
        if "PATH_NOT_FOUND" in str(error) or "does not exist" in str(error):
            return False
        raise


def read_output(spark: SparkSession, o: JobOptions) -> DataFrame:
    if o.output_table:
        return spark.table(o.output_table)
    return _read_files(spark, o.output, o.output_format)  # written by this job: CSV with a header


def keep_missing_rows(spark: SparkSession, frame: DataFrame, o: JobOptions) -> DataFrame:
    """For --skip-existing: the input rows whose id is not in the output yet.

    Ids are compared as strings, so a CSV output (read back as strings) still matches a
    numeric id column in the input.
    """
    if not output_exists(spark, o):
        return frame
    written = read_output(spark, o)
    if o.id_col not in written.columns:
        raise ConfigError(
            f"the existing output has no {o.id_col!r} column to compare ids with; was it written by this job?"
        )
    key = "__spark_zsc_written_id"
    done = written.select(F.col(o.id_col).cast("string").alias(key)).distinct()
    return frame.join(done, frame[o.id_col].cast("string") == done[key], "left_anti")


def flatten_for_csv(frame: DataFrame, column: str) -> DataFrame:
    """CSV has no structs: <col>_label, <col>_score and <col>_scores as JSON {label: score}."""
    result = F.col(column)
    return frame.withColumns(
        {
            f"{column}_label": result["label"],
            f"{column}_score": result["score"],
            f"{column}_scores": F.to_json(F.map_from_arrays(result["labels"], result["scores"])),
        }
    ).drop(column)


def _remove_leftovers_of_killed_runs(spark: SparkSession, path: str) -> None:
    """A job killed mid-write leaves committed task files under `<output>/_temporary`;
    the next job's commit would move them into the output as duplicates. Only one job
    writes an output at a time, so anything there is a leftover."""
    temporary = path.rstrip("/") + "/_temporary"
    fs = _hadoop_fs(spark, temporary)
    if fs is not None:
        if fs[0].exists(fs[1]):
            log.warning("removing %s left by an earlier run that did not finish", temporary)
            fs[0].delete(fs[1], True)
    elif is_local_path(temporary) and os.path.isdir(local_path(temporary)):
        # Spark Connect with the server on this machine
        log.warning("removing %s left by an earlier run that did not finish", temporary)
        shutil.rmtree(local_path(temporary))
    else:
        log.warning("Spark Connect: cannot check %s for leftovers of a killed run from here", temporary)


def write_output(spark: SparkSession, frame: DataFrame, o: JobOptions) -> str:
    """Write and return where it went."""
    if o.output and o.output_format == "csv":
        frame = flatten_for_csv(frame, o.output_col)
    writer = frame.write.mode(o.write_mode)
    if o.partition_columns:
        writer = writer.partitionBy(*o.partition_columns)
    if o.output_table:
        writer.format("parquet").saveAsTable(o.output_table)
        return f"table {o.output_table}"
    if output_exists(spark, o):
        _remove_leftovers_of_killed_runs(spark, o.output)
    if o.output_format == "csv":
        writer = writer.option("header", True).option("escape", '"')
    writer.format(o.output_format).save(o.output)
    return f"{o.output_format} {o.output}"
