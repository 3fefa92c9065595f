"""The embedding strategy and the shortlist cascade, Spark-free, against independent references:
plain transformers for the embeddings, the NLI engine (and so the HF pipeline) for the cascade."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from spark_zsc.engines.cascade import CascadeEngine
from spark_zsc.engines.embedding import EmbeddingEngine
from spark_zsc.engines.nli import ZeroShotEngine
from spark_zsc.errors import ConfigError
from spark_zsc.options import StrategyOptions
from spark_zsc.runtime.model_source import load_bundle

from helpers import LABELS, TEXTS, assert_same_result

pytestmark = pytest.mark.any_line  # no Spark: the embedding engine in this process

TEMPLATE = "This text is about {}."


@pytest.fixture(scope="module")
def encoder(tiny_encoder):
    return AutoModel.from_pretrained(tiny_encoder).eval(), AutoTokenizer.from_pretrained(tiny_encoder)


@pytest.fixture(scope="module")
def nli_engine(tiny_model):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    return ZeroShotEngine(model, AutoTokenizer.from_pretrained(tiny_model))


def reference_embeddings(model, tokenizer, strings, max_length):
    """Mean pooling and L2 normalization written out with plain transformers, padded batch."""
    batch = tokenizer(strings, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=1).double().numpy()


@pytest.mark.parametrize("multi_label", [False, True])
def test_embedding_scores_equal_a_plain_transformers_computation(encoder, multi_label):
    model, tokenizer = encoder
    engine = EmbeddingEngine(model, tokenizer, max_length=64, temperature=0.07, threshold=0.2)
    results, stats = engine.classify(
        TEXTS, [LABELS] * len(TEXTS), hypothesis_template=TEMPLATE, multi_label=multi_label
    )

    texts = reference_embeddings(model, tokenizer, TEXTS, 64)
    labels = reference_embeddings(model, tokenizer, [TEMPLATE.format(l) for l in LABELS], 64)
    cosines = texts @ labels.T
    if multi_label:
        expected = 1 / (1 + np.exp(-(cosines - 0.2) / 0.07))
    else:
        expected = np.exp(cosines / 0.07) / np.exp(cosines / 0.07).sum(axis=1, keepdims=True)
    for row, (label, score, ranked_labels, ranked_scores) in enumerate(results):
        by_label = dict(zip(ranked_labels, ranked_scores))
        assert [by_label[l] for l in LABELS] == pytest.approx(expected[row], abs=1e-5)
        assert label == LABELS[int(expected[row].argmax())] and score == max(ranked_scores)
    # each distinct text once (TEXTS holds a duplicate), each hypothesis once
    assert stats.embedded_texts == len(set(TEXTS)) + len(LABELS)
    assert stats.classified == len(TEXTS)


def test_embeddings_are_cached_and_one_label_uses_the_sigmoid(encoder):
    model, tokenizer = encoder
    engine = EmbeddingEngine(model, tokenizer, max_length=64)
    first, _ = engine.classify(TEXTS[:3], [["sports"]] * 3)
    again, stats = engine.classify(TEXTS[:3], [["sports"]] * 3)
    assert again == first and stats.embedded_texts == 0  # nothing encoded the second time
    # a lone label is scored on its own (a softmax over one label would always say 1.0)
    assert all(0 < r[1] < 1 for r in first)


class _CountingTokenizer:
    """A tokenizers backend that records the texts it is asked to encode."""

    def __init__(self, inner):
        self.inner, self.encoded = inner, []

    def encode_batch(self, texts, **kwargs):
        self.encoded += list(texts)
        return self.inner.encode_batch(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_cached_text_is_not_tokenized_again_and_counts_the_same(encoder):
    """Its cached length gives its windows; a window not cached yet (chunk mode after
    truncate) has the text tokenized again, with results equal to a fresh engine's."""
    from spark_zsc.engines.results import LONG_TEXT_COUNTERS
    from spark_zsc.engines.windows import LongText

    model, tokenizer = encoder
    engine = EmbeddingEngine(model, tokenizer, max_length=32)
    counting = engine._backend = _CountingTokenizer(engine._backend)
    labels = [LABELS] * len(TEXTS)
    first, first_stats = engine.classify(TEXTS, labels)
    assert first_stats.truncated_rows > 0  # some texts are longer than 32 tokens
    counting.encoded.clear()
    again, again_stats = engine.classify(TEXTS, labels)
    assert again == first and again_stats.truncated_rows == first_stats.truncated_rows
    assert counting.encoded == []  # every text and hypothesis came from the caches
    chunk = LongText("chunk", overlap=8, max_windows=4)
    chunked, chunked_stats = engine.classify(TEXTS, labels, long_text=chunk)
    fresh, fresh_stats = EmbeddingEngine(model, tokenizer, max_length=32).classify(
        TEXTS, labels, long_text=chunk
    )
    assert chunked == fresh
    for counter in LONG_TEXT_COUNTERS:
        assert getattr(chunked_stats, counter) == getattr(fresh_stats, counter), counter
    long_texts = {t for t in TEXTS if len(tokenizer(t, add_special_tokens=False)["input_ids"]) > 30}
    assert long_texts and set(counting.encoded) == long_texts  # only the texts with new windows


def test_bad_rows_get_no_result_and_a_reason(encoder):
    model, tokenizer = encoder
    results, stats = EmbeddingEngine(model, tokenizer).classify(
        [None, "  ", "fine text", "no labels"], [LABELS, LABELS, LABELS, [" ", None]]
    )
    assert [r is None for r in results] == [True, True, False, True]
    assert (stats.skipped_null_text, stats.skipped_blank_text, stats.skipped_no_labels) == (1, 1, 1)


def test_a_shortlist_of_every_label_is_exactly_nli(encoder, nli_engine):
    embedding = EmbeddingEngine(*encoder, max_length=64)
    cascade = CascadeEngine(embedding, nli_engine, shortlist=len(LABELS))
    for multi_label in (False, True):
        kwargs = dict(hypothesis_template=TEMPLATE, multi_label=multi_label)
        results, stats = cascade.classify(TEXTS, [LABELS] * len(TEXTS), **kwargs)
        assert results == nli_engine.classify(TEXTS, [LABELS] * len(TEXTS), **kwargs)[0]
        assert stats.embedded_texts == 0  # nothing to rank: the encoder does not run


def test_a_short_shortlist_runs_nli_on_the_embedding_top_k(encoder, nli_engine, hf_pipeline):
    embedding = EmbeddingEngine(*encoder, max_length=64)
    cascade = CascadeEngine(embedding, nli_engine, shortlist=2)
    texts = [t for t in TEXTS if len(t) < 200]
    results, stats = cascade.classify(texts, [LABELS] * len(texts), hypothesis_template=TEMPLATE)
    ranking, _ = embedding.classify(texts, [LABELS] * len(texts), hypothesis_template=TEMPLATE)
    for text, result, by_embedding in zip(texts, results, ranking):
        top2 = by_embedding[2][:2]
        shortlist = [l for l in LABELS if l in top2]
        reference = hf_pipeline(text, shortlist, hypothesis_template=TEMPLATE)
        assert_same_result(reference, (result[0], result[1], result[2][:2], result[3][:2]))
        assert (
            result[2][2:] == by_embedding[2][2:] and result[3][2:] == [0.0] * 3
        )  # the rest: 0, embedding order
    assert stats.pairs == 5 * len(texts)  # asked for: 2 a row run by NLI, 3 skipped
    assert stats.forward_pairs <= 2 * len(texts) and stats.shortlist_skipped_pairs == 3 * len(texts)


def test_embedding_models_are_checked_on_the_driver(tiny_model, tmp_path):
    from spark_zsc.testing import build_random_sentence_encoder

    with pytest.raises(ConfigError, match="is not a sentence encoder"):
        load_bundle(tiny_model, "embedding")
    cls_pooled = build_random_sentence_encoder(
        tmp_path / "cls", ["a few words", "more words"], vocab_size=100, pooling="cls_token"
    )
    with pytest.raises(ConfigError, match="pools by cls_token"):
        load_bundle(str(cls_pooled), "embedding")
    dense = build_random_sentence_encoder(tmp_path / "dense", ["a few words", "more words"], vocab_size=100)
    modules = json.loads((dense / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (dense / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="uses module.* sentence_transformers.models.Dense after pooling"):
        load_bundle(str(dense), "embedding")


def test_the_encoder_bundle_carries_its_length_limit(tiny_encoder):
    bundle = load_bundle(tiny_encoder, "embedding")
    assert "sentence_bert_config.json" in bundle.files and "model.safetensors" in bundle.files


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strategy="semantic"), "strategy must be one of nli, embedding"),
        (dict(shortlist=0), "shortlist must be an integer, 1 or more"),
        (dict(shortlist=-2), "shortlist must be an integer, 1 or more"),
        (dict(strategy="embedding", shortlist=2), "use it with strategy='nli'"),
        (dict(temperature=0), "temperature must be a number above 0"),
        (dict(threshold=1.5), "threshold is a cosine similarity"),
    ],
)
def test_bad_strategy_options_say_what_to_change(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        StrategyOptions(**kwargs)


def test_a_shortlist_longer_than_the_labels_is_refused():
    StrategyOptions(shortlist=3).check_label_count(["a", "b", "c"])
    with pytest.raises(ConfigError, match="shortlist 4 is more than the 3 candidate labels"):
        StrategyOptions(shortlist=4).check_label_count(["a", "b", "c"])
