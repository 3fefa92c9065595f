"""The GPU path, checked on CPU: bucketed shapes (padding masked, scores unchanged), the
stream that queues the next chunk before ranking this one, the Spark-free batch loop, and
the engines importable where pyspark is not."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from spark_zsc.engines.batch_loop import DEFAULT_PAIR_BUDGET, classify_frames, slice_starts
from spark_zsc.engines.batching import TokenSequences, bucket_rows, bucket_width, plan_bucketed_batches
from spark_zsc.engines.embedding import EmbeddingEngine
from spark_zsc.engines.nli import ZeroShotEngine

from helpers import LABELS, TEXTS, assert_same_result
from processes import REPO

pytestmark = pytest.mark.any_line  # no Spark: the GPU path in this process, and its import without pyspark

VARIED = TEXTS + [f"Report {i}: " + "the quarterly numbers were fine " * (i % 7) for i in range(40)]


@pytest.fixture(scope="module")
def nli(tiny_model):
    return AutoModelForSequenceClassification.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(
        tiny_model
    )


def test_the_shape_ladder():
    assert [bucket_width(n, 1024) for n in (1, 16, 17, 60, 128, 129, 250, 300, 1000)] == [
        16,
        16,
        32,
        64,
        128,
        160,
        256,
        320,
        1024,
    ]
    assert (
        bucket_width(120, limit=100) == 120 and bucket_width(99, limit=100) == 100
    )  # never past the model's limit
    assert [bucket_rows(n, 48) for n in (1, 3, 17, 33, 48)] == [1, 4, 32, 48, 48]


def test_bucketed_batches_cover_every_sequence_within_the_budget_in_few_shapes():
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 300, size=5000)
    batches = plan_bucketed_batches(lengths, token_budget=16384, limit=1024)
    covered = np.sort(np.concatenate([b.indices for b in batches]))
    assert (covered == np.arange(len(lengths))).all()
    for batch in batches:
        assert batch.rows * batch.width <= 16384 and batch.rows >= len(batch.indices)
        assert lengths[batch.indices].max() <= batch.width
    shapes = {(b.rows, b.width) for b in batches}
    assert len(shapes) <= 40 < len(set(lengths))  # a few dozen shapes instead of one per length


@pytest.mark.parametrize("multi_label", [False, True])
def test_bucketed_shapes_give_the_pipeline_scores(nli, hf_pipeline, multi_label):
    """Widths rounded up, rows padded with copies: all masked or thrown away, so the scores
    are the pipeline's (a small budget makes many partial batches)."""
    model, tokenizer = nli
    engine = ZeroShotEngine(model, tokenizer, token_budget=300, shape_buckets=True)
    results, stats = engine.classify(VARIED, [LABELS] * len(VARIED), multi_label=multi_label)
    reference = hf_pipeline(VARIED, candidate_labels=LABELS, multi_label=multi_label)
    for ref, result in zip(reference, results):
        assert_same_result(ref, result)
    assert stats.padded_tokens > 0.05 * stats.tokens  # the ladder did pad, and it is counted


def test_bucketed_embeddings_equal_exact_ones(tiny_encoder):
    model, tokenizer = AutoModel.from_pretrained(tiny_encoder), AutoTokenizer.from_pretrained(tiny_encoder)
    exact = EmbeddingEngine(model, tokenizer, token_budget=300, shape_buckets=False)
    bucketed = EmbeddingEngine(model, tokenizer, token_budget=300, shape_buckets=True)
    for a, b in zip(
        exact.classify(VARIED, [LABELS] * len(VARIED))[0],
        bucketed.classify(VARIED, [LABELS] * len(VARIED))[0],
    ):
        assert a[2] == b[2] and np.allclose(a[3], b[3], atol=1e-6)


def test_bucketed_slices_with_nothing_for_the_model_return_their_rows(nli, tiny_encoder):
    """On a GPU (buckets on) a slice of null texts, or of texts every cache holds, runs no
    batch and still returns each row (it once failed planning zero sequences)."""
    engine = ZeroShotEngine(*nli, token_budget=256, shape_buckets=True)
    assert engine.classify([None, "  "], [LABELS] * 2)[0] == [None, None]
    chunks = [([None], [LABELS]), (TEXTS[:3], [LABELS] * 3), (["", None], [LABELS] * 2)]
    streamed = [results for results, _ in engine.classify_stream(iter(chunks), overlap=True)]
    assert streamed == [engine.classify(texts, labels)[0] for texts, labels in chunks]
    model, tokenizer = AutoModel.from_pretrained(tiny_encoder), AutoTokenizer.from_pretrained(tiny_encoder)
    encoder = EmbeddingEngine(model, tokenizer, token_budget=300, shape_buckets=True)
    first = encoder.classify(TEXTS, [LABELS] * len(TEXTS))[0]
    again, stats = encoder.classify(TEXTS, [LABELS] * len(TEXTS))  # every text and label cached
    assert again == first and stats.forward_batches == 0


def test_pairs_are_laid_out_as_the_tokenizer_does(nli):
    """The numpy gather builds exactly the ids the tokenizer makes for (text, hypothesis) pairs."""
    _, tokenizer = nli
    engine = ZeroShotEngine(nli[0], tokenizer)
    hypotheses = [f"This example is {l}." for l in LABELS]
    prepared = engine.prepare(TEXTS, [LABELS] * len(TEXTS), "This example is {}.")
    sequences: TokenSequences = prepared.sequences
    rows = sequences.lengths.argsort()[::-1].copy()
    ids, mask, types = sequences.gather(rows, len(rows) + 3, int(sequences.lengths.max()) + 5, engine.pad_id)
    assert types is None and (mask[len(rows) :] == mask[0]).all()  # filler rows copy the first
    texts = list(dict.fromkeys(TEXTS))
    for row, pair in enumerate(rows):
        text, hypothesis = divmod(int(pair), len(LABELS))  # pairs are numbered text by text, label by label
        expected = tokenizer(texts[text], hypotheses[hypothesis], truncation="only_first")["input_ids"]
        assert ids[row][mask[row] == 1].tolist() == expected
        assert (ids[row][mask[row] == 0] == engine.pad_id).all()


def test_the_stream_with_overlap_equals_plain_classify_on_buckets(nli):
    model, tokenizer = nli
    engine = ZeroShotEngine(model, tokenizer, token_budget=256, shape_buckets=True)
    chunks = [(VARIED[i : i + 7], [LABELS] * len(VARIED[i : i + 7])) for i in range(0, len(VARIED), 7)]
    plain = [engine.classify(t, l)[0] for t, l in chunks]
    streamed = [r for r, _ in engine.classify_stream(iter(chunks), overlap=True)]
    assert streamed == plain


def test_the_batch_loop_gives_one_frame_per_batch_in_row_order(nli):
    """The UDF's loop without Spark: batches sliced by batch_rows, results in input order."""
    model, tokenizer = nli
    engine = ZeroShotEngine(model, tokenizer, token_budget=512)
    batches = [
        pd.Series(VARIED[:10]),
        pd.Series([None, "", "Our team won the final!"]),
        pd.Series(VARIED[10:]),
    ]
    counted = []
    frames = list(
        classify_frames(
            engine,
            iter(batches),
            fixed_labels=LABELS,
            hypothesis_template="This example is {}.",
            multi_label=False,
            batch_rows=4,
            count=counted.append,
        )
    )
    assert [len(f) for f in frames] == [len(b) for b in batches]
    expected, _ = engine.classify([t for b in batches for t in b], [LABELS] * sum(map(len, batches)))
    got = pd.concat(frames, ignore_index=True)
    for row, result in zip(got.itertuples(), expected):
        assert (row.label, row.labels) == ((result[0], result[2]) if result else (None, None))
    assert sum(c["rows"] for c in counted) == sum(map(len, batches))
    assert sum(c["skipped_null_text"] + c["skipped_blank_text"] for c in counted) == 2
    per_row = list(
        classify_frames(
            engine,
            iter([(pd.Series(TEXTS[:2]), pd.Series([np.array(["a", "b"]), None]))]),
            fixed_labels=None,
            hypothesis_template="This example is {}.",
            multi_label=False,
        )
    )
    assert per_row[0]["label"].tolist()[1] is None and per_row[0]["label"].tolist()[0] in ("a", "b")


def test_by_default_a_slice_holds_at_most_the_pair_budget():
    # a whole 10,000-row Arrow batch at 20 labels; 1,000 rows at 200; 100 rows at 2,000
    assert slice_starts([20] * 10_000, 0, DEFAULT_PAIR_BUDGET) == [0]
    assert slice_starts([200] * 10_000, 0, DEFAULT_PAIR_BUDGET) == list(range(0, 10_000, 1_000))
    assert slice_starts([2_000] * 10_000, 0, DEFAULT_PAIR_BUDGET) == list(range(0, 10_000, 100))
    # labels per row: consecutive rows up to the budget, a row over it alone; batchRows wins
    assert slice_starts([3, 3, 500, 1, 1, 0, 6], 0, 6) == [0, 2, 3, 6]
    assert slice_starts([2_000] * 10, 4, DEFAULT_PAIR_BUDGET) == [0, 4, 8]
    assert slice_starts([], 0, DEFAULT_PAIR_BUDGET) == slice_starts([], 4, 1) == [0]


@pytest.mark.slow
def test_slices_under_a_pair_budget_give_the_unsliced_results(nli):
    model, tokenizer = nli
    engine = ZeroShotEngine(model, tokenizer, token_budget=512)
    labels = [f"topic number {i}" for i in range(40)]
    texts = VARIED[:30]
    per_row = pd.Series([np.array(labels[: 1 + (7 * i) % 40]) for i in range(len(texts))])

    def run(fixed_labels, **slicing):
        counted = []
        batch = pd.Series(texts) if fixed_labels else (pd.Series(texts), per_row)
        [frame] = classify_frames(
            engine,
            [batch],
            fixed_labels=fixed_labels,
            hypothesis_template="This example is {}.",
            multi_label=False,
            count=counted.append,
            **slicing,
        )
        return frame, counted

    for fixed_labels in (labels, None):
        whole, [unsliced] = run(fixed_labels, batch_rows=len(texts))
        sliced, counted = run(fixed_labels, pair_budget=100)
        assert len(counted) > 5 and sum(c["rows"] for c in counted) == len(texts)
        assert all(c["pairs"] <= 100 for c in counted)  # no row here has more labels than the budget
        assert sum(c["pairs"] for c in counted) == unsliced["pairs"]
        for a, b in zip(sliced.itertuples(), whole.itertuples()):  # slicing moves float noise only
            assert dict(zip(a.labels, a.scores)) == pytest.approx(dict(zip(b.labels, b.scores)), abs=1e-6)


@pytest.mark.slow
def test_the_engines_and_the_batch_loop_import_without_pyspark(tiny_model):
    """The GPU machine has no pyspark: everything below the Spark faces must load without it."""
    script = textwrap.dedent(f"""
        import importlib, sys
        class NoPyspark:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "pyspark":
                    raise ImportError("pyspark is not installed here")
        sys.meta_path.insert(0, NoPyspark())
        import pkgutil
        import spark_zsc, spark_zsc.engines, spark_zsc.runtime
        imported = []
        for package in (spark_zsc.engines, spark_zsc.runtime):  # every module, found by walking the folders
            for module in pkgutil.iter_modules(package.__path__):
                imported.append(importlib.import_module(f"{{package.__name__}}.{{module.name}}").__name__)
        for name in ("options", "errors", "testing"):
            importlib.import_module("spark_zsc." + name)
        assert "spark_zsc.engines.nli" in imported and "spark_zsc.runtime.worker" in imported, imported
        import pandas as pd
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from spark_zsc.engines.batch_loop import DEFAULT_PAIR_BUDGET, classify_frames, slice_starts
        from spark_zsc.engines.nli import ZeroShotEngine
        engine = ZeroShotEngine(AutoModelForSequenceClassification.from_pretrained({tiny_model!r}),
                                AutoTokenizer.from_pretrained({tiny_model!r}))
        [frame] = classify_frames(engine, [pd.Series(["The team won"])], fixed_labels=["sports", "finance"],
                                  hypothesis_template="This example is {{}}.", multi_label=False)
        assert frame["label"][0] in ("sports", "finance")
        assert not any(m.split(".")[0] == "pyspark" for m in sys.modules)
        try:
            spark_zsc.ZeroShotClassifier
        except ImportError as error:
            print("faces need pyspark:", error)
        print("ok")
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout and "faces need pyspark: pyspark is not installed here" in result.stdout
