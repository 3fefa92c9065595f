"""ZeroShotClassifier on a local[2] Spark session, against the HF pipeline."""

from __future__ import annotations

import shutil

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import functions as F

from spark_zsc import ConfigError, ZeroShotClassifier
from spark_zsc.testing import build_random_nli_model

from helpers import LABELS, SENTENCES, TEXTS, assert_same_result


def _text_frame(spark, texts, partitions=4):
    return spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(partitions)


def _by_id(frame, column="zsc"):
    return {row.id: row[column] for row in frame.collect()}


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("multi_label,template", [(False, "This example is {}."), (True, "Topic: {}")])
def test_fixed_labels_equal_the_hf_pipeline(spark, tiny_model, hf_pipeline, multi_label, template, backend):
    texts = TEXTS * 3
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        multiLabel=multi_label,
        hypothesisTemplate=template,
        backend=backend,
    )
    results = _by_id(clf.transform(_text_frame(spark, texts, partitions=5)))
    assert sorted(results) == list(range(len(texts)))
    for i, text in enumerate(texts):
        reference = hf_pipeline(
            text, candidate_labels=LABELS, multi_label=multi_label, hypothesis_template=template
        )
        assert_same_result(reference, results[i].asDict())
        assert (results[i].label, results[i].score) == (
            reference["labels"][0],
            pytest.approx(reference["scores"][0], abs=1e-5),
        )


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_per_row_labels_equal_the_hf_pipeline(spark, tiny_model, hf_pipeline, backend):
    rows = [
        (i, text, labels)
        for i, (text, labels) in enumerate(
            zip(
                TEXTS,
                [LABELS, ["sports", "finance"], ["billing"], ["outage", "feature request", "sports"]] * 2,
            )
        )
    ]
    frame = spark.createDataFrame(rows, "id long, text string, labels array<string>").repartition(3)
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="labels", backend=backend)
    results = _by_id(clf.transform(frame))
    for i, text, labels in rows:
        assert_same_result(hf_pipeline(text, candidate_labels=labels), results[i].asDict())


def test_a_comma_separated_label_string_is_split_like_the_pipeline(spark, tiny_model, hf_pipeline):
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=" finance, sports ,, billing")
    assert clf.getCandidateLabels() == ["finance", "sports", "billing"]
    result = clf.transform(_text_frame(spark, TEXTS[:1])).head().zsc
    assert_same_result(hf_pipeline(TEXTS[0], candidate_labels="finance, sports, billing"), result.asDict())


def test_bad_rows_give_null_results_and_no_row_is_lost(spark, tiny_model):
    long_text = "word " * 60_000  # 300,000 characters
    texts = [
        None,
        "",
        "   ",
        "\n\t",
        "<s>old price</s> now 9.99",
        "a </s> b </s>",
        "<pad><mask>",
        long_text,
        "fine",
        "fine",
    ] * 3
    frame = _text_frame(spark, texts, partitions=3)
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, tokenBudget=256)
    out = clf.transform(frame)
    results = _by_id(out)
    assert sorted(results) == list(range(len(texts)))  # rows out = rows in, ids intact
    for i, text in enumerate(texts):
        if text is None or not text.strip():
            assert results[i] is None
        else:
            assert results[i] is not None and sorted(results[i].labels) == sorted(LABELS)
    metrics = clf.metrics()
    assert metrics["skipped_null_text"] == 3 and metrics["skipped_blank_text"] == 9
    assert metrics["classified"] == 18 and metrics["rows"] == 30
    assert out.filter(F.col("zsc").isNull()).count() == 12


def test_bad_per_row_labels_give_null_results(spark, tiny_model, hf_pipeline):
    rows = [
        (0, "fine text", None),
        (1, "fine text", []),
        (2, "fine text", [" ", "", None]),
        (3, "fine text", ["sports", " ", "finance", "sports"]),
        (4, None, ["sports"]),
    ]
    frame = spark.createDataFrame(rows, "id long, text string, labels array<string>")
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="labels")
    results = _by_id(clf.transform(frame))
    assert [results[i] for i in range(3)] == [None, None, None] and results[4] is None
    assert_same_result(hf_pipeline("fine text", candidate_labels=["sports", "finance"]), results[3].asDict())
    assert clf.metrics()["skipped_no_labels"] == 3


def _all_job_ids(spark):
    return set(spark.sparkContext.statusTracker().getJobIdsForGroup())


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(), "no candidate labels"),
        (dict(candidateLabels=[]), "no candidate labels"),
        (dict(candidateLabels=LABELS, labelsCol="labels"), "not both"),
        (dict(candidateLabels=["sports", " "]), "blank"),
        (dict(candidateLabels=LABELS, hypothesisTemplate="no placeholder"), "exactly one {}"),
        (dict(candidateLabels=LABELS, hypothesisTemplate="{} and {}"), "exactly one {}"),
        (dict(candidateLabels=LABELS, hypothesisTemplate="{label}"), "exactly one {}"),
        (dict(candidateLabels=LABELS, inputCol="missing"), "inputCol 'missing' is not a column"),
        (dict(candidateLabels=LABELS, inputCol="id"), "must be a string column"),
        (dict(labelsCol="missing"), "labelsCol 'missing' is not a column"),
        (dict(labelsCol="text"), "must be array<string>"),
        (dict(candidateLabels=LABELS, outputCol="text"), "already exists"),
        (dict(candidateLabels=LABELS, tokenBudget=-1), "tokenBudget"),
        (dict(candidateLabels=LABELS, batchRows=-5), "batchRows"),
        (dict(candidateLabels=LABELS, device="tpu"), "device"),
        (dict(candidateLabels=LABELS, model="/no/such/folder"), "does not exist"),
        (dict(candidateLabels=LABELS, strategy="keywords"), "strategy must be one of"),
        (dict(candidateLabels=LABELS, shortlist=0), "shortlist must be an integer, 1 or more"),
        (dict(candidateLabels=LABELS, shortlist=6), "shortlist 6 is more than the 5 candidate labels"),
        (
            dict(candidateLabels=LABELS, strategy="embedding", embeddingModel="<nli>"),
            "is not a sentence encoder",
        ),
        (dict(candidateLabels=LABELS, backend="tensorrt"), "backend must be one of"),
        (dict(candidateLabels=LABELS, backend="onnx", shortlist=2), "backend=onnx runs the NLI model alone"),
        (dict(candidateLabels=LABELS, backend="onnx", precision="bf16"), "backend=onnx runs fp32 or int8"),
        (dict(candidateLabels=LABELS, backend="onnx", device="cuda"), "backend=onnx runs on CPUs"),
        (dict(candidateLabels=LABELS, backend="onnx", distribution="path"), "backend=onnx ships the model"),
    ],
)
def test_config_errors_fail_on_the_driver_before_any_job(spark, tiny_model, kwargs, message):
    frame = _text_frame(spark, TEXTS[:2])
    jobs_before = _all_job_ids(spark)
    if kwargs.get("embeddingModel") == "<nli>":
        kwargs = {**kwargs, "embeddingModel": tiny_model}
    clf = ZeroShotClassifier(**{"model": tiny_model, "inputCol": "text", **kwargs})
    with pytest.raises(ConfigError, match=__import__("re").escape(message)):
        clf.transform(frame)
    assert _all_job_ids(spark) == jobs_before


def test_an_input_column_named_as_the_result_in_another_case_is_not_replaced(spark, tiny_model):
    """Spark resolves column names ignoring case: an input column `ZSC` is the column `zsc` the
    result would be written to, and the user's values would silently go."""
    frame = spark.createDataFrame([(1, "The site is down", "keep me")], "id long, text string, ZSC string")
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=["billing", "outage"])
    with pytest.raises(ConfigError, match="outputCol 'zsc' already exists in the input as 'ZSC'"):
        clf.transform(frame)
    lineage = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=["billing", "outage"],
        outputCol="z",
        lineageCol="zsc",
    )
    with pytest.raises(ConfigError, match="lineageCol 'zsc' already exists in the input as 'ZSC'"):
        lineage.transform(frame)
    both = ZeroShotClassifier(
        model=tiny_model, inputCol="text", candidateLabels=["x"], lineageCol="Result", outputCol="result"
    )
    with pytest.raises(ConfigError, match="lineageCol and outputCol name the same column"):
        both.transform(frame.drop("ZSC"))
    spark.conf.set("spark.sql.caseSensitive", "true")  # where Spark tells the two apart, so does the check
    try:
        out = clf.transform(frame).collect()[0]
        assert out["ZSC"] == "keep me" and out["zsc"].label in ("billing", "outage")
    finally:
        spark.conf.unset("spark.sql.caseSensitive")


def test_a_model_without_an_entailment_label_is_refused(spark, tmp_path):
    folder = build_random_nli_model(tmp_path, SENTENCES, vocab_size=300, label_names=("yes", "maybe", "no"))
    clf = ZeroShotClassifier(model=str(folder), inputCol="text", candidateLabels=LABELS)
    with pytest.raises(ConfigError, match="no label starting with 'entail'"):
        clf.transform(_text_frame(spark, TEXTS[:1]))


def test_an_unreachable_hub_says_how_to_pass_a_local_folder(spark, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    clf = ZeroShotClassifier(model="spark-zsc-tests/not-cached", inputCol="text", candidateLabels=LABELS)
    with pytest.raises(ConfigError, match="could not reach the Hugging Face hub.*model='/some/folder'"):
        clf.transform(_text_frame(spark, TEXTS[:1]))


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_weights_travel_by_broadcast_and_load_once_per_worker(spark, tmp_path, hf_pipeline, backend):
    """A model never seen by this session's workers, shipped by broadcast (its ONNX form under
    backend onnx): its folder is deleted after transform() and before the actions, and 12
    partitions over two actions load it at most once per Python worker (local[2]: two)."""
    from transformers import pipeline

    folder = tmp_path / "fresh_model"
    build_random_nli_model(
        folder, SENTENCES, vocab_size=450, seed=11 if backend == "torch" else 12
    )  # never loaded before
    reference = pipeline("zero-shot-classification", model=str(folder))
    texts = TEXTS * 6
    clf = ZeroShotClassifier(
        model=str(folder), inputCol="text", candidateLabels=LABELS, distribution="broadcast", backend=backend
    )
    out = clf.transform(_text_frame(spark, texts, partitions=12))
    shutil.rmtree(folder)
    first, second = _by_id(out), _by_id(out)
    assert first == second
    for i, text in enumerate(texts):
        assert_same_result(reference(text, candidate_labels=LABELS), first[i].asDict())
    metrics = clf.metrics()
    assert 1 <= metrics["model_loads"] <= spark.sparkContext.defaultParallelism
    assert metrics["rows"] == 2 * len(texts) and metrics["model_load_seconds"] > 0
    # a new classifier over the same weights reuses the workers' loaded model
    again = ZeroShotClassifier(
        model=clf.getModel(), inputCol="text", candidateLabels=["x", "y"], backend=backend
    )
    assert again.metrics()["model_loads"] == 0


def test_metrics_count_pairs_tokens_and_padding(spark, tiny_model):
    texts = TEXTS * 2
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
    clf.transform(_text_frame(spark, texts, partitions=2)).collect()
    metrics = clf.metrics()
    assert metrics["pairs"] == len(texts) * len(LABELS)
    assert metrics["forward_pairs"] < metrics["pairs"]  # duplicate texts ran once per batch
    assert metrics["tokens"] > 0 and 0 <= metrics["padded_tokens"] < 0.05 * metrics["tokens"] + 1
    assert metrics["forward_seconds"] > 0


def test_save_load_and_pipeline(spark, tiny_model, tmp_path):
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        outputCol="topic",
        candidateLabels=LABELS,
        hypothesisTemplate="About {}.",
        multiLabel=True,
        tokenBudget=1024,
    )
    frame = _text_frame(spark, TEXTS)
    expected = _by_id(clf.transform(frame), "topic")

    clf.save(str(tmp_path / "clf"))
    loaded = ZeroShotClassifier.load(str(tmp_path / "clf"))
    assert loaded.getCandidateLabels() == LABELS and loaded.getMultiLabel() is True
    assert loaded.getHypothesisTemplate() == "About {}." and loaded.getTokenBudget() == 1024
    assert _by_id(loaded.transform(frame), "topic") == expected

    fitted = Pipeline(stages=[clf]).fit(frame)
    fitted.write().overwrite().save(str(tmp_path / "pipeline"))
    reloaded = PipelineModel.load(str(tmp_path / "pipeline"))
    assert _by_id(reloaded.transform(frame), "topic") == expected


def test_params_have_docs_defaults_and_setters(tiny_model):
    clf = ZeroShotClassifier(inputCol="text", candidateLabels=LABELS)
    assert clf.getModel() == "valhalla/distilbart-mnli-12-1" and clf.getOutputCol() == "zsc"
    assert clf.getHypothesisTemplate() == "This example is {}." and clf.getMultiLabel() is False
    assert clf.setModel(tiny_model).setThreads(2).getThreads() == 2
    assert all(p.doc for p in clf.params)
    with pytest.raises(TypeError):
        ZeroShotClassifier("positional")


@pytest.mark.parametrize("slicing", [dict(batchRows=2), dict(pairBudget=2 * len(LABELS))])
def test_slices_of_arrow_batches_do_not_change_results(spark, tiny_model, hf_pipeline, slicing):
    texts = TEXTS * 3
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, **slicing)
    results = _by_id(clf.transform(_text_frame(spark, texts, partitions=1)))
    for i, text in enumerate(texts):
        assert_same_result(hf_pipeline(text, candidate_labels=LABELS), results[i].asDict())
    # each slice of at most two rows is its own engine call: duplicates are only merged inside one
    assert clf.metrics()["forward_pairs"] > len(set(texts)) * len(LABELS)


def _engine_results(engine, texts, labels, **kwargs):
    return dict(enumerate(engine.classify(texts, [labels] * len(texts), **kwargs)[0]))


def test_the_embedding_strategy_on_spark_equals_the_engine(spark, tiny_encoder):
    from transformers import AutoModel, AutoTokenizer

    from spark_zsc.engines.embedding import EmbeddingEngine

    texts = TEXTS * 2
    for multi_label in (False, True):
        clf = ZeroShotClassifier(
            strategy="embedding",
            embeddingModel=tiny_encoder,
            inputCol="text",
            candidateLabels=LABELS,
            multiLabel=multi_label,
            temperature=0.1,
        )
        results = _by_id(clf.transform(_text_frame(spark, texts + [None], partitions=3)))
        engine = EmbeddingEngine(
            AutoModel.from_pretrained(tiny_encoder),
            AutoTokenizer.from_pretrained(tiny_encoder),
            max_length=64,
            temperature=0.1,
        )  # 64: the encoder's sentence_bert_config
        expected = _engine_results(engine, texts, LABELS, multi_label=multi_label)
        assert results[len(texts)] is None
        for i in range(len(texts)):
            assert list(results[i].labels) == expected[i][2]
            assert list(results[i].scores) == pytest.approx(expected[i][3], abs=1e-6)
        assert clf.metrics()["forward_pairs"] == 0  # no NLI
        if not multi_label:  # (the second pass may find every embedding cached in its worker)
            assert clf.metrics()["embedded_texts"] > 0


def test_a_shortlist_on_spark_equals_nli_on_the_embedding_top_k(spark, tiny_model, tiny_encoder, hf_pipeline):
    texts = [t for t in TEXTS if len(t) < 200]
    frame = _text_frame(spark, texts, partitions=2)
    every = ZeroShotClassifier(
        model=tiny_model,
        embeddingModel=tiny_encoder,
        inputCol="text",
        candidateLabels=LABELS,
        shortlist=len(LABELS),
    )
    # a shortlist's NLI runs on torch: compared with torch's NLI, the scores are the same floats
    plain = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, backend="torch")
    assert _by_id(every.transform(frame)) == _by_id(plain.transform(frame))  # k = every label: exactly NLI

    top2 = ZeroShotClassifier(
        model=tiny_model, embeddingModel=tiny_encoder, inputCol="text", candidateLabels=LABELS, shortlist=2
    )
    ranking = ZeroShotClassifier(
        strategy="embedding",
        embeddingModel=tiny_encoder,
        inputCol="text",
        candidateLabels=LABELS,
        outputCol="by_embedding",
    )
    rows = ranking.transform(top2.transform(frame)).collect()
    for row in rows:
        shortlist = [l for l in LABELS if l in row.by_embedding.labels[:2]]
        assert_same_result(
            hf_pipeline(row.text, candidate_labels=shortlist),
            (None, None, row.zsc.labels[:2], row.zsc.scores[:2]),
        )
        assert row.zsc.scores[2:] == [0.0] * 3
    metrics = top2.metrics()
    assert metrics["pairs"] == 5 * len(texts) and metrics["shortlist_skipped_pairs"] == 3 * len(texts)
    assert metrics["forward_pairs"] <= 2 * len(texts)
