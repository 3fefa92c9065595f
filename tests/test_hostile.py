"""A hostile corpus: every kind of row users' tables hold. Rows out = rows in, ids intact,
every row with text scored, and scores still the pipeline's where the pipeline can run."""

from __future__ import annotations

import pytest

from spark_zsc import ZeroShotClassifier

from helpers import SQL_FUNCTIONS, assert_same_result, needs_sql_functions

HOSTILE_TEXTS = {
    "null": None,
    "empty": "",
    "spaces": "     ",
    "tabs and newlines": "\t\n\r\n\t",
    "control characters": "bell\x07 escape\x1b[31m red \x1b[0m backspace\x08",
    "nul bytes": "before\x00after\x00",
    "300k characters": "lorem ipsum dolor sit amet " * 11_112,
    "one character": "x",
    "emoji only": "😀😃😄😁🚀🔥💯",
    "zero-width joiners": "👩‍👩‍👧‍👦 and e\u0301 and \u200b\u200d\ufeff",
    "right to left": "مرحبا بالعالم، هذه رسالة حول الفواتير",
    "hebrew": "שלום עולם, יש הפסקת חשמל",
    "mixed scripts": "Invoice Rechnung 請求書 счёт فاتورة",
    "cjk": "东京的服务器今天宕机了三个小时",
    "strike-through markup": "<s>old price 49.99</s> new price 39.99",
    "eos markup": "first part </s> second part </s></s>",
    "all special tokens": "<s><pad></s><unk><mask>",
    "html": "<html><body><div class='x'>Outage!</div><script>alert(1)</script></body></html>",
    "template-looking braces": "This example is {}. And {0} and {label} and {{}}",
    "format specifiers": "%s %d %(name)s {:>10}",
    "sql injection": "'; DROP TABLE tickets; --",
    "shell injection": "$(rm -rf /) `reboot` && echo pwned",
    "json": '{"text": "nested", "labels": ["a", "b"]}',
    "backslashes": "C:\\Users\\admin\\invoice.pdf \\n \\t",
    "quotes": "\"double\" 'single' `back` «guillemets»",
    "url": "https://example.com/billing?invoice=123&refund=true#top",
    "numbers only": "4111 1111 1111 1111 12/29 123",
    "repeated punctuation": "!!!!!!!!!!?????????..........",
    "very long word": "a" * 5_000,
    "surrogate-free astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕥𝕖𝕩𝕥 𐍈",
    "combining marks": "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͚ͤ",
    "duplicate a": "the same row twice",
    "duplicate b": "the same row twice",
}
HOSTILE_LABELS = [
    "billing",
    "outage {}",
    "café & crème",
    "x" * 5_000,
    "naïve-Ünïcödé",
    "{label}",
    "sql'); --",
]


def test_hostile_corpus_rows_out_equal_rows_in(spark, tiny_model, hf_pipeline):
    assert len(HOSTILE_TEXTS) >= 30
    rows = [(i, kind, text) for i, (kind, text) in enumerate(HOSTILE_TEXTS.items())]
    frame = spark.createDataFrame(rows, "id long, kind string, text string").repartition(4)
    clf = ZeroShotClassifier(
        model=tiny_model, inputCol="text", candidateLabels=HOSTILE_LABELS, tokenBudget=512
    )
    out = {r.id: r for r in clf.transform(frame).collect()}
    assert sorted(out) == [i for i, _, _ in rows]
    for i, kind, text in rows:
        assert out[i].kind == kind and out[i].text == text  # the row itself is untouched
        if text is None or not text.strip():
            assert out[i].zsc is None, kind
        else:
            assert out[i].zsc is not None, kind
            assert sorted(out[i].zsc.labels) == sorted(HOSTILE_LABELS)
            assert abs(sum(out[i].zsc.scores) - 1.0) < 1e-6
    # where the pipeline can run at all (no special-token strings, hypotheses within the limit),
    # the scores are still the pipeline's
    short_labels = [l for l in HOSTILE_LABELS if len(l) < 100]
    plain = {k: t for k, t in HOSTILE_TEXTS.items() if t and t.strip() and "<" not in t}
    frame = spark.createDataFrame(list(plain.items()), "kind string, text string")
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=short_labels)
    for row in clf.transform(frame).collect():
        assert_same_result(hf_pipeline(row.text, candidate_labels=short_labels), row.zsc.asDict())


def test_hostile_per_row_labels(spark, tiny_model):
    rows = [
        (0, "text", ["a", None, "a", " ", "b"]),
        (1, "text", ["x" * 5_000]),
        (2, "text", ["{}", "{0}"]),
        (3, "text", [None]),
        (4, "text", ["", "  "]),
        (5, "text", None),
        (6, "text", ["ünï", "ÜNÏ"]),
    ]
    frame = spark.createDataFrame(rows, "id long, text string, labels array<string>")
    out = {
        r.id: r.zsc
        for r in ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="labels")
        .transform(frame)
        .collect()
    }
    assert len(out) == len(rows)
    assert sorted(out[0].labels) == ["a", "b"] and out[1].labels == ["x" * 5_000]
    assert sorted(out[2].labels) == ["{0}", "{}"] and sorted(out[6].labels) == ["ÜNÏ", "ünï"]
    assert out[3] is None and out[4] is None and out[5] is None


@pytest.mark.parametrize("records_per_batch", ["1", "7", "1000"])
def test_results_do_not_depend_on_partitioning_or_arrow_batch_size(spark, tiny_model, records_per_batch):
    texts = [t for t in HOSTILE_TEXTS.values()]
    frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string")
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=HOSTILE_LABELS[:3])
    baseline = {r.id: r.zsc for r in clf.transform(frame.coalesce(1)).collect()}
    previous = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", records_per_batch)
    try:
        other = {r.id: r.zsc for r in clf.transform(frame.repartition(5)).collect()}
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous)
    assert other.keys() == baseline.keys()
    for key, expected in baseline.items():
        if expected is None:
            assert other[key] is None
        else:  # batch composition moves float noise only
            assert (
                other[key].labels == expected.labels
                or max(abs(a - b) for a, b in zip(other[key].scores, expected.scores)) < 1e-6
            )
            assert dict(zip(other[key].labels, other[key].scores)) == pytest.approx(
                dict(zip(expected.labels, expected.scores)), abs=1e-6
            )


# Spark strings holding bytes that are not UTF-8, as files and casts of binary data give them:
# a bad continuation byte, a byte UTF-8 never uses, an encoded surrogate, an overlong "/",
# a sequence cut short
NOT_UTF8 = ("C328", "FF", "EDA080", "C0AF", "E282")


def _mixed_utf8_frame(spark):
    """Good texts (ids 0-3) with a row of each NOT_UTF8 between them (ids 10-14)."""
    good = [f"({i}, '{text}')" for i, text in enumerate(HOSTILE_TEXTS[k] for k in ("cjk", "url", "json"))]
    good.append("(3, 'The team won the final')")
    bad = [f"({10 + i}, CAST(X'{hex_bytes}' AS STRING))" for i, hex_bytes in enumerate(NOT_UTF8)]
    rows = ", ".join(good[:2] + bad[:3] + good[2:] + bad[3:])
    return spark.sql(f"SELECT * FROM VALUES {rows} AS t(id, text)").repartition(2)


def test_text_that_is_not_utf8_gets_a_null_result_and_its_reason(spark, tiny_model, hf_pipeline):
    import hashlib

    from pyspark.sql import functions as F

    frame = _mixed_utf8_frame(spark)
    labels = HOSTILE_LABELS[:3]
    fixed = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=labels, lineageCol="meta")
    per_row = ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="labels", lineageCol="meta")
    with_labels = frame.withColumn("labels", F.array(*map(F.lit, labels)))
    for clf, data in ((fixed, frame), (per_row, with_labels)):
        out = {r.id: r for r in clf.transform(data).collect()}
        assert sorted(out) == [0, 1, 2, 3, 10, 11, 12, 13, 14]
        for i, row in out.items():
            if i >= 10:
                assert row.zsc is None and row.meta.status == "invalid_text", i
            else:
                assert row.meta.status == "classified"
                assert row.meta.text_sha256 == hashlib.sha256(row.text.encode("utf-8")).hexdigest()
                assert_same_result(hf_pipeline(row.text, candidate_labels=labels), row.zsc.asDict())
        metrics = clf.metrics()
        assert (metrics["skipped_invalid_text"], metrics["skipped"], metrics["classified"]) == (5, 5, 4)


def test_the_sql_function_and_the_job_answer_text_that_is_not_utf8(spark, tiny_model, tmp_path):
    import json

    from spark_zsc import register_sql_function
    from spark_zsc.jobs.cli import main

    from processes import input_flags

    frame = _mixed_utf8_frame(spark)
    frame.createOrReplaceTempView("mixed_utf8")
    if SQL_FUNCTIONS:
        function = register_sql_function(spark, "zs_utf8", model=tiny_model, lineage=True)
        rows = spark.sql(
            "SELECT id, zs_utf8(text, array('a', 'b')) AS z, zs_utf8_meta(text, array('a', 'b')) AS m "
            "FROM mixed_utf8"
        ).collect()
        assert sorted((r.id, r.z is None, r.m.status) for r in rows) == [
            *((i, False, "classified") for i in range(4)),
            *((i, True, "invalid_text") for i in range(10, 15)),
        ]
    else:  # the function is the pandas UDF itself: the call casts the text (its docstring says why)
        function = register_sql_function(spark, "zs_utf8", model=tiny_model)
        rows = spark.sql(
            "SELECT id, zs_utf8(CAST(text AS BINARY), array('a', 'b')) AS z FROM mixed_utf8"
        ).collect()
        assert sorted((r.id, r.z.labels is None) for r in rows) == [
            *((i, False) for i in range(4)),
            *((i, True) for i in range(10, 15)),
        ]
    assert function.metrics()["skipped_invalid_text"] == 5
    frame.write.parquet(str(tmp_path / "in.parquet"))
    summary_file = tmp_path / "summary.json"
    flags = [*input_flags(tmp_path / "in.parquet", "a,b"), "--model", tiny_model]
    assert (
        main(["classify", *flags, "--output", str(tmp_path / "out"), "--summary-json", str(summary_file)])
        == 0
    )
    summary = json.loads(summary_file.read_text())
    assert (summary["rows_written"], summary["classified"]) == (9, 4)
    assert summary["skipped_by_reason"] == {"invalid_text": 5}
    written = {r.id: r.zsc_meta.status for r in spark.read.parquet(str(tmp_path / "out")).collect()}
    assert sorted(i for i, status in written.items() if status == "invalid_text") == list(range(10, 15))


@needs_sql_functions
def test_labels_that_are_not_utf8_are_dropped_like_blank_ones(spark, tiny_model):
    from spark_zsc import register_sql_function

    bad = "CAST(X'C328' AS STRING)"
    frame = spark.sql(
        f"SELECT * FROM VALUES (0, 'The team won', array('sports', {bad}, 'finance')), "
        f"(1, 'The team won', array({bad})) AS t(id, text, labels)"
    )
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="labels", lineageCol="meta")
    register_sql_function(spark, "zs_utf8_labels", model=tiny_model)
    frame.createOrReplaceTempView("utf8_labels")
    by_sql = {
        r.id: r.z
        for r in spark.sql("SELECT id, zs_utf8_labels(text, labels) AS z FROM utf8_labels").collect()
    }
    out = {r.id: r for r in clf.transform(frame).collect()}
    assert sorted(out[0].zsc.labels) == sorted(by_sql[0].labels) == ["finance", "sports"]
    assert out[1].zsc is None and by_sql[1] is None and out[1].meta.status == "no_labels"
