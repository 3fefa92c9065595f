"""The evaluate job: each (label set, template) run classifies the same gold-labelled rows on
Spark, reduces them to metric cells there, and the report is written on the driver."""

from __future__ import annotations

import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..errors import ConfigError
from ..log import log
from ..runtime.distribution import is_connect
from ..spark.classifier import ZeroShotClassifier
from ..spark.columns import require_column, require_string_column
from .evaluate_options import EvaluateOptions
from .evaluation import BINS, Cell, metrics_from_cells
from .report import write_report
from .storage import read_input

_GOLD, _TEXT, _RESULT = "__gold_class", "__text", "__zsc"
_SHOWN_UNMAPPED = 20


def _lookup(mapping: dict, key):
    return F.create_map(*[F.lit(x) for pair in mapping.items() for x in pair])[key]


def _gold_rows(spark: SparkSession, options: EvaluateOptions) -> tuple[DataFrame, int]:
    """The rows to evaluate (text, gold class index), cached by the first run, and the count of
    rows without a gold value. Every check here runs before any model does."""
    frame = read_input(spark, options)
    require_string_column(frame.schema, options.text_column, "--text-col")
    require_column(frame.schema, options.gold_col, "--gold-col")
    gold = F.nullif(F.trim(F.col(options.gold_col).cast("string")), F.lit(""))  # blank: no gold value
    mapping = options.gold_to_class
    unmapped_values = (
        frame.select(gold.alias("value")).where(gold.isNotNull() & _lookup(mapping, gold).isNull()).distinct()
    )
    unmapped = sorted(r.value for r in unmapped_values.limit(_SHOWN_UNMAPPED + 1).collect())
    if unmapped:
        shown = ", ".join(repr(v) for v in unmapped[:_SHOWN_UNMAPPED])
        count = f"{len(unmapped)}" if len(unmapped) <= _SHOWN_UNMAPPED else f"more than {_SHOWN_UNMAPPED}"
        raise ConfigError(
            f"{count} gold value(s) of --gold-col {options.gold_col!r} have no label: {shown}. Map each to a label "
            f'with --gold-map "value=label,..." (labels: {", ".join(options.classes)}), or filter those rows out first'
        )
    counts = frame.agg(F.count(F.lit(1)).alias("rows"), F.count(gold).alias("labelled")).head()  # one scan
    if counts.labelled == 0:
        raise ConfigError(
            f"the evaluation set is empty: no row of the input has a value in --gold-col {options.gold_col!r}"
        )
    labelled = frame.where(gold.isNotNull())
    if options.limit:
        labelled = labelled.limit(options.limit)
    rows = labelled.select(F.col(options.text_column).alias(_TEXT), _lookup(mapping, gold).alias(_GOLD))
    if not is_connect(spark):  # spread a small single-file input over every core
        rows = rows.repartition(spark.sparkContext.defaultParallelism)
    return rows.cache(), counts.rows - counts.labelled


def _run(rows: DataFrame, options: EvaluateOptions, labels: list[str], template: str) -> dict:
    classifier = ZeroShotClassifier(
        candidateLabels=labels,
        hypothesisTemplate=template,
        outputCol=_RESULT,
        **{**options.classifier_params(), "inputCol": _TEXT},
    )
    result = F.col(_RESULT)
    cells = (
        classifier.transform(rows)
        .select(
            F.col(_GOLD).alias("gold"),
            _lookup({label: i for i, label in enumerate(labels)}, result["label"]).alias("predicted"),
            F.least(F.floor(result["score"] * BINS), F.lit(BINS - 1)).cast("int").alias("bin"),
            result["score"].alias("score"),
        )
        .groupBy("gold", "predicted", "bin")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("score").alias("score_sum"))
        .collect()
    )
    metrics = metrics_from_cells(
        options.classes, [Cell(c.gold, c.predicted, c.bin, c.rows, c.score_sum or 0.0) for c in cells]
    )
    return {"labels": labels, "template": template, **metrics}


def run_evaluate(spark: SparkSession, options: EvaluateOptions) -> dict:
    started = time.perf_counter()
    rows, without_gold = _gold_rows(spark, options)
    runs = []
    try:
        for labels in options.label_sets:
            for template in options.templates:
                runs.append(_run(rows, options, labels, template))
                log.info("evaluated %s with %r: accuracy %.4f", labels, template, runs[-1]["accuracy"])
    finally:
        rows.unpersist()
    best = max(range(len(runs)), key=lambda i: runs[i]["accuracy"])
    summary = {
        "model": options.models_description,
        "strategy": options.strategy,
        "multi_label": options.multi_label,
        "classes": options.classes,
        "rows": runs[0]["rows"],
        "rows_without_gold": without_gold,
        "best_run": best,
        "runs": runs,
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    summary["report"] = write_report(options.report, options.report_format, summary)
    return summary


def format_evaluation(summary: dict) -> str:
    lines = [
        "spark_zsc evaluate: done",
        f"  model       {summary['model']}",
        f"  rows        {summary['rows']:,}"
        + (
            f"   ({summary['rows_without_gold']:,} without a gold value, left out)"
            if summary["rows_without_gold"]
            else ""
        ),
        f"  wall time   {summary['wall_seconds']:,.1f} s",
        f"  report      {summary['report']}",
        "",
        f"  {'run':>3}  {'accuracy':>8}  {'macro-F1':>8}  {'ECE':>6}  labels / template",
    ]
    for i, run in enumerate(summary["runs"]):
        ece = run["reliability"]["expected_calibration_error"]  # None when no row was classified
        marker = "*" if i == summary["best_run"] else " "
        lines.append(
            f"  {i + 1:>3}{marker} {run['accuracy']:>8.4f}  {run['macro_f1']:>8.4f}  "
            f"{'n/a' if ece is None else format(ece, '.3f'):>6}  {', '.join(run['labels'])}  /  {run['template']}"
        )
    return "\n".join(lines)
