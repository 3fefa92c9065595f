"""dedupe="input": every copy of a text scored once in the whole input, no row lost or changed."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from spark_zsc import ZeroShotClassifier, register_sql_function

from helpers import LABELS, TEXTS, assert_same_result

DISTINCT = list(dict.fromkeys(TEXTS))


@contextmanager
def _conf(spark, key: str, value: str):
    before = spark.conf.get(key)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        spark.conf.set(key, before)


def _spread(spark, texts, partitions=6):
    """Rows dealt round-robin over partitions: every text's copies land in several of them."""
    return spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(partitions)


def test_each_distinct_text_is_scored_once_in_the_whole_input(spark, tiny_model, hf_pipeline):
    texts = TEXTS * 3 + [None, "  "]
    frame = _spread(spark, texts)
    grouped = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, dedupe="input")
    by_batch = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
    with _conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "1000"):  # a partition, one batch
        rows = grouped.transform(frame).collect()
        by_batch.transform(frame).collect()
    assert sorted(r.id for r in rows) == list(range(len(texts)))  # nothing lost, nothing doubled
    reference = {t: hf_pipeline(t, candidate_labels=LABELS) for t in DISTINCT}
    for row in rows:
        if texts[row.id] is None or not texts[row.id].strip():
            assert row.zsc is None
        else:
            assert row.text == texts[row.id]
            assert_same_result(reference[row.text], row.zsc.asDict())
    assert grouped.metrics()["forward_pairs"] == len(DISTINCT) * len(LABELS)
    assert by_batch.metrics()["forward_pairs"] > grouped.metrics()["forward_pairs"]
    assert grouped.metrics()["pairs"] == by_batch.metrics()["pairs"] == len(TEXTS) * 3 * len(LABELS)


def test_copies_sit_side_by_side_so_arrow_batches_split_few(spark, tiny_model):
    texts = TEXTS * 4  # 32 rows in one partition: two Arrow batches of 16
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, dedupe="input")
    with _conf(spark, "spark.sql.shuffle.partitions", "1"):
        out = clf.transform(_spread(spark, texts, partitions=4))
        assert out.rdd.getNumPartitions() == 1  # the setting's number, not coalesced
        rows = out.collect()
    assert len(rows) == len(texts) and all(row.zsc is not None for row in rows)
    # unsorted, most texts would be in both batches; sorted, only one text can straddle the boundary
    assert clf.metrics()["forward_pairs"] <= (len(DISTINCT) + 1) * len(LABELS)


def test_per_row_labels_run_each_distinct_pair_once(spark, tiny_model, hf_pipeline):
    label_sets = [LABELS, ["sports", "finance"], ["billing", "outage"]]
    rows = [(i, text, label_sets[i % 3]) for i, text in enumerate(TEXTS * 3)]
    frame = spark.createDataFrame(rows, "id long, text string, labels array<string>").repartition(5)
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="labels", dedupe="input")
    with _conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "1000"):
        results = {r.id: r.zsc for r in clf.transform(frame).collect()}
    assert sorted(results) == [i for i, _, _ in rows]
    for i, text, labels in rows:
        assert_same_result(hf_pipeline(text, candidate_labels=labels), results[i].asDict())
    distinct_pairs = {(text, label) for _, text, labels in rows for label in labels}
    assert clf.metrics()["forward_pairs"] == len(distinct_pairs)


def test_in_sql_a_repartition_hint_and_sort_by_do_the_same(spark, tiny_model):
    """The docs' SQL recipe (python-and-sql.md): classify from a subquery that repartitions and sorts by the text."""
    _spread(spark, TEXTS * 3).createOrReplaceTempView("repeated_texts")
    function = register_sql_function(spark, "zs_grouped", model=tiny_model)
    labels = ", ".join(f"'{label}'" for label in LABELS)
    with _conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "1000"):
        rows = spark.sql(
            f"SELECT id, zs_grouped(text, array({labels})) AS zsc FROM "
            "(SELECT /*+ REPARTITION(4, text) */ * FROM repeated_texts SORT BY text)"
        ).collect()
    assert sorted(r.id for r in rows) == list(range(len(TEXTS) * 3))
    assert all(row.zsc is not None for row in rows)
    assert function.metrics()["forward_pairs"] == len(DISTINCT) * len(LABELS)


def test_the_sql_function_says_dedupe_is_not_its_option(spark, tiny_model):
    with pytest.raises(
        TypeError, match=r"no option dedupe \(dedupe: a ZeroShotClassifier and job option only\)"
    ):
        register_sql_function(spark, "zs_dedupe", model=tiny_model, dedupe="input")


def test_an_unknown_scope_is_refused_on_the_driver(spark, tiny_model):
    from spark_zsc import ConfigError

    with pytest.raises(ConfigError, match="dedupe must be one of batch, input; got 'table'"):
        ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=LABELS, dedupe="table"
        ).transform(_spread(spark, TEXTS))
