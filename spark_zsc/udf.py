"""The pandas UDF: a thin layer that feeds Arrow batches to the worker's engine."""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from .options import EngineOptions, ScoringOptions, StrategyOptions

RESULT_FIELDS = ("label", "score", "labels", "scores")
RESULT_SCHEMA = "label string, score double, labels array<string>, scores array<double>"
RESULT_SQL_TYPE = "STRUCT<label: STRING, score: DOUBLE, labels: ARRAY<STRING>, scores: ARRAY<DOUBLE>>"
_NO_RESULT = (None, None, None, None)


def _as_labels(value) -> Optional[list]:
    # Arrow hands array<string> cells to pandas as numpy arrays (or None)
    return None if value is None else list(value)


def build_classify_udf(models: dict, scoring: ScoringOptions, engine_options: EngineOptions,
                       strategy: StrategyOptions, accumulator):
    """A pandas UDF `(text[, labels]) -> struct<label, score, labels, scores>`.

    `models` maps each model kind the strategy runs ('nli', 'embedding') to a distribution
    handle (fingerprint plus a way to fetch the files); only the fingerprints are read
    unless this worker has to load a model.
    """
    fixed_labels = list(scoring.candidate_labels) if scoring.candidate_labels is not None else None
    template, multi_label = scoring.hypothesis_template, scoring.multi_label

    def classify_batches(batches: Iterator) -> Iterator[pd.DataFrame]:
        from .worker_cache import engine_for

        count = accumulator.add if accumulator is not None else (lambda _: None)  # None on Spark Connect
        engine, load_seconds = engine_for(models, engine_options, strategy)
        if load_seconds:
            count({"model_loads": 1, "model_load_seconds": load_seconds})
        slices_per_batch: list[int] = []

        def slices():
            """Each Arrow batch cut into slices of at most batchRows rows (one slice by default)."""
            for batch in batches:
                if fixed_labels is not None:
                    texts, labels = batch.tolist(), [fixed_labels] * len(batch)
                else:
                    texts, labels = batch[0].tolist(), [_as_labels(v) for v in batch[1]]
                step = engine_options.batch_rows or len(texts) or 1
                starts = range(0, max(len(texts), 1), step)
                slices_per_batch.append(len(starts))
                for start in starts:
                    yield texts[start : start + step], labels[start : start + step]

        # On a GPU the next slice is tokenized while the current one runs (across Arrow batches too)
        stream = engine.classify_stream(slices(), hypothesis_template=template, multi_label=multi_label,
                                        overlap=engine.device.type == "cuda")
        batch_index, done, results = 0, 0, []
        for sliced, stats in stream:
            count(stats.as_dict())
            results += sliced
            done += 1
            if done == slices_per_batch[batch_index]:  # every slice of this Arrow batch is back
                yield pd.DataFrame([r or _NO_RESULT for r in results], columns=list(RESULT_FIELDS))
                batch_index, done, results = batch_index + 1, 0, []

    if fixed_labels is not None:

        def classify_fixed(texts: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
            return classify_batches(texts)

        return pandas_udf(classify_fixed, RESULT_SCHEMA)

    def classify_per_row(pairs: Iterator[Tuple[pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        return classify_batches(pairs)

    return pandas_udf(classify_per_row, RESULT_SCHEMA)


def null_when_unclassified(result: Column) -> Column:
    """A pandas UDF cannot return a null struct, only a struct of nulls: turn the latter
    into a real null, so that `zsc IS NULL` finds the rows that were not classified."""
    return F.when(result["label"].isNull(), F.lit(None)).otherwise(result)
