"""The classify job: input -> ZeroShotClassifier -> output, with a summary of what happened."""

from __future__ import annotations

import time
from contextlib import contextmanager

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from .. import sinks, sources
from ..engines.results import LONG_TEXT_COUNTERS
from ..errors import ConfigError, MetricsUnavailable
from ..runtime.session import is_connect, spark_major
from ..sinks.base import missing_ids
from ..spark.classifier import ZeroShotClassifier
from . import incremental, progress
from .options import ClassifyConfig


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


def run_classify(spark: SparkSession, options: ClassifyConfig) -> dict:
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
    frame = sources.check_columns(sources.read_input(spark, options), options)
    counts = sources.count_input(frame, options)
    classifier = classifier_for(options)
    lineage = classifier.lineage(frame)
    with sink.writer_lock():
        sink.repair()
        reads_output = options.incremental or options.skip_existing
        existing = sink.read() if reads_output and sink.exists() else None
        kept = None
        if options.incremental and existing is not None:
            pending, kept = incremental.split(frame, existing, options, lineage.config_sha256)
        elif options.skip_existing:
            pending = missing_ids(frame, existing, options)
        else:
            pending = frame
        rows = sources.mark_corrupt_records(classifier.transform(pending), frame, options)
        merges = options.incremental or options.skip_existing
        # where observed counts may not arrive: see _counted
        cached = is_connect(spark) or (merges and sink.merge_hides_observations)
        # against an existing output, --skip-existing and --incremental classify an unknown share of the rows
        total = counts["rows"] if pending is frame else None
        with progress.progress_for(spark, options, classifier, total):
            with _counted(rows, options, cached) as (result, counts_written):
                if options.incremental:
                    destination = sink.replace(result, kept, frame)
                elif options.skip_existing:
                    destination = sink.append_missing(result)
                else:
                    destination = sink.write(result)
        observed = counts_written()
        summary = _summary(options, classifier, counts, observed, kept is not None, started, destination)
        sink.record_run(
            {
                "config_sha256": lineage.config_sha256,
                "config": lineage.config,
                "options": options.as_record(),
                "summary": summary,
            }
        )
    return summary


@contextmanager
def _counted(rows: DataFrame, options: ClassifyConfig, cached: bool):
    """`rows` as the sink is to write them, and what returns their counts once written: an
    Observation counts them as they are written, in the same pass. Where observed counts may
    not arrive, `cached`, the rows are classified once into Spark's cache and counted there, and
    the write reads them from the cache: a MERGE into Delta 3 runs its source apart from the
    query Spark reports metrics for (they read 0), and a Spark Connect server can answer a write
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
        counts = rows.agg(written, classified).first().asDict()
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


def _summary(
    options, classifier, counts: dict, observed: dict, merged: bool, started: float, destination: str
):
    try:
        metrics = classifier.metrics()
    except MetricsUnavailable:  # Spark Connect: what the observation saw is all there is
        metrics = {"pairs": None, "model_loads": None, "top_labels": {}}  # the rest: None below
    reasons = {k[len("skipped_") :]: v for k, v in metrics.items() if k.startswith("skipped_") and v}
    if counts["corrupt_records"]:  # the reader's unparsable records reach the model as null text
        reasons["corrupt_record"] = counts["corrupt_records_without_text"]
        reasons["null_text"] = reasons.get("null_text", 0) - counts["corrupt_records_without_text"]
        reasons = {k: v for k, v in reasons.items() if v}
    wall = time.perf_counter() - started
    pending_run = options.skip_existing or merged
    return {
        "model": options.models_description,
        "strategy": options.strategy,
        "rows_read": counts["rows"],
        "corrupt_records": counts["corrupt_records"],
        "rows_already_written": counts["rows"] - observed["written"] if pending_run else 0,
        "rows_written": observed["written"],
        "classified": observed["classified"],
        "skipped": observed["written"] - observed["classified"],
        "skipped_by_reason": reasons,
        "pairs": metrics["pairs"],
        "forward_pairs": metrics.get("forward_pairs"),  # the pairs the model ran: repeats once
        "embedded_texts": metrics.get("embedded_texts"),  # texts and hypotheses the encoder ran
        **{name: metrics.get(name) for name in ROW_COUNTERS},
        "model_loads": metrics["model_loads"],
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(observed["written"] / wall, 2),
        "pairs_per_second": round(metrics["pairs"] / wall, 2) if metrics["pairs"] is not None else None,
        "label_counts": label_counts(metrics["top_labels"]),
        "output": destination,
    }


# counters of the engines' row-level decisions, in the summary as they are
ROW_COUNTERS = ("below_min_score", *LONG_TEXT_COUNTERS)


def label_counts(top_labels: dict) -> dict:
    """Rows per top label, most frequent first."""
    return dict(sorted(top_labels.items(), key=lambda kv: -kv[1]))


def counter_text(value, spec: str) -> str:
    """A counter right-aligned for a summary, or why there is none (Spark Connect)."""
    return f"{value:>12,{spec}}" if value is not None else f"{'n/a (Spark Connect has no accumulators)':>12}"


def _long_texts(summary: dict) -> str:
    """What happened to texts longer than the model reads."""
    if summary["truncated_rows"] is None:
        return "n/a (Spark Connect has no accumulators)"
    if summary["chunked_rows"]:
        capped = summary["window_capped_rows"]
        return f"{summary['chunked_rows']:,} read in {summary['windows']:,} windows" + (
            f", {capped:,} longer than --max-windows (their ends unread)" if capped else ""
        )
    return (
        f"{summary['truncated_rows']:,} truncated to the model's limit (--long-text chunk reads them whole)"
    )


def _pairs_asked(summary: dict) -> str:
    """The pairs the rows asked for, beside the ones the model ran."""
    if summary["pairs"] is None:
        return "of the pairs asked"
    return f"of {summary['pairs']:,} asked: a repeated text is scored once; --dedupe input finds repeats anywhere"


def _model_work(summary: dict) -> list[str]:
    """What the strategy ran: NLI pairs (a shortlist's encoder runs too), or the texts and
    hypotheses the embedding strategy encoded, which runs no pairs."""
    if summary["strategy"] == "embedding":
        encoded = summary["embedded_texts"]
        per_second = round(encoded / summary["wall_seconds"], 2) if encoded is not None else None
        return [
            f"  texts encoded     {counter_text(encoded, 'd')}   (texts and hypotheses, each once per worker)",
            f"  encoded/s         {counter_text(per_second, '.2f')}",
        ]
    return [
        f"  pairs run         {counter_text(summary['forward_pairs'], 'd')}   ({_pairs_asked(summary)})",
        f"  pairs/s           {counter_text(summary['pairs_per_second'], '.2f')}",
    ]


def format_summary(summary: dict, top: int = 15) -> str:
    reasons = (
        ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in summary["skipped_by_reason"].items()) or "none"
    )
    lines = [
        "spark_zsc classify: done",
        f"  model             {summary['model']}",
        f"  rows read         {summary['rows_read']:>12,}",
        f"  corrupt records   {summary['corrupt_records']:>12,}",
        f"  already written   {summary['rows_already_written']:>12,}",
        f"  rows written      {summary['rows_written']:>12,}",
        f"  classified        {summary['classified']:>12,}",
        f"  skipped           {summary['skipped']:>12,}   ({reasons})",
        f"  below min score   {counter_text(summary['below_min_score'], 'd')}   (no label: under --min-score)",
        f"  long texts        {_long_texts(summary)}",
        f"  wall time         {summary['wall_seconds']:>12,.1f} s",
        f"  rows/s            {summary['rows_per_second']:>12,.2f}",
        *_model_work(summary),
        f"  model loads       {counter_text(summary['model_loads'], 'd')}",
        f"  output            {summary['output']}",
        "  top labels:",
    ]
    total = max(summary["classified"], 1)
    counts = list(summary["label_counts"].items())
    width = max([len(label) for label, _ in counts[:top]] + [5])
    for label, count in counts[:top]:
        lines.append(f"    {label:<{width}}  {count:>10,}  {100 * count / total:5.1f}%")
    if len(counts) > top:
        lines.append(f"    ... and {len(counts) - top} more labels")
    return "\n".join(lines)
