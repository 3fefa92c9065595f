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


def read_input(spark: SparkSession, options: SourceOptions) -> DataFrame:
    if options.input_table:
        if not spark.catalog.tableExists(options.input_table):
            raise ConfigError(f"--input-table {options.input_table!r} does not exist in the metastore")
        return spark.table(options.input_table)
    return _read_files(spark, options.input, options.input_format, options.csv_column_names)


def check_columns(frame: DataFrame, options: JobOptions) -> DataFrame:
    """The named columns exist and have usable types; a comma-separated labels string becomes an array."""
    named = [
        ("--text-col", options.text_column),
        ("--id-col", options.id_col),
        ("--labels-col", options.labels_col),
    ]
    for option, column in named + [("--partition-by", column) for column in options.partition_columns]:
        if column:
            require_column(frame.schema, column, option)
    if options.output_col in frame.columns:
        raise ConfigError(
            f"--output-col {options.output_col!r} is already a column of the input: choose another name"
        )
    if options.labels_col and isinstance(frame.schema[options.labels_col].dataType, StringType):
        frame = frame.withColumn(
            options.labels_col, F.expr(f"transform(split(`{options.labels_col}`, ','), l -> trim(l))")
        )
    elif options.labels_col and not isinstance(frame.schema[options.labels_col].dataType, ArrayType):
        raise ConfigError(
            f"--labels-col {options.labels_col!r} must be array<string> or a comma-separated string"
        )
    return frame


def _hadoop_fs(spark: SparkSession, path: str):
    """(file system, path) through the driver's JVM; None on Spark Connect, which has no JVM here."""
    if is_connect(spark):
        return None
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()), hadoop_path


def output_exists(spark: SparkSession, options: JobOptions) -> bool:
    if options.output_table:
        return spark.catalog.tableExists(options.output_table)
    fs = _hadoop_fs(spark, options.output)
    if fs is not None:
        return fs[0].exists(fs[1])
    try:  # Spark Connect: ask the server to list the path
        spark.read.format("binaryFile").load(options.output).schema  # noqa: B018 (the server resolves the path)
        return True
    except Exception as error:
        if "PATH_NOT_FOUND" in str(error) or "does not exist" in str(error):
            return False
        raise


def read_output(spark: SparkSession, options: JobOptions) -> DataFrame:
    if options.output_table:
        return spark.table(options.output_table)
    return _read_files(spark, options.output, options.output_format)  # written by this job: CSV with a header


def keep_missing_rows(spark: SparkSession, frame: DataFrame, options: JobOptions) -> DataFrame:
    """For --skip-existing: the input rows whose id is not in the output yet.

    Ids are compared as strings, so a CSV output (read back as strings) still matches a
    numeric id column in the input.
    """
    if not output_exists(spark, options):
        return frame
    written = read_output(spark, options)
    if options.id_col not in written.columns:
        raise ConfigError(
            f"the existing output has no {options.id_col!r} column to compare ids with; was it written by this job?"
        )
    key = "__spark_zsc_written_id"
    done = written.select(F.col(options.id_col).cast("string").alias(key)).distinct()
    return frame.join(done, frame[options.id_col].cast("string") == done[key], "left_anti")


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


def write_output(spark: SparkSession, frame: DataFrame, options: JobOptions) -> str:
    """Write and return where it went."""
    if options.output and options.output_format == "csv":
        frame = flatten_for_csv(frame, options.output_col)
    writer = frame.write.mode(options.write_mode)
    if options.partition_columns:
        writer = writer.partitionBy(*options.partition_columns)
    if options.output_table:
        writer.format("parquet").saveAsTable(options.output_table)
        return f"table {options.output_table}"
    if output_exists(spark, options):
        _remove_leftovers_of_killed_runs(spark, options.output)
    if options.output_format == "csv":
        writer = writer.option("header", True).option("escape", '"')
    writer.format(options.output_format).save(options.output)
    return f"{options.output_format} {options.output}"
