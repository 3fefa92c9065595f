"""The evaluate job: metrics against hand-computed values, the report folder from a real CLI
run, and every bad input answered before a model runs."""

from __future__ import annotations

import csv
import json
import re

import pytest

from spark_zsc.errors import ConfigError
from spark_zsc.jobs.cli import main
from spark_zsc.jobs.evaluation import Cell, metrics_from_cells

from helpers import TEXTS
from processes import job_env, run, spark_submit


def _cells(rows):
    return [Cell(g, p, b, 1, s or 0.0) for g, p, s, b in rows]


def test_metrics_equal_hand_computed_values():
    # gold, predicted (None: not classified), top score, its tenth; classes A=0, B=1, C=2
    rows = [
        (0, 0, 0.95, 9),
        (0, 0, 0.85, 8),
        (0, 1, 0.55, 5),
        (1, 1, 0.75, 7),
        (1, 0, 0.65, 6),
        (1, None, None, None),
        (2, 2, 0.92, 9),
        (2, 1, 0.45, 4),
    ]
    m = metrics_from_cells(["A", "B", "C"], _cells(rows))
    assert (m["rows"], m["correct"], m["unclassified"]) == (8, 4, 1)
    assert m["accuracy"] == 0.5
    by_label = {p["label"]: p for p in m["per_label"]}
    assert (by_label["A"]["precision"], by_label["A"]["recall"], by_label["A"]["f1"]) == pytest.approx(
        (2 / 3, 2 / 3, 2 / 3)
    )
    assert (by_label["B"]["precision"], by_label["B"]["recall"], by_label["B"]["f1"]) == pytest.approx(
        (1 / 3, 1 / 3, 1 / 3)
    )
    assert (by_label["C"]["precision"], by_label["C"]["recall"], by_label["C"]["f1"]) == pytest.approx(
        (1.0, 0.5, 2 / 3)
    )
    assert m["macro_f1"] == pytest.approx(5 / 9)
    assert m["confusion"]["matrix"] == [[2, 1, 0, 0], [1, 1, 0, 1], [0, 1, 1, 0]]
    assert m["confusion"]["predicted"] == ["A", "B", "C", "(none)"]
    bins = {b["low"]: b for b in m["reliability"]["bins"] if b["rows"]}
    assert (
        bins[0.9]["rows"] == 2
        and bins[0.9]["confidence"] == pytest.approx(0.935)
        and bins[0.9]["accuracy"] == 1.0
    )
    assert bins[0.6]["accuracy"] == 0.0 and len(bins) == 6
    # ECE: sum over bins of rows x |accuracy - confidence|, over the 7 classified rows
    assert m["reliability"]["expected_calibration_error"] == pytest.approx(
        (0.13 + 0.15 + 0.25 + 0.65 + 0.55 + 0.45) / 7
    )


def test_a_class_never_predicted_has_precision_zero_and_counts_in_macro_f1():
    m = metrics_from_cells(["A", "B"], _cells([(0, 0, 0.9, 9), (1, 0, 0.8, 8)]))
    assert m["per_label"][1]["precision"] == 0.0 and m["per_label"][1]["recall"] == 0.0
    assert m["macro_f1"] == pytest.approx((2 * 0.5 * 1 / 1.5 + 0) / 2)


GOLD = ["1", "2", "3", "1", "2", "3", "1", "2"]  # a class per text of TEXTS
SETS = [["finance", "sports", "billing"], ["money", "a game", "an invoice"]]


def _write_gold_csv(path, with_missing_gold=True):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)  # no header row: --csv-columns names the columns
        for text, gold in zip(TEXTS * 2, GOLD * 2):
            writer.writerow([gold, text])
        if with_missing_gold:
            writer.writerow(["", "a row nobody labelled"])
    return path


def _expected(spark, tiny_model, labels, template):
    """Independently of the evaluate job: accuracy of the classifier's top labels against the
    gold classes, and how many top scores fall in each tenth of [0, 1]."""
    from spark_zsc import ZeroShotClassifier

    frame = spark.createDataFrame(
        [(t, int(g) - 1) for t, g in zip(TEXTS * 2, GOLD * 2)], "text string, gold int"
    )
    out = (
        ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=labels, hypothesisTemplate=template
        )
        .transform(frame)
        .collect()
    )
    tenths = [sum(min(int(r.zsc.score * 10), 9) == b for r in out) for b in range(10)]
    return sum(labels.index(r.zsc.label) == r.gold for r in out) / len(out), tenths


def test_the_evaluate_job_writes_a_report_of_every_run(spark, tiny_model, tmp_path_factory, tmp_path):
    """spark-submit jobs/evaluate.py, a real subprocess, against the classifier's own predictions."""
    from matplotlib.image import imread

    data = _write_gold_csv(tmp_path / "gold.csv")
    templates = ["This example is {}.", "Topic: {}"]
    args = [
        "--input",
        str(data),
        "--input-format",
        "csv",
        "--csv-columns",
        "gold,text",
        "--text-col",
        "text",
        "--gold-col",
        "gold",
        "--gold-map",
        "1=finance,2=sports,3=billing",
        "--labels",
        ",".join(SETS[0]),
        "--labels",
        ",".join(SETS[1]),
        "--template",
        templates[0],
        "--template",
        templates[1],
        "--model",
        tiny_model,
        "--report",
        str(tmp_path / "report"),
        "--report-format",
        "html",
        "--summary-json",
        str(tmp_path / "summary.json"),
    ]
    done = run(
        spark_submit(*args, job="evaluate"),
        tmp_path,
        job_env(tmp_path_factory.getbasetemp() / "job_node_cache"),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "spark_zsc evaluate: done" in done.stdout

    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["rows"] == 16 and metrics["rows_without_gold"] == 1
    assert [(r["labels"], r["template"]) for r in metrics["runs"]] == [
        (s, t) for s in SETS for t in templates
    ]
    for run_metrics in metrics["runs"]:
        accuracy, tenths = _expected(spark, tiny_model, run_metrics["labels"], run_metrics["template"])
        assert run_metrics["accuracy"] == pytest.approx(accuracy)
        assert [b["rows"] for b in run_metrics["reliability"]["bins"]] == tenths
        assert sum(map(sum, run_metrics["confusion"]["matrix"])) == 16
    assert json.loads((tmp_path / "summary.json").read_text())["runs"] == metrics["runs"]

    page = (tmp_path / "report" / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(images) == sorted(
        [
            "accuracy.png",
            "reliability.png",
            "confusion-1.png",
            "confusion-2.png",
            "confusion-3.png",
            "confusion-4.png",
        ]
    )
    for name in images:
        path = tmp_path / "report" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, _ = imread(path).shape  # decodes: a valid PNG
        assert height > 100 and width > 100
    for labels in SETS:
        assert ", ".join(labels) in page


def _evaluate_flags(tmp_path, tiny_model, **overrides):
    values = {
        "--input": str(_write_gold_csv(tmp_path / "gold.csv")),
        "--input-format": "csv",
        "--csv-columns": "gold,text",
        "--text-col": "text",
        "--gold-col": "gold",
        "--gold-map": "1=finance,2=sports,3=billing",
        "--labels": ",".join(SETS[0]),
        "--model": tiny_model,
        "--report": str(tmp_path / "report"),
    }
    values.update(overrides)
    args = []
    for flag, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            args += [flag] if one is True else [flag, one] if one is not None else []
    return args


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"--labels": ["a,b,c", "x,y"]}, "every label set must name the same classes in the same order"),
        ({"--labels": "finance"}, "every label set must name the same classes"),
        ({"--labels": None}, "no label set"),
        ({"--labels-col": "text"}, "not --labels-col"),
        ({"--gold-col": None}, "--gold-col is required"),
        ({"--report": None}, "--report is required"),
        ({"--gold-map": "1=finance,2=cooking"}, "maps '2' to 'cooking', which is in no label set"),
        ({"--gold-map": "1finance"}, "must be value=label"),
        (
            {
                "--labels": ["finance,sports,billing", "sports,finance,billing"],
                "--gold-map": "1=finance,2=sports,3=billing",
            },
            "a different class in different label sets",
        ),
        ({"--shortlist": "4"}, "shortlist 4 is more than the 3 candidate labels"),
        ({"--shortlist": "0"}, "shortlist must be an integer, 1 or more"),
        ({"--template": ["{}", "no slot"]}, "exactly one {}"),
        ({"--strategy": "embedding", "--embedding-model": "<nli>"}, "is not a sentence encoder"),
        ({"--csv-columns": "gold,gold"}, "--csv-columns"),
    ],
)
def test_bad_evaluate_options_fail_before_spark_starts(tmp_path, tiny_model, capsys, overrides, message):
    if overrides.get("--embedding-model") == "<nli>":
        overrides["--embedding-model"] = tiny_model
    assert main(["evaluate", *_evaluate_flags(tmp_path, tiny_model, **overrides)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_unmapped_gold_values_and_an_empty_set_fail_before_any_model_runs(spark, tiny_model, tmp_path):
    from spark_zsc.jobs.evaluate import run_evaluate
    from spark_zsc.jobs.evaluate_options import EvaluateOptions
    from spark_zsc.jobs.options import build_job_options

    data = _write_gold_csv(tmp_path / "gold.csv")
    base = dict(
        input=str(data),
        input_format="csv",
        csv_columns="gold,text",
        text_col="text",
        gold_col="gold",
        labels=SETS,
        model=tiny_model,
        report=str(tmp_path / "report"),
    )
    cases = [
        (
            dict(base, gold_map="1=finance,2=sports"),
            "1 gold value(s) of --gold-col 'gold' have no label: '3'",
        ),
        (dict(base, gold_map=None), "3 gold value(s) of --gold-col 'gold' have no label: '1', '2', '3'"),
        (
            dict(
                base,
                gold_map={"1": "finance", "2": "sports", "3": "billing"},
                csv_columns="gold,text,extra",
                gold_col="extra",
                text_col="text",
            ),
            "the evaluation set is empty",
        ),
    ]
    for values, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            run_evaluate(spark, build_job_options(values, EvaluateOptions))
    assert not (tmp_path / "report").exists()
