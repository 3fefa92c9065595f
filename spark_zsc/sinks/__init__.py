"""Where the classify job writes: one sink per kind of output, each owning its write, append,
incremental replace, stream and run record, and stating what it guarantees on a crash, on a
retried batch and with a concurrent writer.

    files.py    --output PATH in a file format (local disk or any Hadoop file system)
    tables.py   --output-table of files (parquet, orc, json, csv, Hive format)
    delta.py    Delta tables and paths;  iceberg.py  Iceberg tables (merging.py: what they share)
    streams.py  a stream's micro-batches into a table of files;  locks.py  one writer per output
    run_records.py  each run's record beside its output (file operations: ../paths.py)
"""

from __future__ import annotations

from ..errors import ConfigError
from ..formats import check_data_source
from ..paths import files_for
from .base import CHANGED, Sink, missing_ids
from .delta import DeltaSink, is_delta_folder
from .files import FileSink, csv_columns
from .iceberg import IcebergSink
from .spec import OutputSpec
from .tables import TableSink, table_provider

__all__ = ["CHANGED", "OutputSpec", "Sink", "missing_ids", "output_format", "sink_for", "written_columns"]

MERGING = {"delta": DeltaSink, "iceberg": IcebergSink}


def output_format(spark, options: OutputSpec) -> str:
    """What the output is written as: an existing table's own format; else --output-format;
    else parquet for files and the session's default source for a new table."""
    if options.output_table and spark.catalog.tableExists(options.output_table):
        return table_provider(spark, options.output_table)
    if options.output_format:
        check_data_source(spark, options.output_format, "--output-format")
    if options.output_table:
        return options.output_format or spark.conf.get("spark.sql.sources.default", "parquet")
    files = files_for(spark, options.output_path)
    if not options.output_format and files is not None and is_delta_folder(files, options.output_path):
        return "delta"  # a Delta path stays Delta
    return options.file_format


def sink_for(spark, options: OutputSpec) -> Sink:
    """The sink of the job's output (refuses a data source Spark does not have)."""
    if not (options.output or options.output_table):
        raise ConfigError("give exactly one of --output PATH or --output-table NAME")
    file_format = output_format(spark, options)
    if file_format in MERGING:
        return MERGING[file_format](spark, options)
    if options.output_table:
        return TableSink(spark, options, file_format)
    return FileSink(spark, options, file_format)


def written_columns(options: OutputSpec, selected: bool) -> list[str]:
    """The columns the output adds to the input's: the result and its lineage, or, for a CSV
    output, the flat columns they become (`selected`: the result has a `selected` field)."""
    if options.output_format == "csv":
        return csv_columns(options.output_col, options.lineage_col, selected)
    return [options.output_col] + ([options.lineage_col] if options.lineage_col else [])
