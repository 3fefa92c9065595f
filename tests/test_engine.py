"""The Spark-free engine against the HF zero-shot pipeline on the same weights."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from spark_zsc.engines.batching import plan_batches
from spark_zsc.engines.nli import ZeroShotEngine
from spark_zsc.engines.nli_scoring import scores_from_logits

from helpers import LABELS, SENTENCES, TEXTS, assert_same_result

pytestmark = pytest.mark.any_line  # no Spark: the NLI engine in this process


@pytest.fixture(scope="module")
def engine(tiny_model):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    return ZeroShotEngine(model, AutoTokenizer.from_pretrained(tiny_model), token_budget=512)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("template", ["This example is {}.", "The topic of this text: {}"])
def test_scores_equal_the_hf_pipeline(engine, hf_pipeline, multi_label, template):
    reference = hf_pipeline(
        TEXTS, candidate_labels=LABELS, multi_label=multi_label, hypothesis_template=template
    )
    results, stats = engine.classify(
        TEXTS, [LABELS] * len(TEXTS), hypothesis_template=template, multi_label=multi_label
    )
    for ref, result in zip(reference, results):
        assert_same_result(ref, result)
        assert result[:2] == (result[2][0], result[3][0])
    assert stats.classified == len(TEXTS)
    # the scores discriminate: a constant model would make this parity test meaningless
    assert len({round(r[1], 4) for r in results}) > 3


def test_per_row_labels_equal_the_pipeline_row_by_row(engine, hf_pipeline):
    rows = [["finance", "sports"], ["billing", "outage", "feature request"], ["a b c"], LABELS]
    texts = TEXTS[: len(rows)]
    results, _ = engine.classify(texts, rows)
    for text, labels, result in zip(texts, rows, results):
        assert_same_result(hf_pipeline(text, candidate_labels=labels), result)


def test_one_label_always_uses_the_multi_label_formula(engine, hf_pipeline):
    results, _ = engine.classify(TEXTS[:3], [["sports"]] * 3)
    for text, result in zip(TEXTS[:3], results):
        reference = hf_pipeline(text, candidate_labels=["sports"])
        assert_same_result(reference, result)
        assert 0 < result[1] < 1 and result[1] != 1.0  # a softmax over one label would give 1.0


def test_duplicates_are_scored_once_with_identical_results(engine):
    texts = ["Our team won the final!"] * 5 + ["power outage"] * 3
    results, stats = engine.classify(texts, [LABELS] * len(texts))
    assert stats.pairs == len(texts) * len(LABELS)
    assert stats.forward_pairs == 2 * len(LABELS)
    assert all(r == results[0] for r in results[:5]) and all(r == results[5] for r in results[5:])


def test_texts_past_the_limit_are_truncated_like_the_pipeline(engine, hf_pipeline):
    long_text = "The app crashes when I open the settings page. " * 6000  # about 300,000 characters
    assert len(long_text) >= 280_000
    results, stats = engine.classify([long_text], [LABELS])
    assert_same_result(hf_pipeline(long_text, candidate_labels=LABELS), results[0])
    assert stats.tokens <= len(LABELS) * engine.max_length


def test_a_lower_configured_max_length_truncates_the_premise_only(tiny_model, hf_pipeline):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    engine = ZeroShotEngine(model, tokenizer, max_length=24)
    text = TEXTS[3]
    results, stats = engine.classify([text], [LABELS])
    cut = tokenizer.convert_tokens_to_string(tokenizer.tokenize(text)[:8])  # premise room is small
    assert stats.tokens <= 24 * len(LABELS)
    # equal to the pipeline run with the same limit on the tokenizer
    tokenizer.model_max_length = 24
    from transformers import pipeline

    reference = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer)(
        text, candidate_labels=LABELS
    )
    assert_same_result(reference, results[0])
    assert cut  # the text really was cut


def test_special_token_strings_are_literal_text(engine, hf_pipeline):
    texts = ["<s>old price</s> new price", "a </s> b", "<pad><mask> and <s>", "plain text"]
    results, stats = engine.classify(texts, [LABELS] * len(texts))  # one batch: no eos-count error
    assert stats.classified == len(texts)
    # literal: the same as the text with the markup spelled out character by character
    assert results[0] != results[3]
    tokenizer = engine.encoder
    ids = tokenizer.encode_texts(["</s>"])[0]
    assert 2 not in ids and len(ids) > 1


def test_bad_rows_get_none_and_are_counted(engine):
    texts = [None, "", "   \n\t", "fine text", "fine text", "fine text", "fine text"]
    labels = [LABELS, LABELS, LABELS, None, [], ["  ", None, ""], ["b", " ", "a", "b"]]
    results, stats = engine.classify(texts, labels)
    assert results[:6] == [None] * 6
    assert results[6][2] in (["a", "b"], ["b", "a"])  # blanks dropped, duplicate collapsed
    assert (stats.skipped_null_text, stats.skipped_blank_text, stats.skipped_no_labels) == (1, 2, 3)
    assert stats.as_dict()["skipped"] == 6 and stats.classified == 1


def test_an_nli_model_with_entailment_first(tmp_path, hf_pipeline):
    """label2id read case-insensitively, contradiction taken as the last id when entailment is 0."""
    from transformers import pipeline

    from spark_zsc.testing import build_random_nli_model

    folder = build_random_nli_model(
        tmp_path, SENTENCES, vocab_size=400, seed=3, label_names=("Entailment", "neutral", "contradiction")
    )
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    engine = ZeroShotEngine(model, tokenizer)
    assert (engine.entailment_id, engine.contradiction_id) == (0, -1)
    reference = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer)
    for multi_label in (False, True):
        results, _ = engine.classify(TEXTS[:3], [LABELS] * 3, multi_label=multi_label)
        for text, result in zip(TEXTS[:3], results):
            assert_same_result(reference(text, candidate_labels=LABELS, multi_label=multi_label), result)


def test_scores_from_logits_by_hand():
    logits = np.array([[0.0, 5.0, 1.0], [2.0, 0.0, 3.0]], dtype=np.float32)
    single = scores_from_logits(logits, entailment=2, contradiction=0, multi_label=False)
    assert np.allclose(single, np.exp([1.0, 3.0]) / np.exp([1.0, 3.0]).sum())
    multi = scores_from_logits(logits, entailment=2, contradiction=0, multi_label=True)
    assert np.allclose(multi, [np.exp(1) / (1 + np.exp(1)), np.exp(3) / (np.exp(2) + np.exp(3))])


def test_batches_respect_the_token_budget_and_keep_padding_low():
    lengths = [10, 50, 11, 49, 48, 12, 200, 30]
    batches = plan_batches(lengths, token_budget=100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * width <= 100
        assert len(batch) * width - sum(lengths[i] for i in batch) <= 0.05 * len(batch) * width


def test_tokenizer_state_left_by_earlier_calls_does_not_leak_into_pairs(tiny_model, engine):
    """A fast tokenizer keeps the padding and truncation of its last call on its backend;
    the engine must not inherit them (it would pad hypotheses and change every score)."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer(["a", "a much longer text"], padding="max_length", max_length=40, truncation=True)
    used = ZeroShotEngine(model, tokenizer, token_budget=engine.token_budget)
    assert used.classify(TEXTS, [LABELS] * len(TEXTS))[0] == engine.classify(TEXTS, [LABELS] * len(TEXTS))[0]


def test_the_one_position_decoder_equals_the_full_model(engine, tiny_model):
    """distilbart-mnli-12-1 has one decoder layer: the engine runs it at the read position only."""
    import torch

    from spark_zsc.engines.bart_fast import last_eos_forward

    model = engine.model
    fast = last_eos_forward(model)
    assert fast is not None and engine._forward is not engine._model_forward
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    batch = tokenizer(
        [[t, f"This example is {l}."] for t in TEXTS[:4] for l in LABELS[:2]],
        padding=True,
        truncation="only_first",
        return_tensors="pt",
    )
    with torch.inference_mode():
        expected = model(**batch).logits
        actual = fast(batch["input_ids"], batch["attention_mask"], None)
    assert torch.allclose(actual, expected, atol=1e-5, rtol=0)


def test_models_with_more_decoder_layers_use_the_plain_forward(tmp_path):
    from spark_zsc.engines.bart_fast import last_eos_forward
    from spark_zsc.testing import TINY_SHAPE, build_random_nli_model

    folder = build_random_nli_model(
        tmp_path, SENTENCES, vocab_size=300, shape={**TINY_SHAPE, "decoder_layers": 2}
    )
    assert last_eos_forward(AutoModelForSequenceClassification.from_pretrained(folder)) is None


def test_the_overlapped_stream_equals_classify_chunk_by_chunk(engine):
    """On a GPU the UDF tokenizes the next chunk while the model runs the current one;
    the results and their order must not change."""
    chunks = [
        (TEXTS[:3], [LABELS] * 3),
        ([], []),
        (TEXTS[3:], [LABELS] * (len(TEXTS) - 3)),
        ([None], [LABELS]),
    ]
    plain = [engine.classify(t, l) for t, l in chunks]
    for overlap in (False, True):
        streamed = list(engine.classify_stream(iter(chunks), overlap=overlap))
        assert [r for r, _ in streamed] == [r for r, _ in plain]
        assert [s.pairs for _, s in streamed] == [s.pairs for _, s in plain]


def test_a_worker_moved_to_another_gpu_drops_the_models_on_the_old_one():
    """The rule keep_to_one_gpu applies (on CPU: the cache part; torch's calls need a GPU)."""
    from spark_zsc.runtime.model_cache import ModelCache, ModelKey
    from spark_zsc.runtime.worker import on_another_gpu

    evicted = []
    cache = ModelCache(3, on_evict=evicted.append)
    keys = [ModelKey("nli", "f", device, "fp16") for device in ("cuda:0", "cpu", "cuda:1")]
    cache.acquire(keys, lambda key: key.device)
    stale = cache.drop(on_another_gpu("cuda:1"))
    assert stale == evicted == [keys[0]] and list(cache) == keys[1:]


def test_a_worker_keeps_only_its_most_recently_used_models(tiny_model, monkeypatch, tmp_path):
    """The worker cache, outside Spark: loads once per fingerprint, evicts the least recently used."""
    from spark_zsc.options import EngineOptions, StrategyOptions
    from spark_zsc.runtime import worker as worker_cache
    from spark_zsc.runtime.model_cache import ModelCache
    from spark_zsc.runtime.model_source import load_bundle
    from spark_zsc.testing import build_random_nli_model

    monkeypatch.setenv("SPARK_ZSC_CACHE_DIR", str(tmp_path / "node"))
    monkeypatch.setattr(
        worker_cache, "_models", ModelCache(worker_cache.MODELS_PER_WORKER, worker_cache._drop_engines)
    )
    monkeypatch.setattr(worker_cache, "_engines", {})
    bundles = [load_bundle(tiny_model)] + [
        load_bundle(str(build_random_nli_model(tmp_path / f"m{seed}", SENTENCES, vocab_size=300, seed=seed)))
        for seed in (31, 32)
    ]
    options, nli = EngineOptions(device="cpu"), StrategyOptions()

    def handle(fingerprint, fetch):
        return {"nli": SimpleNamespace(fingerprint=fingerprint, fetch_files=fetch)}

    loads = [
        worker_cache.engine_for(handle(b.fingerprint, lambda b=b: b.files), options, nli)[1] > 0
        for b in bundles
    ]
    assert loads == [True, True, True]
    assert [k[1] for k in worker_cache._models] == [
        b.fingerprint for b in bundles[1:]
    ]  # the first was dropped
    cached = handle(bundles[2].fingerprint, lambda: pytest.fail("cached"))
    assert worker_cache.engine_for(cached, options, nli)[1] == 0.0
    assert all(k[1] != bundles[0].fingerprint for k in worker_cache._engines)
