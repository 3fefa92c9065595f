"""The student's pandas UDFs: text -> embedding (what the student trains on), and text -> the
classifier's result struct (what it answers). Both get their encoder from the worker's model
cache, shipped as every other model is (`driver.prepare_student`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import pandas as pd
from pyspark.sql.functions import pandas_udf

from ..engines.batch_loop import as_text, classify_frames
from ..engines.student import PLAIN_TEMPLATE, Deferral, DeferringEngine, StudentEngine, StudentHead
from ..options import EngineOptions, StrategyOptions
from .udf import result_schema


@dataclass(frozen=True)
class TeacherRun:
    """What a worker needs to run a student's teacher: its models' handles, how it runs them,
    and which rows it scores and how (plain data: it travels in the UDF's closure)."""

    models: dict
    engine_options: EngineOptions
    strategy: StrategyOptions
    deferral: Deferral


def _engine(models: dict, engine_options: EngineOptions, strategy: StrategyOptions, count):
    from ..runtime.worker import engine_for

    engine, load_seconds = engine_for(models, engine_options, strategy)
    if load_seconds:
        count({"model_loads": 1, "model_load_seconds": load_seconds})
    return engine


def _student(models: dict, engine_options: EngineOptions, strategy: StrategyOptions, head, count):
    return StudentEngine(_engine(models, engine_options, strategy, count), head)


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
    models: dict,
    engine_options: EngineOptions,
    strategy: StrategyOptions,
    head: StudentHead,
    accumulator,
    teacher: Optional[TeacherRun] = None,
):
    """A pandas UDF `text (bytes) -> struct<label, score, labels, scores>`, as the classifier's.
    With a `teacher`, the rows the student is unsure of are scored by it in the same worker:
    one Python worker per task keeps both models, and each row is read once."""

    def classify(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        count = accumulator.add if accumulator is not None else (lambda _: None)
        engine = _student(models, engine_options, strategy, head, count)
        if teacher is not None:
            teacher_engine = _engine(teacher.models, teacher.engine_options, teacher.strategy, count)
            engine = DeferringEngine(engine, teacher_engine, teacher.deferral)
        yield from classify_frames(
            engine,
            batches,
            fixed_labels=list(head.labels),
            hypothesis_template=PLAIN_TEMPLATE,
            multi_label=head.multi_label,
            batch_rows=engine_options.batch_rows,
            pair_budget=engine_options.pair_budget,
            count=count,
        )

    return pandas_udf(classify, result_schema())  # type: ignore[call-overload]
