"""The SQL function against the Transformer and the HF pipeline."""

from __future__ import annotations

import pytest

from spark_zsc import ConfigError, register_sql_function

from helpers import LABELS, SQL_FUNCTIONS, TEXTS, assert_same_result, unclassified_in_sql


def test_sql_function_scores_like_the_pipeline_and_nulls_null_text(spark, tiny_model, hf_pipeline):
    function = register_sql_function(spark, "zero_shot", model=tiny_model, multi_label=True)
    rows = list(enumerate(TEXTS)) + [(100, None), (101, "  ")]
    spark.createDataFrame(rows, "id long, text string").createOrReplaceTempView("tickets")
    labels_sql = ", ".join(f"'{l}'" for l in LABELS)
    result = {
        r.id: r.z
        for r in spark.sql(f"SELECT id, zero_shot(text, array({labels_sql})) AS z FROM tickets").collect()
    }
    assert len(result) == len(rows)
    assert unclassified_in_sql(result[100]) and unclassified_in_sql(result[101])
    for i, text in enumerate(TEXTS):
        assert_same_result(hf_pipeline(text, candidate_labels=LABELS, multi_label=True), result[i].asDict())
    metrics = function.metrics()
    assert metrics["rows"] == len(rows)  # the UDF ran once per row, not once per reference in the SQL body
    assert metrics["classified"] == len(TEXTS)


def test_sql_function_with_labels_from_a_column(spark, tiny_model, hf_pipeline):
    register_sql_function(spark, "zs_topic", model=tiny_model, hypothesis_template="Topic: {}")
    row = spark.sql("SELECT zs_topic('Our team won the final!', split('sports,finance', ',')) AS z").head()
    assert_same_result(
        hf_pipeline(
            "Our team won the final!", candidate_labels=["sports", "finance"], hypothesis_template="Topic: {}"
        ),
        row.z.asDict(),
    )


def test_sql_function_with_the_embedding_strategy(spark, tiny_model, tiny_encoder):
    from pyspark.sql import functions as F

    from spark_zsc import ZeroShotClassifier

    register_sql_function(spark, "zs_embed", strategy="embedding", embedding_model=tiny_encoder)
    frame = spark.createDataFrame(list(enumerate(TEXTS)), "id long, text string")
    frame.createOrReplaceTempView("texts_for_embedding")
    labels_sql = ", ".join(f"'{l}'" for l in LABELS)
    by_sql = {
        r.id: r.z
        for r in spark.sql(
            f"SELECT id, zs_embed(text, array({labels_sql})) AS z FROM texts_for_embedding"
        ).collect()
    }
    clf = ZeroShotClassifier(
        strategy="embedding", embeddingModel=tiny_encoder, inputCol="text", labelsCol="labels"
    )
    by_classifier = {
        r.id: r.zsc for r in clf.transform(frame.withColumn("labels", F.array(*map(F.lit, LABELS)))).collect()
    }
    assert by_sql == by_classifier and len(by_sql) == len(TEXTS)


def test_sql_function_bad_options(spark, tiny_model):
    with pytest.raises(ConfigError, match="plain identifier"):
        register_sql_function(spark, "drop table x", model=tiny_model)
    with pytest.raises(ConfigError, match="exactly one"):
        register_sql_function(spark, "zs", model=tiny_model, hypothesis_template="none")
    with pytest.raises(ConfigError, match="is not a sentence encoder"):
        register_sql_function(spark, "zs", strategy="embedding", embedding_model=tiny_model)


@pytest.mark.skipif(SQL_FUNCTIONS, reason="this Spark has SQL functions: lineage is registered")
def test_without_sql_functions_lineage_is_refused_before_any_work(spark, tmp_path):
    """Spark 3.5 has no SQL functions, which name_meta is: refused before a model is looked
    for, saying what records lineage there; nothing left registered."""
    with pytest.raises(
        ConfigError, match="lineage=True registers zs_lineage_meta as a SQL function .* lineageCol"
    ):
        register_sql_function(spark, "zs_lineage", model=str(tmp_path / "no_model_here"), lineage=True)
    assert not spark.catalog.functionExists("zs_lineage")
    assert not spark.catalog.functionExists("spark_zsc_sql_function_probe")


@pytest.mark.skipif(SQL_FUNCTIONS, reason="this Spark has SQL functions: the function casts the text itself")
def test_without_sql_functions_text_cast_to_binary_that_is_not_utf8_goes_unclassified(spark, tiny_model):
    """Where the function is the pandas UDF itself, a call that casts its text to bytes gets
    a struct of nulls for a text that is not UTF-8, and the other rows of its batch classified."""
    function = register_sql_function(spark, "zs_bytes", model=tiny_model)
    rows = spark.sql(
        "SELECT id, zs_bytes(CAST(text AS BINARY), array('sports', 'finance')) AS z FROM VALUES "
        "(0, 'The team won'), (1, CAST(X'C328' AS STRING)) AS t(id, text)"
    ).collect()
    by_id = {r.id: r.z for r in rows}
    assert by_id[0].labels and by_id[1].labels is None
    assert function.metrics()["skipped_invalid_text"] == 1
    # no SQL function gives the labels a default: the call itself says what is missing
    with pytest.raises(Exception, match="called with a text and no labels"):
        spark.sql("SELECT zs_bytes('The team won')").collect()
