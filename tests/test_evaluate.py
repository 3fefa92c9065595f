"""The evaluate job: metrics against hand-computed values, the report folder from a real CLI
run, and every bad input answered before a model runs."""

from __future__ import annotations

import csv
import json
import re

import pytest

from spark_zsc.errors import ConfigError
from spark_zsc.jobs.cli import main
from spark_zsc.jobs.evaluate.metrics import Cell, metrics_from_cells

from helpers import TEXTS


def _cells(rows):
    return [
        Cell(g, p, None if b is None else b * 10, 1, s or 0.0) for g, p, s, b in rows
    ]  # tenths as CURVE_BINS bins


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
# a phrase, read inside the template, and a sentence, read as written; billing has none
DESCRIPTIONS = {
    "finance": "money, markets, banks or prices",
    "sports": "The text is about a game or a match.",
}


def _write_gold_csv(path, with_missing_gold=True):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)  # no header row: --csv-columns names the columns
        for text, gold in zip(TEXTS * 2, GOLD * 2):
            writer.writerow([gold, text])
        if with_missing_gold:
            writer.writerow(["", "a row nobody labelled"])
    return path


def _expected(spark, tiny_model, labels, template, descriptions=None):
    """Independently of the evaluate job: accuracy of the classifier's top labels against the
    gold classes, how many top scores fall in each tenth of [0, 1], and for each threshold
    in hundredths the (coverage, precision) of the rows whose top score reaches it."""
    from spark_zsc import ZeroShotClassifier

    frame = spark.createDataFrame(
        [(t, int(g) - 1) for t, g in zip(TEXTS * 2, GOLD * 2)], "text string, gold int"
    )
    out = (
        ZeroShotClassifier(
            model=tiny_model,
            inputCol="text",
            candidateLabels=labels,
            hypothesisTemplate=template,
            **({"labelDescriptions": descriptions} if descriptions else {}),
        )
        .transform(frame)
        .collect()
    )
    tenths = [sum(min(int(r.zsc.score * 10), 9) == b for r in out) for b in range(10)]
    curve = []
    for hundredth in range(100):
        kept = [r for r in out if min(int(r.zsc.score * 100), 99) >= hundredth]
        right = sum(labels.index(r.zsc.label) == r.gold for r in kept)
        curve.append((len(kept) / len(out), right / len(kept) if kept else None))
    return sum(labels.index(r.zsc.label) == r.gold for r in out) / len(out), tenths, curve


def test_the_evaluate_job_writes_a_report_of_every_run(spark, tiny_model, tmp_path, capsys):
    """The evaluate job as jobs/evaluate.py calls it under spark-submit (in the test session: the
    spark-submit entry point itself is test_jobs.py's), against the classifier's own predictions."""
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
        "--label",
        f"finance={DESCRIPTIONS['finance']}",
        "--label",
        f"sports={DESCRIPTIONS['sports']}",
        "--target-precision",
        "0.5",
        "--model",
        tiny_model,
        "--report",
        str(tmp_path / "report"),
        "--report-format",
        "html",
        "--summary-json",
        str(tmp_path / "summary.json"),
    ]
    assert main(["evaluate", *args], submitted=True) == 0
    assert "spark_zsc evaluate: done" in capsys.readouterr().out

    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["rows"] == 16 and metrics["rows_without_gold"] == 1
    # the description set is one more wording of the classes, under each template
    assert [(r["labels"], r["descriptions"], r["template"]) for r in metrics["runs"]] == [
        (s, None, t) for s in SETS for t in templates
    ] + [(SETS[0], DESCRIPTIONS, t) for t in templates]
    for run_metrics in metrics["runs"]:
        accuracy, tenths, curve = _expected(
            spark, tiny_model, run_metrics["labels"], run_metrics["template"], run_metrics["descriptions"]
        )
        assert run_metrics["accuracy"] == pytest.approx(accuracy)
        assert [b["rows"] for b in run_metrics["reliability"]["bins"]] == tenths
        assert sum(map(sum, run_metrics["confusion"]["matrix"])) == 16
        got = [x for p in run_metrics["coverage"] for x in (p["coverage"], p["precision"])]
        assert got == pytest.approx([x for point in curve for x in point])
        reached = [t for t, (_, precision) in enumerate(curve) if precision is not None and precision >= 0.5]
        at_target = run_metrics["at_target"]
        assert (at_target and round(at_target["threshold"] * 100)) == (reached[0] if reached else None)
    assert json.loads((tmp_path / "summary.json").read_text())["runs"] == metrics["runs"]

    page = (tmp_path / "report" / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(images) == sorted(
        [
            "accuracy.png",
            "reliability.png",
            "coverage.png",
            *(f"confusion-{i}.png" for i in range(1, 7)),
        ]
    )
    for name in images:
        path = tmp_path / "report" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, _ = imread(path).shape  # decodes: a valid PNG
        assert height > 100 and width > 100
    for labels in SETS:
        assert ", ".join(labels) in page
    assert "described: finance=" in page and "Abstaining: where to set minScore" in page


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
        ({"--label": "cooking=food and recipes"}, "--label describes 'cooking', not a class"),
        ({"--label": "finance"}, "label_descriptions 'finance' must be NAME=DESCRIPTION"),
        ({"--target-precision": "1.5"}, "target_precision is a score, between 0 and 1"),
    ],
)
def test_bad_evaluate_options_fail_before_spark_starts(tmp_path, tiny_model, capsys, overrides, message):
    if overrides.get("--embedding-model") == "<nli>":
        overrides["--embedding-model"] = tiny_model
    assert main(["evaluate", *_evaluate_flags(tmp_path, tiny_model, **overrides)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_unmapped_gold_values_and_an_empty_set_fail_before_any_model_runs(spark, tiny_model, tmp_path):
    from spark_zsc.jobs.commands import build_job_options
    from spark_zsc.jobs.evaluate.job import run_evaluate

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
            run_evaluate(spark, build_job_options(values, "evaluate"))
    assert not (tmp_path / "report").exists()


def test_multi_label_gold_gets_per_label_precision_and_recall_at_the_threshold(spark, tiny_model, tmp_path):
    """Gold holding several classes per row: each (row, class) is a decision at --min-score,
    checked against the classifier's own multi-label scores."""
    from spark_zsc import ZeroShotClassifier

    labels = SETS[0]
    gold = [["finance"], ["sports", "finance"], ["billing"], [], ["sports"], ["billing", "finance"]]
    rows = [(text, classes) for text, classes in zip(TEXTS, gold)]
    frame = spark.createDataFrame(rows, "text string, gold array<string>")
    frame.write.parquet(str(tmp_path / "gold"))
    summary_path = tmp_path / "summary.json"
    args = ["--input", str(tmp_path / "gold"), "--text-col", "text", "--gold-col", "gold"]
    args += ["--labels", ",".join(labels), "--multi-label", "--min-score", "0.5", "--model", tiny_model]
    args += ["--report", str(tmp_path / "report"), "--summary-json", str(summary_path)]
    assert main(["evaluate", *args]) == 0
    [run] = json.loads(summary_path.read_text())["runs"]

    labelled = [(t, g) for t, g in rows if g]  # an empty gold array is no gold value
    out = (
        ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=labels, multiLabel=True)
        .transform(spark.createDataFrame(labelled, "text string, gold array<string>"))
        .collect()
    )
    assert run["rows"] == len(labelled) == 5
    for label, measured in zip(labels, run["per_label"]):
        predicted = [min(int(dict(zip(r.zsc.labels, r.zsc.scores))[label] * 100), 99) >= 50 for r in out]
        actual = [label in r.gold for r in out]
        hits = sum(p and a for p, a in zip(predicted, actual))
        assert measured["support"] == sum(actual) and measured["predicted"] == sum(predicted)
        assert measured["precision"] == pytest.approx(hits / sum(predicted) if sum(predicted) else 0.0)
        assert measured["recall"] == pytest.approx(hits / sum(actual) if sum(actual) else 0.0)
    assert (tmp_path / "report" / "coverage.png").exists()
    assert not list((tmp_path / "report").glob("confusion-*.png"))  # no confusion matrix for multi-label gold

    args_without_multi_label = [a for a in args if a != "--multi-label"]
    assert main(["evaluate", *args_without_multi_label]) == 2
