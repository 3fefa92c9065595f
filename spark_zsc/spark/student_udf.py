"""The student's pandas UDFs: text -> embedding (what the student trains on), and text -> the
classifier's result struct (what it answers). Both get their encoder from the worker's model
cache, shipped as every other model is (`driver.prepare_student`)."""

from __future__ import annotations

from typing import Iterator, Sequence

import pandas as pd
from pyspark.sql.functions import pandas_udf

from ..engines.batch_loop import as_text, classify_frames
from ..engines.student import PLAIN_TEMPLATE, StudentEngine, StudentHead
from ..options import EngineOptions, StrategyOptions
from .udf import result_schema


def _student(models: dict, engine_options: EngineOptions, strategy: StrategyOptions, head, count):
    from ..runtime.worker import engine_for

    encoder, load_seconds = engine_for(models, engine_options, strategy)
    if load_seconds:
        count({"model_loads": 1, "model_load_seconds": load_seconds})
    return StudentEngine(encoder, head)


def build_embed_udf(models: dict, engine_options: EngineOptions, strategy: StrategyOptions, labels: Sequence):
    """A pandas UDF `text (bytes) -> array<double>`: the row's embedding as the student reads
    it, null for a row the classifier would not classify."""
    labels = list(labels)

    def embed(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        student = _student(models, engine_options, strategy, None, lambda _: None)
        for batch in batches:
            vectors, _ = student.vectors([as_text(v) for v in batch], [labels] * len(batch))
            yield pd.Series([v.tolist() if v is not None else None for v in vectors], dtype=object)

    return pandas_udf(embed, "array<double>")  # type: ignore[call-overload]  # iterator UDFs by type hints


def build_student_udf(
    models: dict, engine_options: EngineOptions, strategy: StrategyOptions, head: StudentHead, accumulator
):
    """A pandas UDF `text (bytes) -> struct<label, score, labels, scores>`, as the classifier's."""

    def classify(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        count = accumulator.add if accumulator is not None else (lambda _: None)
        yield from classify_frames(
            _student(models, engine_options, strategy, head, count),
            batches,
            fixed_labels=list(head.labels),
            hypothesis_template=PLAIN_TEMPLATE,
            multi_label=head.multi_label,
            batch_rows=engine_options.batch_rows,
            pair_budget=engine_options.pair_budget,
            count=count,
        )

    return pandas_udf(classify, result_schema())  # type: ignore[call-overload]
