"""DistilledClassifier: a student (logistic regression over sentence embeddings, trained with
Spark ML) learns a zero-shot teacher's labels on a sample, is measured against it on rows held
out, and answers with the classifier's struct, deferring to the teacher where unsure.

The teacher of most tests is the embedding strategy on the tiny encoder the student reads
too: its scores are a softmax of a linear function of the embedding, which a multinomial
logistic regression can learn, so the student must agree with it closely.

A fit's stages leave more idle Python workers in the test session than it has cores (its
teacher's and its encoder's UDFs are served from two worker pools), and the tests that count
model loads per worker (test_classifier, test_streaming) assume one worker per core: this
module's name keeps it after them."""

from __future__ import annotations

import json
import random
import re
import shutil

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel

from spark_zsc import ConfigError, DistilledClassifier, DistilledClassifierModel, ZeroShotClassifier
from spark_zsc.errors import AgreementTooLow

from helpers import LABELS, SENTENCES, run_here

WORDS = sorted({word.strip(".,!?") for sentence in SENTENCES[:9] for word in sentence.lower().split()})


def texts(count: int, seed: int) -> list[str]:
    """`count` distinct texts of 4 to 9 words the tiny encoder knows."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        out.add(" ".join(rng.choices(WORDS, k=rng.randint(4, 9))))
    return sorted(out)


@pytest.fixture(scope="module")
def corpus(spark):
    rows = [(i, text) for i, text in enumerate(texts(400, seed=3))]
    return spark.createDataFrame(rows + [(400, None), (401, "   ")], "id long, text string")


def embedding_teacher(tiny_encoder, **params) -> ZeroShotClassifier:
    return ZeroShotClassifier(
        model=tiny_encoder,
        strategy="embedding",
        embeddingModel=tiny_encoder,
        candidateLabels=LABELS,
        temperature=0.02,
        **params,
    )


def distiller(tiny_encoder, teacher=None, **params) -> DistilledClassifier:
    settings = dict(
        inputCol="text", embeddingModel=tiny_encoder, sampleRows=300, maxIter=50, minAgreement=0.0
    )
    return DistilledClassifier(teacher=teacher or embedding_teacher(tiny_encoder), **{**settings, **params})


@pytest.fixture(scope="module")
def student(corpus, tiny_encoder) -> DistilledClassifierModel:
    return distiller(tiny_encoder, keepShare=0.5, holdoutFraction=0.3, lineageCol="made_by").fit(corpus)


def texts_by_id(frame) -> dict:
    return {row.id: row.text for row in frame.collect()}


def by_id(frame, column="zsc") -> dict:
    return {row.id: row[column] for row in frame.collect()}


def test_the_student_learns_its_teacher_and_says_how_well(student, corpus, tiny_encoder):
    report = student.report()
    assert report["sample_rows"] == 300
    assert 60 <= report["held_out_rows"] <= 120
    trained_on = report["sample_rows"] - report["held_out_rows"]
    # half of each label's rows, rounded up per label
    assert 0.5 <= report["kept_share"] <= 0.5 + len(LABELS) / trained_on
    assert report["kept_rows"] == round(report["kept_share"] * trained_on)
    # 0.80 to 0.89 over several builds of the tiny encoder (its vocabulary differs by build); a
    # student always naming the teacher's most frequent label would score its share
    majority = max(figures["rows"] for figures in report["per_label"].values()) / report["held_out_rows"]
    assert report["agreement"] >= max(0.7, majority + 0.2), report
    assert set(report["per_label"]) == set(LABELS)
    assert sum(figures["rows"] for figures in report["per_label"].values()) == report["held_out_rows"]
    assert [row["defer_below"] for row in report["cascade"]] == [0.5, 0.6, 0.7, 0.8, 0.9]
    shares = [row["deferred_share"] for row in report["cascade"]]
    assert shares == sorted(shares)  # a higher threshold defers more rows, never fewer
    assert all(row["agreement"] >= report["agreement"] for row in report["cascade"])
    assert report["examples"] == {"trained": 0, "weight": None, "held_out": 0, "accuracy": None}

    teacher = by_id(embedding_teacher(tiny_encoder, inputCol="text").transform(corpus))
    answers = by_id(student.transform(corpus))
    assert answers[400] is None and answers[401] is None  # null and blank texts, as the classifier
    agree = [answers[i].label == teacher[i].label for i in range(400)]
    assert sum(agree) / 400 >= 0.7
    for answer in list(answers.values())[:400]:
        assert sorted(answer.labels) == sorted(LABELS)
        assert list(answer.scores) == sorted(answer.scores, reverse=True)
        assert answer.label == answer.labels[0] and answer.score == answer.scores[0]
        assert abs(sum(answer.scores) - 1) < 1e-9
    assert student.metrics()["classified"] >= 400 and student.metrics()["deferred"] == 0


def test_the_students_scores_are_its_spark_ml_models(student, corpus):
    """The workers score with the coefficients of Spark ML's model: the same probabilities as
    LogisticRegressionModel.transform over the same embeddings."""
    from pyspark.ml.functions import array_to_vector

    from spark_zsc.runtime.distribution import ship_models
    from spark_zsc.spark.distilled_model import student_config
    from spark_zsc.spark.driver import models_for
    from spark_zsc.spark.student_udf import build_embed_udf

    spark = corpus.sparkSession
    config = student_config(spark, student.student)
    embed = build_embed_udf(
        ship_models(spark, models_for(config)), config.engine, config.strategy_options, student.labels
    )
    rows = corpus.where("id < 20").withColumn("features", array_to_vector(embed(corpus.text.cast("binary"))))
    [learner] = student.learners
    expected = {row.id: row.probability.toArray() for row in learner.transform(rows).collect()}
    for row_id, answer in by_id(student.transform(corpus.where("id < 20"))).items():
        got = dict(zip(answer.labels, answer.scores))
        assert np.allclose([got[label] for label in student.labels], expected[row_id], atol=1e-9)


def test_lineage_names_teacher_student_and_agreement(student, corpus, tiny_encoder):
    origin = student.origin()
    assert origin["teacher"]["model"] == tiny_encoder and origin["teacher"]["labels"] == LABELS
    assert origin["teacher"]["template"] == "This example is {}."
    assert len(origin["teacher"]["model_sha256"]) == 64
    assert origin["student"]["embedding_model_sha256"] == origin["teacher"]["embedding_model_sha256"]
    assert origin["student"]["learner"] == "pyspark.ml LogisticRegression, multinomial"
    assert origin["agreement"] == student.report()["agreement"]
    lineage = student.lineage()
    assert lineage.config["student"]["sha256"] == student.fingerprint
    assert lineage.config["teacher"]["config_sha256"] == origin["teacher"]["config_sha256"]
    # each row's lineage is the classifier's struct: the teacher's model, the student's encoder
    [row] = student.transform(corpus.where("id = 0")).collect()
    assert row.made_by.model_sha256 == origin["teacher"]["model_sha256"]
    assert row.made_by.strategy == "distilled" and row.made_by.labels == LABELS
    assert row.made_by.config_sha256 == lineage.config_sha256 and row.made_by.status == "classified"
    deferring = student.copy().setDeferBelow(0.5)
    assert deferring.lineage().config_sha256 != lineage.config_sha256  # what changes a label is hashed


def test_saved_and_loaded_alone_and_in_a_pipeline(student, corpus, tiny_encoder, tmp_path):
    expected = by_id(student.transform(corpus))
    student.write().overwrite().save(str(tmp_path / "student"))
    loaded = DistilledClassifierModel.load(str(tmp_path / "student"))
    assert loaded.report() == student.report() and loaded.origin() == student.origin()
    assert loaded.lineage() == student.lineage()
    assert loaded.getLineageCol() == "made_by"
    assert by_id(loaded.transform(corpus)) == expected

    pipeline = Pipeline(stages=[distiller(tiny_encoder, keepShare=0.5, holdoutFraction=0.3, sampleRows=120)])
    fitted = pipeline.fit(corpus)
    fitted.write().overwrite().save(str(tmp_path / "pipeline"))
    reloaded = PipelineModel.load(str(tmp_path / "pipeline"))
    assert isinstance(reloaded.stages[0], DistilledClassifierModel)
    assert by_id(reloaded.transform(corpus)) == by_id(fitted.transform(corpus))


def test_unsure_rows_go_to_the_teacher_with_its_exact_scores(student, corpus, tiny_encoder, tmp_path):
    alone = by_id(student.transform(corpus))
    threshold = float(np.median([answer.score for answer in alone.values() if answer is not None]))
    student.write().overwrite().save(str(tmp_path / "cascade"))
    cascade = DistilledClassifierModel.load(str(tmp_path / "cascade")).setDeferBelow(threshold)
    rows = cascade.transform(corpus).collect()  # one action: the counters count each action's rows
    answers = {row.id: row.zsc for row in rows}
    teacher = by_id(embedding_teacher(tiny_encoder, inputCol="text").transform(corpus))
    unsure = {i for i, answer in alone.items() if answer is not None and answer.score < threshold}
    assert 150 <= len(unsure) <= 250
    for i, answer in answers.items():
        expected = teacher[i] if i in unsure else alone[i]
        assert answer == expected
    assert cascade.metrics()["deferred"] == len(unsure)


def test_multi_label_learns_one_binary_model_per_label(corpus, tiny_encoder, tmp_path):
    teacher = embedding_teacher(tiny_encoder, multiLabel=True, threshold=0.5)
    model = distiller(tiny_encoder, teacher, sampleRows=150, keepShare=1.0).fit(corpus)
    assert len(model.learners) == len(LABELS)
    assert model.origin()["student"]["learner"] == "pyspark.ml LogisticRegression, binomial, one per label"
    answers = by_id(model.transform(corpus.where("id < 30")))
    assert any(abs(sum(answer.scores) - 1) > 0.01 for answer in answers.values())  # not a softmax
    model.write().overwrite().save(str(tmp_path / "multi"))
    assert (
        by_id(DistilledClassifierModel.load(str(tmp_path / "multi")).transform(corpus.where("id < 30")))
        == answers
    )


def test_labelled_examples_join_the_training_and_are_measured(student, corpus, tiny_encoder):
    """Examples given as a DataFrame, and as gold labels on some rows of the input."""
    spark = corpus.sparkSession
    examples = spark.createDataFrame(
        [(text, "sports") for text in texts(40, seed=11)], "text string, label string"
    )
    gold = corpus.selectExpr("*", "CASE WHEN id % 10 = 0 AND id < 400 THEN 'sports' END AS label")
    taught = distiller(tiny_encoder, sampleRows=120, labelCol="label", exampleWeight=50.0).setExamples(
        examples
    )
    taught = taught.fit(gold)
    figures = taught.report()
    assert figures["sample_rows"] == 120  # the rows with a gold label are examples, not sample rows
    assert figures["examples"]["trained"] + figures["examples"]["held_out"] == 80
    assert figures["examples"]["held_out"] > 0 and figures["examples"]["weight"] == 50.0
    assert figures["examples"]["accuracy"] > 0.5

    def sports(model):
        return sum(answer.label == "sports" for answer in by_id(model.transform(corpus)).values() if answer)

    assert sports(taught) > sports(student) + 50


def test_under_min_agreement_the_fit_refuses_with_its_figures(corpus, tiny_encoder):
    """A student regularized this hard barely learns: it agrees with its teacher on about half the
    rows (0.3 to 0.5 here), far under 0.99."""
    with pytest.raises(AgreementTooLow) as refused:
        distiller(tiny_encoder, sampleRows=100, regParam=1000.0, minAgreement=0.99).fit(corpus)
    message, report = str(refused.value), refused.value.report
    assert report["agreement"] < 0.99 and set(report["per_label"]) == set(LABELS)
    assert f"{report['agreement']:.1%} of {report['held_out_rows']} held-out rows" in message
    assert "under minAgreement 0.99" in message and "Try: a larger sampleRows (now 100)" in message


def test_a_student_refuses_an_encoder_other_than_the_one_it_was_fitted_with(
    student, corpus, tiny_encoder, tmp_path
):
    """Its weights mean nothing over another encoder's embeddings: a different model under the
    name it was fitted with (a new hub revision, another folder at the same path) is refused
    before any work, instead of labelling under a lineage that names the fitted one."""
    changed = tmp_path / "encoder"
    shutil.copytree(tiny_encoder, changed)
    config = json.loads((changed / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    moved = student.copy()
    moved.student = {**student.student, "embeddingModel": str(changed)}
    with pytest.raises(ConfigError, match="is not the one this student was fitted with"):
        moved.transform(corpus)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(teacher=None), "teacher is not set"),
        (dict(inputCol="nope"), "inputCol 'nope' is not a column"),
        (dict(teacher="per-row labels"), "a student learns one label set"),
        (dict(labelCol="id"), "labelCol 'id' must be a string column"),
        (dict(examples=[("a text", "weather")]), "labels the teacher does not have: 'weather'"),
        (dict(sampleRows=1), r"rows of [01] label\(s\) \(.*\): it needs rows of at least two labels"),
    ],
)
def test_config_errors_say_what_to_change(corpus, tiny_encoder, change, message):
    params = dict(inputCol="text", embeddingModel=tiny_encoder, teacher=embedding_teacher(tiny_encoder))
    examples = change.pop("examples", None)
    params.update(change)
    if params["teacher"] == "per-row labels":
        params["teacher"] = ZeroShotClassifier(
            model=tiny_encoder, strategy="embedding", embeddingModel=tiny_encoder, labelsCol="labels"
        )
    estimator = DistilledClassifier(**{name: value for name, value in params.items() if value is not None})
    if examples:
        estimator.setExamples(corpus.sparkSession.createDataFrame(examples, "text string, label string"))
    with pytest.raises(ConfigError, match=message):
        estimator.fit(corpus.selectExpr("id", "text", "array('a', 'b') AS labels"))


@pytest.mark.parametrize(
    "param, value",
    [
        ("sampleRows", 0),
        ("holdoutFraction", 1.0),
        ("keepShare", 0.0),
        ("minAgreement", 1.5),
        ("deferBelow", -0.1),
    ],
)
def test_out_of_range_params_are_refused_when_set(param, value):
    with pytest.raises(ConfigError, match=f"^{param} (must be|is a score)"):
        DistilledClassifier(**{param: value})


# -- the jobs: distill writes a student, classify --student applies it ------------------------


def test_distill_writes_a_student_that_classify_applies_with_lineage(corpus, tiny_encoder, tmp_path):
    from spark_zsc.jobs.cli import main

    corpus.write.parquet(str(tmp_path / "in"))
    teacher = ["--input", str(tmp_path / "in"), "--text-col", "text", "--labels", ",".join(LABELS)]
    teacher += ["--strategy", "embedding", "--embedding-model", tiny_encoder, "--temperature", "0.02"]
    distilled = run_here(
        ["distill", *teacher, "--sample-rows", "150", "--keep-share", "0.5", "--min-agreement", "0"]
        + ["--max-iter", "50", "--output", str(tmp_path / "student")],
        tmp_path,
    )
    assert distilled["sample_rows"] == 150 and set(distilled["per_label"]) == set(LABELS)
    assert 0 < distilled["agreement"] <= 1 and len(distilled["cascade"]) == 5
    student = DistilledClassifierModel.load(str(tmp_path / "student"))
    assert student.report()["agreement"] == distilled["agreement"]

    # under --min-agreement nothing is written, and the exit status says why
    refused = [*teacher, "--sample-rows", "60", "--reg-param", "1000", "--min-agreement", "0.99"]
    refused += ["--output", str(tmp_path / "none")]
    assert main(["distill", *refused]) == 5 and not (tmp_path / "none").exists()

    threshold = 0.6
    summary = run_here(
        ["classify", "--input", str(tmp_path / "in"), "--text-col", "text", "--id-col", "id"]
        + ["--student", str(tmp_path / "student"), "--defer-below", str(threshold)]
        + ["--output", str(tmp_path / "out")],
        tmp_path,
    )
    written = {row.id: row for row in corpus.sparkSession.read.parquet(str(tmp_path / "out")).collect()}
    alone = by_id(student.transform(corpus))
    teacher_results = by_id(embedding_teacher(tiny_encoder, inputCol="text").transform(corpus))
    unsure = {i for i, answer in alone.items() if answer is not None and answer.score < threshold}
    assert unsure and summary["deferred"] == len(unsure) and summary["strategy"] == "distilled"
    assert summary["rows_written"] == 402 and summary["classified"] == 400
    lineage = student.copy().setDeferBelow(threshold).lineage()
    for i, row in written.items():
        assert row.zsc == (teacher_results[i] if i in unsure else alone[i])
        assert row.zsc_meta.strategy == "distilled"
        assert row.zsc_meta.config_sha256 == lineage.config_sha256

    # evaluate measures a student as any model: against gold labels that are its teacher's, its
    # accuracy is its agreement with the teacher
    gold = [(i, text, teacher_results[i].label) for i, text in texts_by_id(corpus).items() if i < 400]
    corpus.sparkSession.createDataFrame(gold, "id long, text string, gold string").write.parquet(
        str(tmp_path / "gold")
    )
    evaluated = run_here(
        ["evaluate", "--input", str(tmp_path / "gold"), "--text-col", "text", "--gold-col", "gold"]
        + ["--labels", ",".join(LABELS), "--student", str(tmp_path / "student")]
        + ["--report", str(tmp_path / "report")],
        tmp_path,
    )
    agreeing = sum(alone[i].label == teacher_results[i].label for i in range(400))
    assert evaluated["strategy"] == "distilled" and evaluated["rows"] == 400
    assert evaluated["runs"][0]["accuracy"] == pytest.approx(agreeing / 400)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--student", "s", "--labels", "a,b"], "--student answers with its own labels.*drop --labels"),
        (["--labels", "a,b", "--defer-below", "0.5"], "--defer-below goes with --student"),
        (["--student", "s", "--multi-label"], "drop --multi-label"),
    ],
)
def test_classify_student_flags_that_contradict_it_fail_before_spark(tmp_path, capsys, flags, message):
    from spark_zsc.jobs.cli import main

    assert main(["classify", "--input", "in", "--text-col", "text", "--output", "out", *flags]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_distill_and_evaluate_flags_that_contradict_a_student_fail_before_spark(tmp_path, capsys):
    from spark_zsc.jobs.cli import main

    flags = ["--input", "in", "--text-col", "text", "--labels-col", "labels", "--output", "out"]
    assert main(["distill", *flags]) == 2
    assert "a student learns one label set" in capsys.readouterr().err
    evaluate = ["evaluate", "--input", "in", "--text-col", "text", "--gold-col", "g", "--report", "r"]
    assert main([*evaluate, "--labels", "a,b", "--template", "{}", "--student", "s"]) == 2
    assert "drop --template" in capsys.readouterr().err
