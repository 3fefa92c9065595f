"""The jobs' summaries: typed records laid out by one formatter, the same fields in the JSON a
user reads back as in the lines printed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from spark_zsc.jobs.classify import ClassifySummary
from spark_zsc.jobs.distill import DistillSummary
from spark_zsc.jobs.estimate import Estimate
from spark_zsc.jobs.evaluate.job import EvaluateSummary
from spark_zsc.jobs.streaming import StreamSummary
from spark_zsc.jobs.summary import NAME_WIDTH, NO_COUNTERS

pytestmark = pytest.mark.any_line  # no Spark: how summaries are laid out


def classify_summary(**changes) -> ClassifySummary:
    counts = dict.fromkeys(
        ("pairs", "forward_pairs", "embedded_texts", "below_min_score", "model_loads", "deferred"), 0
    )
    long_texts = dict(truncated_rows=0, chunked_rows=0, windows=0, window_capped_rows=0)
    summary = ClassifySummary(
        model="m (NLI)",
        strategy="nli",
        rows_read=5,
        corrupt_records=0,
        rows_already_written=0,
        rows_written=5,
        classified=4,
        skipped=1,
        skipped_by_reason={"blank_text": 1},
        **counts,
        **long_texts,
        wall_seconds=2.0,
        rows_per_second=2.5,
        pairs_per_second=0.0,
        label_counts={"billing": 3, "outage": 1},
        output="out",
    )
    return dataclasses.replace(summary, **changes)


def named_lines(text: str) -> dict[str, str]:
    """The printed `  name   value` lines, by name."""
    lines = [line for line in text.splitlines()[1:] if line.startswith("  ") and not line.startswith("   ")]
    return {
        line[2 : 2 + NAME_WIDTH].strip(): line[2 + NAME_WIDTH :]
        for line in lines
        if line[2 : 2 + NAME_WIDTH].strip()
    }


def test_every_summary_is_json_and_lines_in_one_layout():
    estimate = Estimate(
        **{field.name: 1 for field in dataclasses.fields(Estimate) if field.type in ("int", "float")},
        **{field.name: None for field in dataclasses.fields(Estimate) if field.type.startswith("Optional")},
        model="m (NLI)",
        input="--input x",
        rows_counted_by="count",
        partitions_from="input",
    )
    stream = StreamSummary("m (NLI)", True, "availableNow", "ck", 1, 3, 3, 6, 1, 1.0, 3.0, {"a": 3}, "out")
    run = {
        "labels": ["a", "b"],
        "descriptions": None,
        "template": "This is {}.",
        "accuracy": 0.75,
        "macro_f1": 0.7,
        "reliability": {"expected_calibration_error": None},
        "target_precision": 0.9,
        "at_target": None,
    }
    evaluate = EvaluateSummary(
        "m (NLI)", "nli", False, False, ["a", "b"], 4, 1, 0, [run], 1.0, "report/index.md"
    )
    figures = {"rows": 2, "agreement": 0.5}
    distill = DistillSummary(
        "m (NLI)",
        "e + logistic regression",
        ["a", "b"],
        10,
        4,
        0.5,
        2,
        0.5,
        {"a": figures, "b": figures},
        [{"defer_below": 0.5, "deferred_share": 0.5, "agreement": 1.0}],
        {"trained": 0, "weight": None, "held_out": 0, "accuracy": None},
        0.0,
        1.0,
        "student",
    )
    for summary in (classify_summary(), stream, estimate, evaluate, distill):
        assert json.loads(json.dumps(summary.as_dict())) == dataclasses.asdict(summary)
        shown = named_lines(summary.format())
        assert shown["model"] == "m (NLI)"  # every job names its model in the same column
    assert named_lines(evaluate.format())["report"] == "report/index.md"
    assert "1 without a gold value, left out" in named_lines(evaluate.format())["rows"]


def test_counters_spark_connect_does_not_have_are_said_to_be_missing():
    counters = (
        "pairs",
        "forward_pairs",
        "embedded_texts",
        "below_min_score",
        "model_loads",
        "truncated_rows",
    )
    summary = classify_summary(**dict.fromkeys(counters, None), pairs_per_second=None)
    shown = named_lines(summary.format())
    assert NO_COUNTERS in shown["model loads"] and NO_COUNTERS in shown["pairs run"]
    assert shown["long texts"] == NO_COUNTERS
    assert summary.as_dict()["model_loads"] is None


def test_the_classify_summary_shows_what_the_strategy_ran():
    nli = named_lines(classify_summary(pairs=40, forward_pairs=30).format())
    assert nli["pairs run"].split()[0] == "30" and "of 40 asked" in nli["pairs run"]
    embedding = named_lines(classify_summary(strategy="embedding", embedded_texts=12).format())
    assert "pairs run" not in embedding and embedding["texts encoded"].split()[0] == "12"


def test_a_students_run_counts_the_rows_its_teacher_scored():
    shown = named_lines(classify_summary(strategy="distilled", deferred=2, embedded_texts=9).format())
    assert shown["deferred"].split()[0] == "2" and shown["texts encoded"].split()[0] == "9"
    assert "deferred" not in named_lines(classify_summary().format())  # no student, no line
