"""`classify --stream`: enrichment with Structured Streaming, Spark's checkpoint tracking what
was done (the Auto Loader pattern: each run takes exactly what arrived since the last).

The input is read as a stream: a folder of files (the schema taken from the files there, or
`--schema`) or a table (`readStream.table`). Each micro-batch goes through the same
ZeroShotClassifier as a batch job; the model is loaded once per Python worker and kept across
micro-batches (the summary counts the loads). The trigger is `availableNow` (take what is
there, in as many batches as the source's limits make, then stop) unless
`--trigger-interval` keeps the job running.

Each sink writes every micro-batch exactly once, even when a run is killed and started again
(`spark_zsc.sinks`): Spark's file sink for `--output PATH`, Delta's and Iceberg's own streaming
sinks for their tables, and for tables of files a `foreachBatch` whose files are named by the
stream's query id and batch id (`sinks/streams.py`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Optional

from pyspark.errors import AnalysisException, UnsupportedOperationException
from pyspark.sql import SparkSession

from .. import sinks, sources
from ..errors import ConfigError, MetricsUnavailable
from . import progress
from .classify import classifier_for
from .options import ClassifyConfig
from .summary import NUMBER_WIDTH, Line, Summary, label_counts, number


def _checkpoint_id(options: ClassifyConfig) -> str:
    return hashlib.sha256(options.checkpoint_folder.rstrip("/").encode()).hexdigest()[:16]


def _trigger(options: ClassifyConfig) -> dict:
    return (
        {"processingTime": options.trigger_interval} if options.trigger_interval else {"availableNow": True}
    )


def run_stream(spark: SparkSession, options: ClassifyConfig) -> "StreamSummary":
    """Start the stream, wait for it (availableNow: until what was there is written), and
    return its summary. Config errors surface before the query starts."""
    started = time.perf_counter()
    frame = sources.check_columns(sources.read_stream(spark, options), options, options.written_columns())
    classifier = classifier_for(options)
    result = classifier.transform(frame)
    sink = sinks.sink_for(spark, options)
    writer = sink.stream_writer(result)
    try:
        query = sink.start_stream(
            writer.option("checkpointLocation", options.checkpoint)
            .queryName(f"spark_zsc_{_checkpoint_id(options)}")
            .trigger(**_trigger(options))
            .outputMode("append")
        )
    except (AnalysisException, UnsupportedOperationException) as error:  # a sink or source that cannot stream
        raise ConfigError(f"this stream cannot start: {error}") from None
    with progress.progress_for(spark, options, classifier, None):
        query.awaitTermination()
    summary = _summary(options, classifier, query.recentProgress, started, sink.describe())
    lineage = classifier.lineage(frame)
    sink.record_run({**lineage.run_record(options.as_record()), "summary": summary.as_dict()})
    return summary


@dataclass(frozen=True)
class StreamSummary(Summary):
    """What a stream run did: the micro-batches it wrote. Counters are None on Spark Connect."""

    model: str
    stream: bool  # as classify --stream's record says it
    trigger: str
    checkpoint: str
    batches: int
    rows_written: int
    classified: Optional[int]
    pairs: Optional[int]
    model_loads: Optional[int]
    wall_seconds: float
    rows_per_second: float
    label_counts: dict[str, int]
    output: str

    def heading(self) -> str:
        return "spark_zsc classify --stream: done"

    def lines(self) -> list[Line]:
        return [
            Line("model", self.model),
            Line("trigger", self.trigger, f"checkpoint {self.checkpoint}"),
            Line("batches", number(self.batches)),
            Line("rows written", number(self.rows_written)),
            Line("classified", number(self.classified)),
            Line("model loads", number(self.model_loads), "per Python worker, kept across batches"),
            Line("wall time", f"{self.wall_seconds:>{NUMBER_WIDTH},.1f} s"),
            Line("output", self.output),
        ]


def _summary(
    options: ClassifyConfig, classifier, progress_reports, started: float, destination: str
) -> StreamSummary:
    try:
        metrics = classifier.metrics()
    except MetricsUnavailable:
        metrics = {}
    # Spark 4 reports each batch's progress as an object, Spark 3.5 as a dict of its JSON
    progress_reports = [
        p if isinstance(p, dict) else {"batchId": p.batchId, "numInputRows": p.numInputRows}
        for p in progress_reports
    ]
    rows = sum(p["numInputRows"] for p in progress_reports)
    wall = time.perf_counter() - started
    return StreamSummary(
        model=options.models_description,
        stream=True,
        trigger=options.trigger_interval or "availableNow",
        checkpoint=options.checkpoint_folder,
        batches=len({p["batchId"] for p in progress_reports if p["numInputRows"]}),
        rows_written=rows,
        classified=metrics.get("classified"),
        pairs=metrics.get("pairs"),
        model_loads=metrics.get("model_loads"),
        wall_seconds=round(wall, 2),
        rows_per_second=round(rows / wall, 2),
        label_counts=label_counts(metrics.get("top_labels", {})),
        output=destination,
    )
