"""The evaluate job: each (label set, template) run classifies the same gold-labelled rows on
Spark, reduces them to metric cells there, and the report is written on the driver."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType

from ...engines.results import LONG_TEXT_COUNTERS
from ...errors import ConfigError, MetricsUnavailable, required
from ...log import log
from ...runtime.session import is_connect
from ...sources import read_input
from ...spark.classifier import ZeroShotClassifier
from ...spark.columns import require_column, require_string_column
from ..students import load_student
from ..summary import NUMBER_WIDTH, Line, Summary, number
from .metrics import CURVE_BINS, Cell, LabelCell, metrics_from_cells, multi_label_metrics, threshold_for
from .options import EvaluateConfig
from .report import wording_name as _wording_name
from .report import write_report

_GOLD, _TEXT, _RESULT = "__gold_class", "__text", "__zsc"
_SHOWN_UNMAPPED = 20
_SET_PER_RUN = ("labelDescriptions", "minScore", "otherLabel")  # each run's wording; thresholds come after
MULTI_LABEL_THRESHOLD = 0.5  # multi-label gold without --min-score: a class is predicted at 0.5


def _lookup(mapping: dict, key):
    return F.create_map(*[F.lit(x) for pair in mapping.items() for x in pair])[key]


def _gold_rows(spark: SparkSession, options: EvaluateConfig) -> tuple[DataFrame, int, bool]:
    """The rows to evaluate (text, gold class index, or for multi-label gold an array of
    them), cached by the first run, the count of rows without a gold value, and whether the
    gold is multi-label. Every check here runs before any model does."""
    frame = read_input(spark, options)
    require_string_column(frame.schema, options.text_column, "--text-col")
    require_column(frame.schema, options.gold_column, "--gold-col")
    multi_label_gold = isinstance(frame.schema[options.gold_column].dataType, ArrayType)
    if multi_label_gold and not options.multi_label:
        raise ConfigError(
            f"--gold-col {options.gold_column!r} holds several classes per row: add --multi-label, which scores "
            "each class on its own"
        )
    mapping = options.gold_to_class

    def value(column):  # a gold value as the mapping reads it; blank: none
        return F.nullif(F.trim(column.cast("string")), F.lit(""))

    gold_column = F.col(options.gold_column)
    values = frame.select((F.explode_outer(gold_column) if multi_label_gold else gold_column).alias("value"))
    unmapped_values = (
        values.select(value(F.col("value")).alias("value"))
        .where(F.col("value").isNotNull() & _lookup(mapping, F.col("value")).isNull())
        .distinct()
    )
    unmapped = sorted(r.value for r in unmapped_values.limit(_SHOWN_UNMAPPED + 1).collect())
    if unmapped:
        shown = ", ".join(repr(v) for v in unmapped[:_SHOWN_UNMAPPED])
        count = f"{len(unmapped)}" if len(unmapped) <= _SHOWN_UNMAPPED else f"more than {_SHOWN_UNMAPPED}"
        raise ConfigError(
            f"{count} gold value(s) of --gold-col {options.gold_column!r} have no label: {shown}. Map each to a label "
            f'with --gold-map "value=label,..." (labels: {", ".join(options.classes)}), or filter those rows out first'
        )
    if multi_label_gold:  # class indices of the row's gold values; an empty array is no gold value
        gold = F.array_distinct(
            F.filter(F.transform(gold_column, lambda v: _lookup(mapping, value(v))), lambda i: i.isNotNull())
        )
        gold = F.when(F.size(gold) > 0, gold)
    else:
        gold = _lookup(mapping, value(gold_column))
    counts = frame.agg(F.count(F.lit(1)).alias("rows"), F.count(gold).alias("labelled")).collect()[
        0
    ]  # one scan
    if counts.labelled == 0:
        raise ConfigError(
            f"the evaluation set is empty: no row of the input has a value in --gold-col {options.gold_column!r}"
        )
    labelled = frame.where(gold.isNotNull())
    if options.limit:
        labelled = labelled.limit(options.limit)
    rows = labelled.select(F.col(options.text_column).alias(_TEXT), gold.alias(_GOLD))
    if not is_connect(spark):  # spread a small single-file input over every core
        rows = rows.repartition(spark.sparkContext.defaultParallelism)
    return rows.cache(), counts.rows - counts.labelled, multi_label_gold


def _score_bin(score):
    return F.least(F.floor(score * CURVE_BINS), F.lit(CURVE_BINS - 1)).cast("int")


def _student(spark: SparkSession, options: EvaluateConfig):
    """The student --student names, reading and writing the run's columns; its labels must be
    the classes --labels names, in their order (they name the gold's classes)."""
    student = load_student(spark, required(options.student, "--student"), options.defer_below)
    student.setInputCol(_TEXT).setOutputCol(_RESULT)
    if list(student.labels) != options.classes:
        raise ConfigError(
            f"--student answers with {', '.join(student.labels)}: give those as --labels, in that order "
            f"(--gold-map maps gold values to them), not {', '.join(options.classes)}"
        )
    return student


def _run(
    rows: DataFrame,
    options: EvaluateConfig,
    wording: tuple,
    template: str,
    multi_label_gold: bool,
    student=None,
) -> dict:
    labels, descriptions = wording
    params = {k: v for k, v in options.classifier_params().items() if k not in _SET_PER_RUN}
    classifier = student or ZeroShotClassifier(
        candidateLabels=labels,
        hypothesisTemplate=template,
        outputCol=_RESULT,
        **({"labelDescriptions": descriptions} if descriptions else {}),
        **{**params, "inputCol": _TEXT},
    )
    classified = classifier.transform(rows)
    run = {"labels": labels, "descriptions": descriptions, "template": template}
    if multi_label_gold:
        return {
            **run,
            **_multi_label_run(classified, options, labels, int(rows.count())),
            **_long_texts(classifier),
        }
    result = F.col(_RESULT)
    cells = (
        classified.select(
            F.col(_GOLD).alias("gold"),
            _lookup({label: i for i, label in enumerate(labels)}, result["label"]).alias("predicted"),
            _score_bin(result["score"]).alias("bin"),
            result["score"].alias("score"),
        )
        .groupBy("gold", "predicted", "bin")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("score").alias("score_sum"))
        .collect()
    )
    metrics = metrics_from_cells(
        options.classes, [Cell(c.gold, c.predicted, c.bin, c.rows, c.score_sum or 0.0) for c in cells]
    )
    return {**run, **metrics, **_thresholds(metrics["coverage"], options), **_long_texts(classifier)}


def _long_texts(classifier: ZeroShotClassifier) -> dict:
    """How the run read texts longer than the model: rows truncated, or chunked and in how
    many windows (None on Spark Connect, which has no accumulators)."""
    try:
        metrics = classifier.metrics()
    except MetricsUnavailable:
        return {"long_texts": None}
    return {"long_texts": {name: metrics[name] for name in LONG_TEXT_COUNTERS}}


def _multi_label_run(classified: DataFrame, options: EvaluateConfig, labels: list[str], rows: int) -> dict:
    """Each (row, class) a decision: Spark reduces them to (class, in the gold, score bin) cells.
    A row that could not be classified scores 0 for every class."""
    result = F.col(_RESULT)
    class_of = {label: i for i, label in enumerate(labels)}
    decision = F.explode(
        F.arrays_zip(
            F.coalesce(result["labels"], F.array(*map(F.lit, labels))).alias("label"),
            F.coalesce(result["scores"], F.array(*[F.lit(0.0)] * len(labels))).alias("score"),
        )
    )
    scored = (
        classified.select(F.col(_GOLD).alias("gold"), decision.alias("decision"))
        .withColumn("label", _lookup(class_of, F.col("decision.label")))
        .select(
            "label",
            F.array_contains("gold", F.col("label")).alias("in_gold"),
            _score_bin(F.col("decision.score")).alias("bin"),
            F.col("decision.score").alias("score"),
        )
    )
    cells = (
        scored.groupBy("label", "in_gold", "bin")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("score").alias("score_sum"))
        .collect()
    )
    threshold = options.min_score if options.min_score is not None else MULTI_LABEL_THRESHOLD
    metrics = multi_label_metrics(
        options.classes,
        [LabelCell(c.label, c.in_gold, c.bin, c.rows, c.score_sum or 0.0) for c in cells],
        rows,
        threshold,
    )
    return {**metrics, **_thresholds(metrics["coverage"], options)}


def _thresholds(curve: list[dict], options: EvaluateConfig) -> dict:
    """Where the coverage curve reaches --target-precision, and where it is at --min-score."""
    at_min_score = None
    if options.min_score is not None:
        at_min_score = curve[min(round(options.min_score * CURVE_BINS), CURVE_BINS - 1)]
    return {
        "target_precision": options.target_precision,
        "at_target": threshold_for(curve, options.target_precision),
        "at_min_score": at_min_score,
    }


def run_evaluate(spark: SparkSession, options: EvaluateConfig) -> "EvaluateSummary":
    started = time.perf_counter()
    student = _student(spark, options) if options.student else None
    rows, without_gold, multi_label_gold = _gold_rows(spark, options)
    runs = []
    try:
        for wording in options.wordings:
            for template in options.templates:
                runs.append(_run(rows, options, wording, template, multi_label_gold, student))
                log.info(
                    "evaluated %s with %r: accuracy %.4f",
                    _wording_name(runs[-1]),
                    template,
                    runs[-1]["accuracy"],
                )
    finally:
        rows.unpersist()
    best = max(range(len(runs)), key=lambda i: runs[i]["macro_f1" if multi_label_gold else "accuracy"] or 0)
    measured = dict(
        model=options.models_description,
        strategy="distilled" if options.student else options.strategy,
        multi_label=options.multi_label,
        multi_label_gold=multi_label_gold,
        classes=options.classes,
        rows=runs[0]["rows"],
        rows_without_gold=without_gold,
        best_run=best,
        runs=runs,
        wall_seconds=round(time.perf_counter() - started, 2),
    )
    return EvaluateSummary(
        **measured, report=write_report(options.report_folder, options.report_format, measured)
    )


@dataclass(frozen=True)
class EvaluateSummary(Summary):
    """What an evaluation measured: a run per (wording, template), the best marked."""

    model: str
    strategy: str
    multi_label: bool
    multi_label_gold: bool
    classes: list[str]
    rows: int
    rows_without_gold: int
    best_run: int  # index into runs
    runs: list[dict]  # each run's metrics, as the report's numbers hold them
    wall_seconds: float
    report: str  # the report's page

    def heading(self) -> str:
        return "spark_zsc evaluate: done"

    def lines(self) -> list[Line]:
        left_out = (
            f"{self.rows_without_gold:,} without a gold value, left out" if self.rows_without_gold else ""
        )
        return [
            Line("model", self.model),
            Line("rows", number(self.rows), left_out),
            Line("wall time", f"{self.wall_seconds:>{NUMBER_WIDTH},.1f} s"),
            Line("report", self.report),
        ]

    def below(self) -> list[str]:
        """The runs side by side, the best marked *."""
        target = self.runs[0]["target_precision"]
        lines = [
            "",
            f"  {'run':>3}  {'accuracy':>8}  {'macro-F1':>8}  {'ECE':>6}  {'precision ' + str(target):>16}  "
            "labels / template",
        ]
        for i, run in enumerate(self.runs):
            ece = run["reliability"]["expected_calibration_error"]  # None when no row was classified
            marker = "*" if i == self.best_run else " "
            at = run["at_target"]
            reached = f"{at['threshold']:.2f}: {at['coverage']:.0%} kept" if at else "not reached"
            lines.append(
                f"  {i + 1:>3}{marker} {run['accuracy']:>8.4f}  {run['macro_f1']:>8.4f}  "
                f"{'n/a' if ece is None else format(ece, '.3f'):>6}  {reached:>16}  "
                f"{_wording_name(run)}  /  {run['template']}"
            )
        lines.append(
            f"  precision {target}: the lowest threshold whose predicted classes are that precise, and the "
            "share of gold classes found"
            if self.multi_label_gold
            else f"  precision {target}: the lowest minScore whose labelled rows are that precise, and the share "
            "it labels"
        )
        return lines
