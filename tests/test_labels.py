"""Labels that say what they mean: descriptions read in the labels' place, "none of these"
under minScore, and long texts read whole in windows; on the engine, the Transformer, the
SQL function and the classify job, against the HF pipeline or an independent reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spark_zsc import ConfigError, ZeroShotClassifier, register_sql_function
from spark_zsc.engines.hypotheses import Hypotheses
from spark_zsc.engines.windows import LongText
from spark_zsc.jobs.cli import main

from helpers import LABELS, SENTENCES, TEXTS, assert_same_result
from processes import input_flags

TEMPLATE = "This example is {}."
# a phrase (read inside the template) and a sentence (read as written); the rest plain
DESCRIPTIONS = {
    "billing": "a charge, an invoice or a refund",
    "outage": "The service is down: no power, no network.",
}
LONG_TEXT = " ".join(SENTENCES) * 3  # about 580 tokens: past the tiny model's 128


def _hypothesis(label: str) -> str:
    """The rule, spelled out independently of the code."""
    description = DESCRIPTIONS.get(label)
    if description is None:
        return TEMPLATE.format(label)
    return description if description.endswith((".", "!", "?")) else TEMPLATE.format(description)


def _described_reference(hf_pipeline, text, labels, multi_label=False) -> dict:
    """The HF pipeline given the described hypotheses, with the short names put back."""
    hypotheses = {_hypothesis(label): label for label in labels}
    out = hf_pipeline(
        text, candidate_labels=list(hypotheses), hypothesis_template="{}", multi_label=multi_label
    )
    return {"labels": [hypotheses[h] for h in out["labels"]], "scores": out["scores"]}


def _frame(spark, texts):
    return spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(3)


def _from_sql(spark, function: str, texts) -> dict:
    """id -> the registered SQL function's result for each text, with LABELS."""
    _frame(spark, texts).createOrReplaceTempView("labelled_rows")
    labels = "array(" + ", ".join(f"'{label}'" for label in LABELS) + ")"
    return {
        r.id: r.zsc
        for r in spark.sql(f"SELECT id, {function}(text, {labels}) AS zsc FROM labelled_rows").collect()
    }


def _by_id(frame, column="zsc"):
    return {row.id: row[column] for row in frame.collect()}


def test_the_description_rule():
    wording = Hypotheses(TEMPLATE, DESCRIPTIONS)
    assert wording("billing") == "This example is a charge, an invoice or a refund."
    assert wording("outage") == "The service is down: no power, no network."
    assert wording("sports") == "This example is sports."


@pytest.mark.parametrize("multi_label", [False, True])
def test_descriptions_equal_the_pipeline_on_the_described_hypotheses(
    spark, tiny_model, hf_pipeline, multi_label
):
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        labelDescriptions=DESCRIPTIONS,
        multiLabel=multi_label,
    )
    results = _by_id(clf.transform(_frame(spark, TEXTS)))
    for i, text in enumerate(TEXTS):
        assert_same_result(_described_reference(hf_pipeline, text, LABELS, multi_label), results[i].asDict())
    # and they are not what the plain labels give: the descriptions were read
    plain = _by_id(
        ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS).transform(
            _frame(spark, TEXTS)
        )
    )
    assert any(abs(plain[i].scores[0] - results[i].scores[0]) > 1e-4 for i in range(len(TEXTS)))


def test_descriptions_with_per_row_labels_and_from_sql(spark, tiny_model, hf_pipeline):
    rows = [(i, text, LABELS[: 2 + i % 3]) for i, text in enumerate(TEXTS)]
    frame = spark.createDataFrame(rows, "id long, text string, labels array<string>")
    clf = ZeroShotClassifier(
        model=tiny_model, inputCol="text", labelsCol="labels", labelDescriptions=DESCRIPTIONS
    )
    results = _by_id(clf.transform(frame))
    for i, text, labels in rows:
        assert_same_result(_described_reference(hf_pipeline, text, labels), results[i].asDict())
    register_sql_function(spark, "zs_described", model=tiny_model, label_descriptions=DESCRIPTIONS)
    frame.createOrReplaceTempView("described_rows")
    from_sql = {
        r.id: r.zsc
        for r in spark.sql("SELECT id, zs_described(text, labels) AS zsc FROM described_rows").collect()
    }
    for i, text, labels in rows:
        assert_same_result(_described_reference(hf_pipeline, text, labels), from_sql[i].asDict())


# every label described, in an order of their own (not LABELS', not sorted)
ONLY_DESCRIBED = {
    "outage": "The service is down: no power, no network.",
    "billing": "a charge, an invoice or a refund",
    "sports": "a game, a match or a race",
}


def test_labels_given_only_with_descriptions_are_the_label_set_in_their_order(spark, tiny_model, tmp_path):
    """As users of ai_classify give {label: description} alone: the Transformer, the SQL function
    (the labels argument left out) and the job (--label flags only) classify into the described
    labels, as if they were also given as the candidate labels."""
    labels = list(ONLY_DESCRIBED)
    described = ZeroShotClassifier(
        model=tiny_model, inputCol="text", labelDescriptions=ONLY_DESCRIBED, lineageCol="meta"
    )
    explicit = ZeroShotClassifier(
        model=tiny_model, inputCol="text", candidateLabels=labels, labelDescriptions=ONLY_DESCRIBED
    )
    results = described.transform(_frame(spark, TEXTS)).collect()
    assert {r.id: r.zsc for r in results} == _by_id(explicit.transform(_frame(spark, TEXTS)))
    assert {tuple(r.meta.labels) for r in results} == {tuple(labels)}
    for row in results:
        assert sorted(row.zsc.labels) == sorted(labels)
    register_sql_function(spark, "zs_only_described", model=tiny_model, label_descriptions=ONLY_DESCRIBED)
    _frame(spark, TEXTS).createOrReplaceTempView("only_described_rows")
    in_sql = "array(" + ", ".join(f"'{label}'" for label in labels) + ")"
    rows = spark.sql(
        "SELECT id, zs_only_described(text) AS bare, "
        f"zs_only_described(text, {in_sql}) AS given FROM only_described_rows"
    ).collect()
    assert all(r.bare == r.given and r.bare is not None for r in rows)

    source = tmp_path / "tickets.parquet"
    _frame(spark, TEXTS).write.parquet(str(source))
    args = ["classify", "--input", str(source), "--text-col", "text", "--model", tiny_model]
    args += [f"--label={label}={description}" for label, description in ONLY_DESCRIBED.items()]
    assert main([*args, "--output", str(tmp_path / "out")]) == 0
    written = spark.read.parquet(str(tmp_path / "out"))
    assert _by_id(written) == _by_id(explicit.transform(spark.read.parquet(str(source))))
    assert {tuple(r.zsc_meta.labels) for r in written.collect()} == {tuple(labels)}


def test_a_description_of_no_candidate_label_is_refused_before_spark_works(spark, tiny_model):
    jobs_before = set(spark.sparkContext.statusTracker().getJobIdsForGroup())
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        labelDescriptions={"cooking": "food and recipes"},
    )
    with pytest.raises(ConfigError, match="labelDescriptions describes 'cooking'"):
        clf.transform(_frame(spark, TEXTS))
    with pytest.raises(ConfigError, match="otherLabel names the rows under minScore"):
        ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=LABELS, otherLabel="other"
        ).transform(_frame(spark, TEXTS))
    with pytest.raises(ConfigError, match="otherLabel 'sports' is one of the candidate labels"):
        ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=LABELS, minScore=0.5, otherLabel="sports"
        ).transform(_frame(spark, TEXTS))
    with pytest.raises(ConfigError, match="other_label names the rows under min_score"):
        register_sql_function(spark, "zs_refused", model=tiny_model, other_label="other")
    assert set(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs_before


# -- minScore -----------------------------------------------------------------------------------


def test_min_score_abstains_single_label_and_keeps_every_score(spark, tiny_model):
    plain = _by_id(
        ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS).transform(
            _frame(spark, TEXTS)
        )
    )
    cut = float(np.median([r.score for r in plain.values()]))  # about half the rows fall under it
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        minScore=cut,
        otherLabel="other",
        lineageCol="meta",
    )
    rows = clf.transform(_frame(spark, TEXTS)).collect()  # one action: the metrics count each row once
    results, lineage = {r.id: r.zsc for r in rows}, {r.id: r.meta for r in rows}
    under = {i for i, r in plain.items() if r.score < cut}
    assert 0 < len(under) < len(TEXTS)
    for i, r in results.items():
        assert (r.labels, r.scores) == (plain[i].labels, plain[i].scores)  # nothing thrown away
        assert r.label == ("other" if i in under else plain[i].label)
        assert lineage[i].status == ("below_min_score" if i in under else "classified")
    metrics = clf.metrics()
    assert metrics["below_min_score"] == len(under)
    assert metrics["top_labels"]["other"] == len(under)
    assert sum(metrics["top_labels"].values()) == len(TEXTS)

    null_label = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, minScore=cut)
    rows = _by_id(null_label.transform(_frame(spark, TEXTS)))
    assert {i for i, r in rows.items() if r is not None and r.label is None} == under  # the struct stays


def test_min_score_selects_multi_label_labels_in_the_transformer_and_sql(spark, tiny_model):
    clf = ZeroShotClassifier(
        model=tiny_model, inputCol="text", candidateLabels=LABELS, multiLabel=True, minScore=0.5
    )
    results = _by_id(clf.transform(_frame(spark, TEXTS)))
    for r in results.values():
        expected = [label for label, score in zip(r.labels, r.scores) if score >= 0.5]
        assert r.selected == expected
        assert r.label == (r.labels[0] if r.scores[0] >= 0.5 else None)
    register_sql_function(spark, "zs_selected", model=tiny_model, multi_label=True, min_score=0.5)
    from_sql = _from_sql(spark, "zs_selected", TEXTS)
    for i, r in results.items():
        assert from_sql[i].selected == r.selected


# -- long texts ---------------------------------------------------------------------------------


def _windowed_reference(tiny_model, text, labels, overlap, max_windows, multi_label):
    """The chunk rule computed directly with the tokenizer and the model: windows of the room
    beside the longest hypothesis, stepping room - overlap, the first max_windows; per label
    the best window (single-label: highest entailment logit, then softmax across labels)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model).eval()
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id

    def bart_pair(premise, hypothesis):  # BART's pair layout: <s> premise </s></s> hypothesis </s>
        return [bos, *premise, eos, eos, *hypothesis, eos]

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    hypotheses = [tokenizer(TEMPLATE.format(l), add_special_tokens=False)["input_ids"] for l in labels]
    room = (
        tokenizer.model_max_length
        - tokenizer.num_special_tokens_to_add(pair=True)
        - max(map(len, hypotheses))
    )
    step, starts = room - min(overlap, room // 2), [0]
    while starts[-1] + room < len(ids):
        starts.append(starts[-1] + step)
    windows = [ids[s : s + room] for s in starts[:max_windows]]
    with torch.no_grad():
        logits = np.array(
            [[model(torch.tensor([bart_pair(w, h)])).logits[0].numpy() for h in hypotheses] for w in windows],
            dtype=np.float64,
        )
    entail = next(i for name, i in model.config.label2id.items() if name.lower().startswith("entail"))
    if multi_label:
        pair = np.exp(logits[..., [0, entail]])
        scores = (pair[..., 1] / pair.sum(-1)).max(axis=0)
    else:
        best = np.exp(logits[..., entail].max(axis=0))
        scores = best / best.sum()
    order = np.argsort(-scores)
    return (
        {"labels": [labels[j] for j in order], "scores": list(scores[order])},
        len(windows),
        len(starts) > max_windows,
    )


@pytest.mark.parametrize("multi_label", [False, True])
def test_chunk_mode_reads_every_window_as_the_rule_says(spark, tiny_model, hf_pipeline, multi_label):
    texts = [LONG_TEXT, TEXTS[0], LONG_TEXT[:700]]
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        multiLabel=multi_label,
        longText="chunk",
        windowOverlap=16,
        maxWindows=4,
    )
    results = _by_id(clf.transform(_frame(spark, texts)))
    reference, windows, capped = _windowed_reference(tiny_model, LONG_TEXT, LABELS, 16, 4, multi_label)
    assert capped and windows == 4  # the cap bites on this text
    assert_same_result(reference, results[0].asDict())
    # a text that fits is read as the pipeline reads it
    fits = hf_pipeline(TEXTS[0], candidate_labels=LABELS, multi_label=multi_label)
    assert_same_result(fits, results[1].asDict())
    metrics = clf.metrics()
    assert (metrics["chunked_rows"], metrics["window_capped_rows"], metrics["truncated_rows"]) == (2, 1, 0)
    shorter, shorter_windows, shorter_capped = _windowed_reference(
        tiny_model, texts[2], LABELS, 16, 4, multi_label
    )
    assert 1 < shorter_windows <= 4 and not shorter_capped  # past the limit, under the cap
    assert_same_result(shorter, results[2].asDict())
    assert metrics["windows"] == 4 + shorter_windows

    register_sql_function(
        spark,
        "zs_chunked",
        model=tiny_model,
        multi_label=multi_label,
        long_text="chunk",
        window_overlap=16,
        max_windows=4,
    )
    from_sql = _from_sql(spark, "zs_chunked", texts)
    for i, result in results.items():
        assert_same_result(
            {"labels": list(result.labels), "scores": list(result.scores)}, from_sql[i].asDict()
        )

    truncating = ZeroShotClassifier(
        model=tiny_model, inputCol="text", candidateLabels=LABELS, multiLabel=multi_label
    )
    truncated = _by_id(truncating.transform(_frame(spark, texts)))
    assert_same_result(
        hf_pipeline(LONG_TEXT, candidate_labels=LABELS, multi_label=multi_label), truncated[0].asDict()
    )
    assert truncating.metrics()["truncated_rows"] == 2 and truncating.metrics()["chunked_rows"] == 0


def test_chunk_mode_in_the_embedding_strategy_takes_each_labels_best_window(tiny_encoder):
    from transformers import AutoModel, AutoTokenizer

    from spark_zsc.engines.embedding import EmbeddingEngine

    tokenizer, model = AutoTokenizer.from_pretrained(tiny_encoder), AutoModel.from_pretrained(tiny_encoder)
    engine = EmbeddingEngine(model, tokenizer, max_length=32)
    text = " ".join(SENTENCES[:4])
    results, stats = engine.classify([text], [LABELS], long_text=LongText("chunk", 8, 8), multi_label=True)
    assert stats.chunked_rows == 1 and stats.windows > 1

    def embed(ids):  # mean pooling over real tokens, L2-normalized: the encoder's own recipe
        with torch.no_grad():
            sequence = [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]  # BERT's layout
            hidden = model(torch.tensor([sequence])).last_hidden_state[0]
        return torch.nn.functional.normalize(hidden.mean(dim=0), dim=0).numpy().astype(np.float64)

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    room, starts = 30, [0]
    while starts[-1] + room < len(ids):
        starts.append(starts[-1] + room - 8)
    assert len(starts) == stats.windows
    windows = [embed(ids[s : s + room]) for s in starts]
    label, score, labels, scores = results[0]
    for name, value in zip(labels, scores):
        hypothesis = embed(tokenizer(TEMPLATE.format(name), add_special_tokens=False)["input_ids"])
        cosine = max(float(w @ hypothesis) for w in windows)
        assert value == pytest.approx(
            1 / (1 + np.exp(-(cosine - engine.threshold) / engine.temperature)), abs=1e-5
        )


def test_the_classify_job_takes_labels_descriptions_min_score_and_chunks(spark, tiny_model, tmp_path):
    source = tmp_path / "tickets.parquet"
    _frame(spark, [LONG_TEXT, *TEXTS]).write.parquet(str(source))
    summary_path = tmp_path / "summary.json"
    args = ["classify", *input_flags(source, ",".join(LABELS))]
    args += ["--model", tiny_model, "--output", str(tmp_path / "out"), "--summary-json", str(summary_path)]
    args += ["--label", f"billing={DESCRIPTIONS['billing']}", "--label", f"outage={DESCRIPTIONS['outage']}"]
    args += ["--min-score", "0.3", "--other-label", "other", "--long-text", "chunk", "--max-windows", "3"]
    assert main(args) == 0
    expected = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        labelDescriptions=DESCRIPTIONS,
        minScore=0.3,
        otherLabel="other",
        longText="chunk",
        maxWindows=3,
    )
    # the same input read the same way, so the rows meet the model in the same batches
    reference = _by_id(expected.transform(spark.read.parquet(str(source))))
    written = _by_id(spark.read.parquet(str(tmp_path / "out")))
    assert written == reference
    summary = json.loads(summary_path.read_text())
    metrics = expected.metrics()
    assert (
        summary["below_min_score"]
        == metrics["below_min_score"]
        == sum(r.label == "other" for r in written.values())
    )
    # the long ticket and TEXTS[3] are read in windows, both past 3 of them
    counters = ("chunked_rows", "windows", "window_capped_rows", "truncated_rows")
    assert [summary[c] for c in counters] == [metrics[c] for c in counters] == [2, 6, 2, 0]

    # bad input answered before any job: a description of no label, otherLabel alone
    bad = [a for a in args if a not in ("--min-score", "0.3")]
    bad[bad.index("--output") + 1] = str(tmp_path / "not_written")
    assert main(bad) == 2
    assert (
        main([*args[:-2], "--label", "cooking=food", "--output", str(tmp_path / "not_written_either")]) == 2
    )
    assert not (tmp_path / "not_written").exists() and not (tmp_path / "not_written_either").exists()


def test_a_csv_output_keeps_the_selected_labels(spark, tiny_model, tmp_path):
    source = tmp_path / "tickets.parquet"
    _frame(spark, TEXTS).write.parquet(str(source))
    args = ["classify", "--input", str(source), "--text-col", "text", "--labels", ",".join(LABELS)]
    args += ["--model", tiny_model, "--multi-label", "--min-score", "0.5", "--no-lineage"]
    assert main([*args, "--output", str(tmp_path / "csv"), "--output-format", "csv"]) == 0
    assert main([*args, "--output", str(tmp_path / "parquet")]) == 0
    written = spark.read.option("header", True).option("escape", '"').csv(str(tmp_path / "csv"))
    flat = {r.id: r for r in written.collect()}
    for row in spark.read.parquet(str(tmp_path / "parquet")).collect():
        assert json.loads(flat[str(row.id)].zsc_selected) == row.zsc.selected
