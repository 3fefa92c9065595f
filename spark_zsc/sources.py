"""What a job reads: files in any Spark data source (with the jobs' CSV defaults and the user's
reader options), metastore tables, or either as a stream; the input's columns checked before
any work; records the reader could not parse counted and marked."""

from __future__ import annotations

from typing import Optional, Protocol, Sequence

from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from .errors import ConfigError
from .formats import check_data_source, read_files
from .paths import files_for
from .spark.columns import CASE_RULE, clashing_column, require_column

CORRUPT_RECORD = "_corrupt_record"  # where Spark's readers put lines they cannot parse (PERMISSIVE mode)


class InputSpec(Protocol):
    """What reading the input takes of a job's options (a job's config has these)."""

    @property
    def input(self) -> Optional[str]: ...
    @property
    def input_path(self) -> str: ...
    @property
    def input_table(self) -> Optional[str]: ...
    @property
    def input_format(self) -> str: ...
    @property
    def reader_options(self) -> dict[str, str]: ...
    @property
    def csv_column_names(self) -> list[str]: ...


class ColumnSpec(InputSpec, Protocol):
    """What streaming the input, and checking and counting its columns, take of the classify
    job's options."""

    @property
    def schema(self) -> Optional[str]:
        """--schema: a streamed folder's, as DDL."""

    @property
    def text_column(self) -> str: ...
    @property
    def id_col(self) -> Optional[str]: ...
    @property
    def id_column(self) -> str: ...
    @property
    def labels_col(self) -> Optional[str]: ...
    @property
    def partition_columns(self) -> list[str]: ...
    @property
    def incremental(self) -> bool: ...
    @property
    def skip_existing(self) -> bool: ...
    @property
    def lineage_col(self) -> Optional[str]: ...


def read_input(spark: SparkSession, options: InputSpec) -> DataFrame:
    if options.input_table:
        if not spark.catalog.tableExists(options.input_table):
            raise ConfigError(f"--input-table {options.input_table!r} does not exist in the metastore")
        return spark.table(options.input_table)
    check_data_source(spark, options.input_format, "--input-format")
    path = options.input_path
    files = files_for(spark, path)  # None on Spark Connect off this machine: the reader says
    if files is not None and not files.found(path):
        raise ConfigError(f"--input {path!r} does not exist")
    try:
        return read_files(
            spark.read, path, options.input_format, options.csv_column_names, options.reader_options
        )
    # the reader refused its options or files (Spark 3.5 raises a failure of the schema inference
    # job, e.g. an unknown charset, as the Java error)
    except (AnalysisException, IllegalArgumentException, Py4JJavaError) as error:
        raise ConfigError(
            f"--input {options.input!r} cannot be read as {options.input_format}: {_reason(error)}"
        ) from None


def _reason(error: Exception) -> str:
    """Spark's message; for a Java error, its root cause's (the rest is a stack trace)."""
    if not isinstance(error, Py4JJavaError):
        return str(error)
    cause = error.java_exception
    while cause.getCause() is not None:
        cause = cause.getCause()
    return cause.toString()


def corrupt_record_column(frame: DataFrame, options: InputSpec):
    """The column holding records the reader could not parse, if the input has one."""
    name = options.reader_options.get("columnNameOfCorruptRecord", CORRUPT_RECORD)
    return name if name in frame.columns else None


def read_stream(spark: SparkSession, options: ColumnSpec) -> DataFrame:
    """The input as a streaming DataFrame."""
    if options.input_table:
        if not spark.catalog.tableExists(options.input_table):
            raise ConfigError(f"--input-table {options.input_table!r} does not exist in the metastore")
        return spark.readStream.options(**options.reader_options).table(options.input_table)
    check_data_source(spark, options.input_format, "--input-format")
    schema = options.schema or _schema_of_files(spark, options)
    return read_files(
        spark.readStream.schema(schema),
        options.input_path,
        options.input_format,
        options.csv_column_names,
        options.reader_options,
    )


def _schema_of_files(spark: SparkSession, options: InputSpec):
    try:
        frame = read_input(spark, options)
    except ConfigError as error:
        raise ConfigError(
            f'{error}; for a folder with no files yet, give --schema "id string, text string"'
        ) from None
    if not frame.columns:
        raise ConfigError(f"--input {options.input!r} has no files to take a schema from: give --schema")
    return frame.schema


def check_columns(frame: DataFrame, options: ColumnSpec, added: Sequence[str]) -> DataFrame:
    """The named columns exist and have usable types, and none of the columns the output `added`
    to them replaces one; a comma-separated labels string becomes an array."""
    named = [
        ("--text-col", options.text_column),
        ("--id-col", options.id_col),
        ("--labels-col", options.labels_col),
    ]
    for option, column in named + [("--partition-by", column) for column in options.partition_columns]:
        if column:
            require_column(frame.schema, column, option)
    clash = clashing_column(frame.sparkSession, frame.columns, added)
    if clash:
        raise ConfigError(
            f"the output's column {clash[0]!r} would replace the input's column {clash[1]!r} ({CASE_RULE}): "
            "choose another --output-col"
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


def count_input(frame: DataFrame, options: ColumnSpec) -> dict:
    """Rows, records the reader could not parse, and a refusal of ids the run cannot tell
    apart (repeated or null for --incremental, null for --skip-existing), from one scan."""
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
        measures.append(F.countDistinct(F.col(options.id_column).cast("string")).alias("ids"))
    if options.incremental or options.skip_existing:
        measures.append(F.count(F.col(options.id_column)).alias("rows_with_id"))
    counts = frame.agg(*measures).collect()[0].asDict()  # an aggregation: one row
    if options.skip_existing and counts["rows_with_id"] != counts["rows"]:
        raise ConfigError(
            f"--skip-existing tells rows already written by --id-col {options.id_col!r}, but "
            f"{counts['rows'] - counts['rows_with_id']} of {counts['rows']} rows have a null id (they would be "
            "appended again on every run): give them ids, or filter them out"
        )
    if options.incremental and (counts["ids"] != counts["rows"] or counts["rows_with_id"] != counts["rows"]):
        raise ConfigError(
            f"--incremental keeps one row per id, but --id-col {options.id_col!r} has "
            f"{counts['rows'] - counts['ids']} repeated or null value(s) in {counts['rows']} rows: deduplicate first"
        )
    return counts


def mark_corrupt_records(result: DataFrame, frame: DataFrame, options: ColumnSpec) -> DataFrame:
    """Lineage status 'corrupt_record' for the rows the reader could not parse."""
    corrupt = corrupt_record_column(frame, options)
    if not (corrupt and options.lineage_col):
        return result
    meta = F.col(options.lineage_col)
    status = F.when(F.col(corrupt).isNotNull(), F.lit("corrupt_record")).otherwise(meta["status"])
    return result.withColumn(options.lineage_col, meta.withField("status", status))
