"""The classify job: input -> ZeroShotClassifier -> output, with a summary of what happened."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from .. import sinks, sources
from ..engines.results import LONG_TEXT_COUNTERS
from ..errors import ConfigError, MetricsUnavailable, required
from ..runtime.session import is_connect, spark_major
from ..sinks import missing_ids
from ..spark.classifier import ZeroShotClassifier
from ..spark.distilled_model import DistilledClassifierModel
from . import incremental, progress
from .options import ClassifyConfig
from .students import load_student
from .summary import NO_COUNTERS, NUMBER_WIDTH, Line, Summary, label_counts, label_table, number


def check_output_target(sink, options: ClassifyConfig) -> None:
    if options.write_mode == "error" and sink.exists():
        target = (
            f"--output-table {options.output_table!r}"
            if options.output_table
            else f"--output {options.output!r}"
        )
        raise ConfigError(
            f"{target} already exists: pass --mode overwrite or --mode append, --skip-existing, or another name"
        )


def classifier_for(options: ClassifyConfig) -> ZeroShotClassifier:
    labels = {"labelsCol": options.labels_col} if options.labels_col else {"candidateLabels": options.labels}
    lineage = {"lineageCol": options.lineage_col} if options.lineage_col else {}
    return ZeroShotClassifier(
        outputCol=options.output_col,
        hypothesisTemplate=options.template,
        **options.classifier_params(),
        **labels,
        **lineage,
    )


def student_for(spark: SparkSession, options: ClassifyConfig) -> DistilledClassifierModel:
    """The student --student names, reading --text-col and writing as the job does."""
    student = load_student(spark, required(options.student, "--student"), options.defer_below)
    student.setInputCol(options.text_column).setOutputCol(options.output_col)
    return student.setLineageCol(options.lineage_col) if options.lineage_col else student


def run_classify(spark: SparkSession, options: ClassifyConfig) -> "ClassifySummary":
    """Run the job on `spark` and return its summary. Config errors surface before any
    classification starts (reading the input's schema and counting it is the only work
    done before them). The output's lock is held from before it is read until the run is
    recorded: a second run on the same output is refused, never let in."""
    started = time.perf_counter()
    _check_observations(spark)
    sink = sinks.sink_for(spark, options)  # refuses a data source Spark does not have
    check_output_target(sink, options)
    sink.check()
    if options.incremental:
        sink.check_incremental()
    frame = sources.check_columns(sources.read_input(spark, options), options, options.written_columns())
    counts = sources.count_input(frame, options)
    classifier = student_for(spark, options) if options.student else classifier_for(options)
    lineage = classifier.lineage(frame)
    with sink.writer_lock():
        sink.repair()
        reads_output = options.incremental or options.skip_existing
        existing = sink.read() if reads_output and sink.exists() else None
        kept = None
        if options.incremental and existing is not None:
            pending, kept = incremental.split(frame, existing, options, lineage.config_sha256)
        elif options.skip_existing:
            pending = missing_ids(frame, existing, options.id_column)
        else:
            pending = frame
        rows = sources.mark_corrupt_records(classifier.transform(pending), frame, options)
        merges = options.incremental or options.skip_existing
        # where observed counts may not arrive: see _counted
        cached = is_connect(spark) or sink.hides_observations(merges)
        # against an existing output, --skip-existing and --incremental classify an unknown share of the rows
        total = counts["rows"] if pending is frame else None
        produced_by = lineage.run_record(options.as_record())
        with progress.progress_for(spark, options, classifier, total), sink.committing(produced_by):
            with _counted(rows, options, cached) as (result, counts_written):
                if options.incremental:
                    destination = sink.replace(result, kept, frame)
                elif options.skip_existing:
                    destination = sink.append_missing(result)
                else:
                    destination = sink.write(result)
        observed = counts_written()
        summary = _summary(options, classifier, counts, observed, kept is not None, started, destination)
        sink.record_run({**produced_by, "summary": summary.as_dict()})
    return summary


@contextmanager
def _counted(rows: DataFrame, options: ClassifyConfig, cached: bool):
    """`rows` as the sink is to write them, and what returns their counts once written: an
    Observation counts them as they are written, in the same pass. Where observed counts may
    not arrive, `cached`, the rows are classified once into Spark's cache and counted there, and
    the write reads them from the cache: a MERGE into Delta 3, and the create-table-as-select
    of a new Delta 4 metastore table, run their source apart from the query Spark reports
    metrics for (they read 0 or none), and a Spark Connect server can answer a write
    before its observed metrics reach it (a quick write then reported none)."""
    written, classified = (
        F.count(F.lit(1)).alias("written"),
        F.count(F.col(options.output_col)).alias("classified"),
    )
    if not cached:
        observation = Observation("spark_zsc")
        yield rows.observe(observation, written, classified), lambda: observation.get
        return
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = rows.agg(written, classified).collect()[0].asDict()  # an aggregation: one row
        yield rows, lambda: counts
    finally:
        rows.unpersist()


def _check_observations(spark) -> None:
    """The job over Spark Connect is supported from Spark 4, where it is tested; Connect 3.5 lacks
    APIs of Spark 4's (Observation among them), so it is refused before any work."""
    if is_connect(spark) and spark_major(spark) < 4:
        raise ConfigError(
            f"the classify job on Spark Connect needs Spark 4 (Spark Connect {spark.version} cannot "
            "observe the counts of what a job writes): run it on classic Spark (--master), or "
            "classify over Connect with ZeroShotClassifier"
        )


@dataclass(frozen=True)
class ClassifySummary(Summary):
    """What a classify run did. Counters are None where Spark Connect counts nothing."""

    model: str
    strategy: str
    rows_read: int
    corrupt_records: int
    rows_already_written: int
    rows_written: int
    classified: int
    skipped: int
    skipped_by_reason: dict[str, int]
    pairs: Optional[int]
    forward_pairs: Optional[int]  # the pairs the model ran: repeats once
    embedded_texts: Optional[int]  # texts and hypotheses the encoder ran
    below_min_score: Optional[int]
    truncated_rows: Optional[int]
    chunked_rows: Optional[int]
    windows: Optional[int]
    window_capped_rows: Optional[int]
    model_loads: Optional[int]
    deferred: Optional[int]  # a student's rows its teacher scored (--defer-below); 0 without a student
    wall_seconds: float
    rows_per_second: float
    pairs_per_second: Optional[float]
    label_counts: dict[str, int]
    output: str

    def heading(self) -> str:
        return "spark_zsc classify: done"

    def lines(self) -> list[Line]:
        reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in self.skipped_by_reason.items()) or "none"
        return [
            Line("model", self.model),
            Line("rows read", number(self.rows_read)),
            Line("corrupt records", number(self.corrupt_records)),
            Line("already written", number(self.rows_already_written)),
            Line("rows written", number(self.rows_written)),
            Line("classified", number(self.classified)),
            Line("skipped", number(self.skipped), reasons),
            Line("below min score", number(self.below_min_score), "no label: under --min-score"),
            Line("long texts", self._long_texts()),
            Line("wall time", f"{self.wall_seconds:>{NUMBER_WIDTH},.1f} s"),
            Line("rows/s", number(self.rows_per_second, ",.2f")),
            *self._model_work(),
            *(
                [Line("deferred", number(self.deferred), "scored by the teacher: under --defer-below")]
                if self.strategy == "distilled"
                else []
            ),
            Line("model loads", number(self.model_loads)),
            Line("output", self.output),
        ]

    def below(self) -> list[str]:
        return label_table(self.label_counts, self.classified)

    def _long_texts(self) -> str:
        """What happened to texts longer than the model reads."""
        if self.truncated_rows is None:
            return NO_COUNTERS
        if self.chunked_rows:
            capped = self.window_capped_rows
            return f"{self.chunked_rows:,} read in {self.windows:,} windows" + (
                f", {capped:,} longer than --max-windows (their ends unread)" if capped else ""
            )
        return f"{self.truncated_rows:,} truncated to the model's limit (--long-text chunk reads them whole)"

    def _model_work(self) -> list[Line]:
        """What the strategy ran: NLI pairs (a shortlist's encoder runs too), or the texts and
        hypotheses the embedding strategy encoded, which runs no pairs."""
        if self.strategy in ("embedding", "distilled"):  # a student runs its encoder alone
            encoded = self.embedded_texts
            per_second = round(encoded / self.wall_seconds, 2) if encoded is not None else None
            return [
                Line("texts encoded", number(encoded), "texts and hypotheses, each once per worker"),
                Line("encoded/s", number(per_second, ",.2f")),
            ]
        asked = (
            "of the pairs asked"
            if self.pairs is None
            else f"of {self.pairs:,} asked: a repeated text is scored once; --dedupe input finds repeats anywhere"
        )
        return [
            Line("pairs run", number(self.forward_pairs), asked),
            Line("pairs/s", number(self.pairs_per_second, ",.2f")),
        ]


def _summary(
    options: ClassifyConfig,
    classifier: ZeroShotClassifier | DistilledClassifierModel,
    counts: dict,
    observed: dict,
    merged: bool,
    started: float,
    destination: str,
) -> ClassifySummary:
    try:
        metrics = classifier.metrics()
    except MetricsUnavailable:  # Spark Connect: what the observation saw is all there is
        metrics = {"top_labels": {}}
    reasons = {k[len("skipped_") :]: v for k, v in metrics.items() if k.startswith("skipped_") and v}
    if counts["corrupt_records"]:  # the reader's unparsable records reach the model as null text
        reasons["corrupt_record"] = counts["corrupt_records_without_text"]
        reasons["null_text"] = reasons.get("null_text", 0) - counts["corrupt_records_without_text"]
        reasons = {k: v for k, v in reasons.items() if v}
    wall = time.perf_counter() - started
    pending_run = options.skip_existing or merged
    pairs = metrics.get("pairs")
    return ClassifySummary(
        model=options.models_description,
        strategy="distilled" if options.student else options.strategy,
        rows_read=counts["rows"],
        corrupt_records=counts["corrupt_records"],
        rows_already_written=counts["rows"] - observed["written"] if pending_run else 0,
        rows_written=observed["written"],
        classified=observed["classified"],
        skipped=observed["written"] - observed["classified"],
        skipped_by_reason=reasons,
        pairs=pairs,
        forward_pairs=metrics.get("forward_pairs"),
        embedded_texts=metrics.get("embedded_texts"),
        **{name: metrics.get(name) for name in ("below_min_score", *LONG_TEXT_COUNTERS)},
        model_loads=metrics.get("model_loads"),
        deferred=metrics.get("deferred", 0),
        wall_seconds=round(wall, 2),
        rows_per_second=round(observed["written"] / wall, 2),
        pairs_per_second=round(pairs / wall, 2) if pairs is not None else None,
        label_counts=label_counts(metrics["top_labels"]),
        output=destination,
    )
