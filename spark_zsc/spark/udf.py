"""The pandas UDF: a thin layer that feeds Arrow batches to the worker's engine."""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from ..engines.batch_loop import classify_frames, result_fields
from ..engines.results import Abstention
from ..options import EngineOptions, ScoringOptions, StrategyOptions

_FIELD_TYPES = {
    "label": "string",
    "score": "double",
    "labels": "array<string>",
    "scores": "array<double>",
    "selected": "array<string>",
}


def result_schema(abstention: Optional[Abstention] = None) -> str:
    """The result struct's fields as a DDL schema: `label string, score double, ...` (with
    `selected` where multi-label rows abstain)."""
    return ", ".join(f"{name} {_FIELD_TYPES[name]}" for name in result_fields(abstention))


def result_sql_type(scoring: ScoringOptions) -> str:
    """The result struct as a SQL type: `STRUCT<label: string, ...>`."""
    return (
        f"STRUCT<{', '.join(f'{name}: {_FIELD_TYPES[name]}' for name in result_fields(scoring.abstention))}>"
    )


def build_classify_udf(
    models: dict,
    scoring: ScoringOptions,
    engine_options: EngineOptions,
    strategy: StrategyOptions,
    accumulator,
):
    """A pandas UDF `(text[, labels]) -> struct<label, score, labels, scores>`, the columns
    given as `as_bytes` makes them.

    `models` maps each model kind the strategy runs ('nli', 'embedding') to a distribution
    handle (fingerprint plus a way to fetch the files); only the fingerprints are read
    unless this worker has to load a model.
    """
    fixed_labels = list(scoring.candidate_labels) if scoring.candidate_labels is not None else None
    schema = result_schema(scoring.abstention)

    def classify_batches(batches: Iterator) -> Iterator[pd.DataFrame]:
        from ..runtime.worker import engine_for

        count = accumulator.add if accumulator is not None else (lambda _: None)  # None on Spark Connect
        engine, load_seconds = engine_for(models, engine_options, strategy)
        if load_seconds:
            count({"model_loads": 1, "model_load_seconds": load_seconds})
        yield from classify_frames(
            engine,
            batches,
            fixed_labels=fixed_labels,
            hypothesis_template=scoring.hypotheses,
            multi_label=scoring.multi_label,
            long_text=scoring.reading,
            abstention=scoring.abstention,
            batch_rows=engine_options.batch_rows,
            pair_budget=engine_options.pair_budget,
            count=count,
        )

    if fixed_labels is not None:

        def classify_fixed(texts: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
            return classify_batches(texts)

        return pandas_udf(classify_fixed, schema)  # type: ignore[call-overload]  # iterator UDFs by type hints

    described = list(scoring.label_descriptions or {})

    def with_labels(batch):
        """A call with the text alone (SQL's `name(text)` where Spark has no SQL functions to
        default the labels argument) classifies into the described labels."""
        if isinstance(batch, tuple):
            return batch
        if not described:
            raise ValueError(
                "the classify function was called with a text and no labels: call it with labels, "
                "name(text, array('billing', 'outage')), or register it with label_descriptions"
            )
        return batch, pd.Series([described] * len(batch))

    def classify_per_row(pairs: Iterator[Tuple[pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        return classify_batches(map(with_labels, pairs))

    return pandas_udf(classify_per_row, schema)  # type: ignore[call-overload]


def as_bytes(text: Column, labels: Optional[Column]) -> list[Column]:
    """The UDF's arguments: the text, and the per-row labels (None: fixed labels), as bytes.
    A Spark string may hold bytes that are not UTF-8 (from files, casts of binary data), and
    Arrow's conversion of a string to pandas fails the whole batch on one; the UDF decodes
    each value itself, so such a text alone goes unclassified (status invalid_text) and such
    a label is dropped. The SQL function casts the same way."""
    return [text.cast("binary")] + ([labels.cast("array<binary>")] if labels is not None else [])


def null_when_unclassified(result: Column) -> Column:
    """A pandas UDF cannot return a null struct, only a struct of nulls: turn the latter
    into a real null, so that `zsc IS NULL` finds the rows that were not classified. (A row
    under minScore has a null label but its labels and scores: it was classified.)"""
    return F.when(result["labels"].isNull(), F.lit(None)).otherwise(result)
