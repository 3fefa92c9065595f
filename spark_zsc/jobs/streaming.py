"""`classify --stream`: enrichment with Structured Streaming, Spark's checkpoint tracking what
was done (the Auto Loader pattern: each run takes exactly what arrived since the last).

The input is read as a stream: a folder of files (the schema taken from the files there, or
`--schema`) or a table (`readStream.table`). Each micro-batch goes through the same
ZeroShotClassifier as a batch job; the model is loaded once per Python worker and kept across
micro-batches (the summary counts the loads). The trigger is `availableNow` (take what is
there, in as many batches as the source's limits make, then stop) unless
`--trigger-interval` keeps the job running.

Sinks, each writing every row exactly once even when a run is killed and started again:

- `--output PATH`: Spark's file sink; its `_spark_metadata` log holds the committed batches,
  and Spark's readers of the folder read only those.
- `--output-table` (parquet, orc or json tables; Delta): `foreachBatch` with a write keyed on
  the batch id. A retried batch first removes what an earlier attempt of the same batch left:
  its files are staged under the checkpoint, then moved into the table's folder under names
  made of the batch id (`spark-zsc-batch-<id>-<n>`), so a second attempt replaces the first
  instead of adding to it. Delta tables take Delta's own idempotent writes (`txnAppId`,
  `txnVersion`).
"""

from __future__ import annotations

import hashlib
import time

from pyspark.errors import AnalysisException, UnsupportedOperationException
from pyspark.sql import DataFrame, SparkSession

from ..errors import ConfigError, MetricsUnavailable
from ..runtime.distribution import is_connect
from . import progress, storage
from .classify import classifier_for, counter_text, label_counts
from .options import JobOptions

BATCH_FILE = "spark-zsc-batch-{batch:012d}-"  # a table file's name starts with its batch
STREAM_TABLE_FORMATS = ("parquet", "orc", "json", "delta")  # folders of files we can name, or Delta


def read_stream(spark: SparkSession, options: JobOptions) -> DataFrame:
    """The input as a streaming DataFrame."""
    if options.input_table:
        if not spark.catalog.tableExists(options.input_table):
            raise ConfigError(f"--input-table {options.input_table!r} does not exist in the metastore")
        return spark.readStream.options(**options.reader_options).table(options.input_table)
    storage.check_data_source(spark, options.input_format, "--input-format")
    schema = options.schema or _schema_of_files(spark, options)
    return storage.read_files(
        spark.readStream.schema(schema),
        options.input,
        options.input_format,
        options.csv_column_names,
        options.reader_options,
    )


def _schema_of_files(spark: SparkSession, options: JobOptions):
    try:
        frame = storage.read_input(spark, options)
    except ConfigError as error:
        raise ConfigError(
            f'{error}; for a folder with no files yet, give --schema "id string, text string"'
        ) from None
    if not frame.columns:
        raise ConfigError(f"--input {options.input!r} has no files to take a schema from: give --schema")
    return frame.schema


def _checkpoint_id(options: JobOptions) -> str:
    return hashlib.sha256(options.checkpoint.rstrip("/").encode()).hexdigest()[:16]


class TableBatches:
    """`foreachBatch` for a table: each batch written once, however often it is retried."""

    def __init__(self, spark: SparkSession, options: JobOptions, provider: str):
        self.table, self.provider, self.options = options.output_table, provider, options
        self.staging = options.checkpoint.rstrip("/") + "/spark_zsc_staging"
        self.location = storage.describe_table(spark, self.table).get("Location")

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        writer = batch.write.options(**self.options.writer_options)
        if self.provider == "delta":  # Delta skips a (txnAppId, txnVersion) it has committed
            writer.format("delta").mode("append").option("txnAppId", _checkpoint_id(self.options)).option(
                "txnVersion", batch_id
            ).saveAsTable(self.table)
            return
        spark = batch.sparkSession
        staged = f"{self.staging}/{batch_id}"
        writer.format(self.provider).mode("overwrite").save(staged)
        fs, staged_path = storage.hadoop_fs(spark, staged)
        Path = spark._jvm.org.apache.hadoop.fs.Path
        prefix = BATCH_FILE.format(batch=batch_id)
        table_folder = Path(self.location)
        for earlier in fs.globStatus(Path(table_folder, prefix + "*")) or []:  # an earlier attempt's
            fs.delete(earlier.getPath(), False)
        parts = sorted(
            str(s.getPath().getName())
            for s in fs.listStatus(staged_path)
            if s.getPath().getName().startswith("part-")
        )
        for n, name in enumerate(parts):
            suffix = name[name.index(".") :] if "." in name else ""
            if not fs.rename(Path(staged_path, name), Path(table_folder, f"{prefix}{n:05d}{suffix}")):
                raise RuntimeError(f"could not move {staged}/{name} into {self.location}")
        fs.delete(staged_path, True)
        spark.catalog.refreshTable(self.table)


def _table_sink(spark: SparkSession, options: JobOptions, result: DataFrame) -> TableBatches:
    """The table a stream writes to, created empty with the result's columns when missing;
    an existing one must be one of STREAM_TABLE_FORMATS, unpartitioned, with the same columns."""
    if is_connect(spark):
        raise ConfigError(
            "--stream into --output-table needs classic Spark; on Spark Connect stream to --output PATH"
        )
    table = options.output_table
    provider = storage.output_format(spark, options)  # an existing table's own, else as a batch job picks
    if provider not in STREAM_TABLE_FORMATS:
        raise ConfigError(
            f"--output-table {table!r} is written as {provider}, which a stream cannot write exactly once here: "
            f"stream into a {', '.join(STREAM_TABLE_FORMATS)} table (a new one: --output-format parquet), or to "
            "--output PATH"
        )
    if not spark.catalog.tableExists(table):
        spark.createDataFrame([], result.schema).write.format(provider).saveAsTable(table)
        return TableBatches(spark, options, provider)
    if any(c.isPartition for c in spark.catalog.listColumns(table)):
        raise ConfigError(
            f"--output-table {table!r} is partitioned: a stream writes unpartitioned tables here, or --output PATH"
        )
    existing = [(f.name, f.dataType) for f in spark.table(table).schema]
    if existing != [(f.name, f.dataType) for f in result.schema]:
        raise ConfigError(
            f"--output-table {table!r} has columns ({', '.join(n for n, _ in existing)}), not the stream's "
            f"({', '.join(result.columns)}): write to a new table"
        )
    return TableBatches(spark, options, provider)


def _trigger(options: JobOptions) -> dict:
    return (
        {"processingTime": options.trigger_interval} if options.trigger_interval else {"availableNow": True}
    )


def run_stream(spark: SparkSession, options: JobOptions) -> dict:
    """Start the stream, wait for it (availableNow: until what was there is written), and
    return its summary. Config errors surface before the query starts."""
    started = time.perf_counter()
    frame = storage.check_columns(read_stream(spark, options), options)
    classifier = classifier_for(options)
    result = classifier.transform(frame)
    if options.output_table:
        sink = _table_sink(spark, options, result)
        writer = result.writeStream.foreachBatch(sink)
        destination = f"table {options.output_table} ({sink.provider})"
    else:
        file_format = storage.output_format(spark, options)
        if file_format == "csv":
            result = storage.flatten_for_csv(result, options.output_col, options.lineage_col)
        writer = result.writeStream.format(file_format).option("path", options.output)
        if file_format == "csv":
            writer = writer.option("header", True).option("escape", '"')
        writer = writer.options(**options.writer_options)
        destination = f"{file_format} {options.output}"
    try:
        query = (
            writer.option("checkpointLocation", options.checkpoint)
            .queryName(f"spark_zsc_{_checkpoint_id(options)}")
            .trigger(**_trigger(options))
            .outputMode("append")
            .start()
        )
    except (AnalysisException, UnsupportedOperationException) as error:  # a sink or source that cannot stream
        raise ConfigError(f"this stream cannot start: {error}") from None
    with progress.progress_for(spark, options, classifier, None):
        query.awaitTermination()
    summary = _summary(options, classifier, query.recentProgress, started, destination)
    lineage = classifier.lineage(frame)
    record = {
        "config_sha256": lineage.config_sha256,
        "config": lineage.config,
        "options": options.as_record(),
    }
    storage.record_run(spark, options, {**record, "summary": summary})
    return summary


def _summary(options: JobOptions, classifier, progress_reports, started: float, destination: str) -> dict:
    try:
        metrics = classifier.metrics()
    except MetricsUnavailable:
        metrics = {}
    rows = sum(p.numInputRows for p in progress_reports)
    wall = time.perf_counter() - started
    return {
        "model": options.models_description,
        "stream": True,
        "trigger": options.trigger_interval or "availableNow",
        "checkpoint": options.checkpoint,
        "batches": len({p.batchId for p in progress_reports if p.numInputRows}),
        "rows_written": rows,
        "classified": metrics.get("classified"),
        "pairs": metrics.get("pairs"),
        "model_loads": metrics.get("model_loads"),
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(rows / wall, 2),
        "label_counts": label_counts(metrics.get("top_labels", {})),
        "output": destination,
    }


def format_stream_summary(summary: dict) -> str:
    lines = [
        "spark_zsc classify --stream: done",
        f"  model             {summary['model']}",
        f"  trigger           {summary['trigger']}   (checkpoint {summary['checkpoint']})",
        f"  batches           {summary['batches']:>12,}",
        f"  rows written      {summary['rows_written']:>12,}",
        f"  classified        {counter_text(summary['classified'], 'd')}",
        f"  model loads       {counter_text(summary['model_loads'], 'd')}   (per Python worker, kept across batches)",
        f"  wall time         {summary['wall_seconds']:>12,.1f} s",
        f"  output            {summary['output']}",
    ]
    return "\n".join(lines)
