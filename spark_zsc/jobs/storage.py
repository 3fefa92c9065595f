"""Reading the job's input and writing its output: files or metastore tables, incrementally."""

from __future__ import annotations

import os
import shutil

from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from ..errors import ConfigError
from ..log import log
from ..runtime.distribution import is_connect
from ..spark.columns import require_column
from .options import JobOptions, SourceOptions, is_local_path, local_path

CORRUPT_RECORD = "_corrupt_record"  # where Spark's readers put lines they cannot parse (PERMISSIVE mode)


def check_data_source(spark: SparkSession, name: str, option: str) -> None:
    """Refuse a data source this Spark does not have, with Spark's own message, before any work.
    (On Spark Connect the server resolves sources: an unknown one fails at the read or write.)"""
    if is_connect(spark):
        return
    sources = spark._jvm.org.apache.spark.sql.execution.datasources.DataSource
    try:
        sources.lookupDataSource(name, spark._jsparkSession.sessionState().conf())
    except Exception as error:
        message = error.java_exception.getMessage() if hasattr(error, "java_exception") else str(error)
        raise ConfigError(f"{option} {name!r}: {message}") from None


def read_files(reader, path: str, file_format: str, csv_columns=(), options: dict = None) -> DataFrame:
    """Files through `reader` (`spark.read`, or `spark.readStream` with a schema), with the
    jobs' defaults for CSV; the user's options override them."""
    reader = reader.format(file_format)
    if file_format == "csv":
        # every column as a string: no inference pass over the data, no surprise types
        reader = reader.option("header", not csv_columns).option("multiLine", True).option("escape", '"')
        if csv_columns:
            reader = reader.schema(", ".join(f"`{c}` string" for c in csv_columns))
    return reader.options(**(options or {})).load(path)  # the user's options override the defaults above


def read_input(spark: SparkSession, options: SourceOptions) -> DataFrame:
    if options.input_table:
        if not spark.catalog.tableExists(options.input_table):
            raise ConfigError(f"--input-table {options.input_table!r} does not exist in the metastore")
        return spark.table(options.input_table)
    check_data_source(spark, options.input_format, "--input-format")
    try:
        return read_files(
            spark.read, options.input, options.input_format, options.csv_column_names, options.reader_options
        )
    except (AnalysisException, IllegalArgumentException) as error:  # the reader refused its options or files
        raise ConfigError(
            f"--input {options.input!r} cannot be read as {options.input_format}: {error}"
        ) from None


def corrupt_record_column(frame: DataFrame, options: SourceOptions):
    """The column holding records the reader could not parse, if the input has one."""
    name = options.reader_options.get("columnNameOfCorruptRecord", CORRUPT_RECORD)
    return name if name in frame.columns else None


def describe_table(spark: SparkSession, table: str) -> dict:
    """`DESCRIBE TABLE EXTENDED` as name -> value: Provider, Location, '# Partition Information', ..."""
    return {r.col_name: r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()}


def table_provider(spark: SparkSession, table: str) -> str:
    """The data source an existing table is stored as (parquet, orc, json, hive, delta, ...)."""
    return describe_table(spark, table).get("Provider", "hive").lower()


def output_format(spark: SparkSession, options: JobOptions) -> str:
    """What the output is written as: an existing table's own format; else --output-format;
    else parquet for files and the session's default source for a new table."""
    if options.output_table and spark.catalog.tableExists(options.output_table):
        output_partitions(spark, options)  # a --partition-by that contradicts the table fails now
        return table_provider(spark, options.output_table)
    if options.output_format:
        check_data_source(spark, options.output_format, "--output-format")
    if options.output_table:
        return options.output_format or spark.conf.get("spark.sql.sources.default", "parquet")
    return options.file_format


def output_partitions(spark: SparkSession, options: JobOptions) -> list[str]:
    """The output's partition columns: an existing table's own (a different --partition-by is
    refused), else --partition-by."""
    if not (options.output_table and spark.catalog.tableExists(options.output_table)):
        return options.partition_columns
    existing = [c.name for c in spark.catalog.listColumns(options.output_table) if c.isPartition]
    if options.partition_columns and options.partition_columns != existing:
        raise ConfigError(
            f"--partition-by {','.join(options.partition_columns)} contradicts --output-table "
            f"{options.output_table!r}, partitioned by {','.join(existing) or 'nothing'}: drop --partition-by"
        )
    return existing


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


def hadoop_fs(spark: SparkSession, path: str):
    """(file system, path) through the driver's JVM; None on Spark Connect, which has no JVM here."""
    if is_connect(spark):
        return None
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()), hadoop_path


def output_exists(spark: SparkSession, options: JobOptions) -> bool:
    if options.output_table:
        return spark.catalog.tableExists(options.output_table)
    fs = hadoop_fs(spark, options.output)
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
    return read_files(
        spark.read, options.output, options.file_format
    )  # written by this job: CSV with a header


RUN_RECORD = "_spark_zsc_run.json"  # beside the data: Spark's readers skip names starting with _
RUN_PROPERTY = (
    "spark_zsc.run"  # table properties spark_zsc.run.<part>: config_sha256, config, options, summary
)


def record_run(spark: SparkSession, options: JobOptions, record: dict) -> None:
    """Leave the run's configuration and summary where the output lives: a JSON file in the
    output folder, or table properties (one per part: Spark redacts a property whose value
    looks like a secret, and the options' `token_budget` does, so it does not hide the rest)."""
    import json

    from ..spark.lineage import sql_literal

    if options.output_table:
        pairs = ", ".join(
            f"'{RUN_PROPERTY}.{part}' = {sql_literal(value if isinstance(value, str) else json.dumps(value, default=str))}"
            for part, value in record.items()
        )
        spark.sql(f"ALTER TABLE {options.output_table} SET TBLPROPERTIES ({pairs})")
        return
    text = json.dumps(record, indent=2, default=str)
    target = options.output.rstrip("/") + "/" + RUN_RECORD
    fs = hadoop_fs(spark, target)
    if fs is not None:
        stream = fs[0].create(fs[1], True)
        stream.write(bytearray(text.encode()))
        stream.close()
    elif is_local_path(target) and os.path.isdir(os.path.dirname(local_path(target))):
        with open(
            local_path(target), "w", encoding="utf-8"
        ) as handle:  # Spark Connect, server on this machine
            handle.write(text)
    else:
        log.warning(
            "Spark Connect: cannot write %s from here; the run's record is in the summary only", target
        )


def count_input(frame: DataFrame, options: JobOptions) -> dict:
    """Rows, records the reader could not parse, and (for --incremental) a refusal of
    repeated ids, from one scan of the input."""
    corrupt = corrupt_record_column(frame, options)
    text = F.col(options.text_column)
    # (Spark refuses a query of raw files that reads only the corrupt-record column; text is read too)
    broken = F.col(corrupt).isNotNull() if corrupt else F.lit(False)
    measures = [
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(broken, 1)).alias("corrupt_records"),
        F.count(F.when(broken & text.isNull(), 1)).alias("corrupt_records_without_text"),
    ]
    if options.incremental:
        measures.append(F.countDistinct(F.col(options.id_col).cast("string")).alias("ids"))
        measures.append(F.count(F.col(options.id_col)).alias("rows_with_id"))
    counts = frame.agg(*measures).head().asDict()
    if options.incremental and (counts["ids"] != counts["rows"] or counts["rows_with_id"] != counts["rows"]):
        raise ConfigError(
            f"--incremental keeps one row per id, but --id-col {options.id_col!r} has "
            f"{counts['rows'] - counts['ids']} repeated or null value(s) in {counts['rows']} rows: deduplicate first"
        )
    return counts


def mark_corrupt_records(result: DataFrame, frame: DataFrame, options: JobOptions) -> DataFrame:
    """Lineage status 'corrupt_record' for the rows the reader could not parse."""
    corrupt = corrupt_record_column(frame, options)
    if not (corrupt and options.lineage_col):
        return result
    meta = F.col(options.lineage_col)
    status = F.when(F.col(corrupt).isNotNull(), F.lit("corrupt_record")).otherwise(meta["status"])
    return result.withColumn(options.lineage_col, meta.withField("status", status))


def keep_missing_rows(frame: DataFrame, written, options: JobOptions) -> DataFrame:
    """For --skip-existing: the input rows whose id is not in the output (`written`, None when
    there is none) yet.

    Ids are compared as strings, so a CSV output (read back as strings) still matches a
    numeric id column in the input.
    """
    if written is None:
        return frame
    if options.id_col not in written.columns:
        raise ConfigError(
            f"the existing output has no {options.id_col!r} column to compare ids with; was it written by this job?"
        )
    key = "__spark_zsc_written_id"
    done = written.select(F.col(options.id_col).cast("string").alias(key)).distinct()
    return frame.join(done, frame[options.id_col].cast("string") == done[key], "left_anti")


def flatten_for_csv(frame: DataFrame, column: str, lineage_col: str = None) -> DataFrame:
    """CSV has no structs: <col>_label, <col>_score and <col>_scores as JSON {label: score}
    (and <col>_selected as a JSON array, where there is one); the lineage struct as one JSON object."""
    result = F.col(column)
    flat = {
        f"{column}_label": result["label"],
        f"{column}_score": result["score"],
        f"{column}_scores": F.to_json(F.map_from_arrays(result["labels"], result["scores"])),
    }
    if "selected" in frame.schema[column].dataType.fieldNames():  # multi-label with --min-score
        flat[f"{column}_selected"] = F.to_json(result["selected"])
    if lineage_col:  # last, after the result's columns
        frame = frame.withColumnRenamed(lineage_col, "__spark_zsc_meta")
        flat[lineage_col] = F.to_json(F.col("__spark_zsc_meta"))
    return frame.withColumns(flat).drop(column, "__spark_zsc_meta")


def _remove_leftovers_of_killed_runs(spark: SparkSession, path: str) -> None:
    """A job killed mid-write leaves committed task files under `<output>/_temporary`;
    the next job's commit would move them into the output as duplicates. Only one job
    writes an output at a time, so anything there is a leftover."""
    temporary = path.rstrip("/") + "/_temporary"
    fs = hadoop_fs(spark, temporary)
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


def write_output(spark: SparkSession, frame: DataFrame, options: JobOptions, file_format: str) -> str:
    """Write in `file_format` (see `output_format`) and return where it went."""
    if file_format == "csv":
        frame = flatten_for_csv(frame, options.output_col, options.lineage_col)
    writer = frame.write.mode(options.write_mode).format(file_format)
    partitions = output_partitions(spark, options)
    if partitions:
        writer = writer.partitionBy(*partitions)
    if file_format == "csv":
        writer = writer.option("header", True).option("escape", '"')
    writer = writer.options(**options.writer_options)
    if options.output_table:
        writer.saveAsTable(options.output_table)
        return f"table {options.output_table} ({file_format})"
    if output_exists(spark, options):
        _remove_leftovers_of_killed_runs(spark, options.output)
    writer.save(options.output)
    return f"{file_format} {options.output}"
