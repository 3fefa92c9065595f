"""What the pandas UDF does with the Arrow batches of one task, without Spark: each batch
cut into slices (of `batch_rows` rows, or by default of as many rows as keep the slice's
(row, label) pairs within `pair_budget`), the slices streamed through the worker's engine
(on a GPU, the next slice tokenized while the current one runs), one result frame per batch.

Kept apart from the UDF so that the path a Spark task takes can be run, and measured, on a
machine without pyspark (the GPU check does).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

import pandas as pd

from .hypotheses import Hypotheses
from .results import INVALID_TEXT, Abstention
from .windows import TRUNCATED, LongText

RESULT_FIELDS = ("label", "score", "labels", "scores")
# What a worker holds for a slice grows with its pairs (ids, pair indices, logits, results),
# not its rows: 10,000 rows x 2,000 labels is 20 M pairs. 200,000 is a whole default Arrow
# batch (10,000 rows) at 20 labels, so few labels slice as before; see benchmarks/many_labels.py.
DEFAULT_PAIR_BUDGET = 200_000


def result_fields(abstention: Optional[Abstention] = None) -> tuple[str, ...]:
    """The fields of each row's result: RESULT_FIELDS, and `selected` for multi-label with minScore."""
    return RESULT_FIELDS + (abstention.fields if abstention else ())


def as_text(value):
    """A text (or label) as str. The UDF receives them as bytes: a Spark string may hold bytes
    that are not UTF-8, and Arrow's conversion to pandas would fail the whole batch on one;
    decoded here, that value alone becomes INVALID_TEXT (a label so is dropped, as a blank
    one is). Values given as str pass as they are."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_TEXT


def _as_labels(value) -> Optional[list]:
    # Arrow hands array<binary> cells to pandas as numpy arrays (or None)
    return None if value is None else [as_text(label) for label in value]


def slice_starts(label_counts: Sequence[int], batch_rows: int, pair_budget: int) -> list[int]:
    """Where each slice of a batch starts, given each row's labels: every `batch_rows` rows
    when set, else as many consecutive rows as keep the slice's pairs within `pair_budget`
    (a row with more labels than that is a slice alone). An empty batch is one empty slice."""
    if batch_rows:
        return list(range(0, max(len(label_counts), 1), batch_rows))
    starts, held = [0], 0
    for row, pairs in enumerate(label_counts):
        if held and held + pairs > pair_budget:
            starts.append(row)
            held = 0
        held += pairs
    return starts


def classify_frames(
    engine,
    batches: Iterable,
    *,
    fixed_labels: Optional[list],
    hypothesis_template: Union[str, Hypotheses],
    multi_label: bool,
    long_text: LongText = TRUNCATED,
    abstention: Optional[Abstention] = None,
    batch_rows: int = 0,
    pair_budget: int = DEFAULT_PAIR_BUDGET,
    count: Callable[[dict], None] = lambda _: None,
) -> Iterator[pd.DataFrame]:
    """One frame of `result_fields(abstention)` per input batch, rows in order. A batch is a
    Series of texts (str, or UTF-8 bytes) when `fixed_labels` are given, else a (texts,
    labels) pair of Series.
    `count` receives each slice's counters. A batch is cut into slices by `slice_starts`: a
    row's pairs are counted as its labels (one window a row, before blanks and repeats go)."""
    columns = list(result_fields(abstention))
    no_result = (None,) * len(columns)
    slices_per_batch: list[int] = []

    def slices():
        for batch in batches:
            if fixed_labels is not None:
                texts, labels = [as_text(v) for v in batch], [fixed_labels] * len(batch)
            else:
                texts, labels = [as_text(v) for v in batch[0]], [_as_labels(v) for v in batch[1]]
            starts = slice_starts([len(row or ()) for row in labels], batch_rows, pair_budget)
            slices_per_batch.append(len(starts))
            for start, end in zip(starts, starts[1:] + [len(texts)]):
                yield texts[start:end], labels[start:end]

    # On a GPU the next slice is tokenized while the current one runs (across batches too)
    stream = engine.classify_stream(
        slices(),
        hypothesis_template=hypothesis_template,
        multi_label=multi_label,
        long_text=long_text,
        overlap=engine.tokenizes_ahead,
    )
    batch_index, done, results = 0, 0, []
    for sliced, stats in stream:
        if abstention is not None:
            sliced = [abstention.apply(result, stats) for result in sliced]
        count(stats.as_dict())
        results += sliced
        done += 1
        if done == slices_per_batch[batch_index]:  # every slice of this batch is back
            yield pd.DataFrame([r or no_result for r in results], columns=columns)
            batch_index, done, results = batch_index + 1, 0, []
