"""How every engine feeds its model: token sequences in length-sorted batches under a
token budget, and rows in chunks whose tokenizing can run ahead of the model.

Two ways to cut batches, one contract (a batch's rows x width never exceeds the budget):

- on a CPU, cost follows tokens, so batches hold sequences within 5% of their longest and
  every batch has its own exact shape;
- on a GPU, a (rows, width) shape met for the first time is slow (kernels chosen and memory
  allocated for it), so widths are rounded up to a short ladder and row counts to powers of
  two: a few dozen shapes serve every batch. The padding this adds is masked.

Everything here is numpy: the model runners that use it (`torch_batches` for torch models,
`onnx_nli` for ONNX Runtime) import their own runtime.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Optional, Protocol, Sequence, Union

import numpy as np

from .hypotheses import Hypotheses
from .results import BatchStats, Result
from .windows import TRUNCATED, LongText

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Batch:
    """Sequences run together: `indices` fill the first rows; `rows` x `width` is the shape
    the model sees (rows past the indices repeat the first sequence and are thrown away)."""

    indices: np.ndarray
    width: int
    rows: int


def plan_batches(lengths: Sequence[int], token_budget: int, max_padding: float = 0.05) -> list[list[int]]:
    """Indices grouped into forward batches, longest first. A batch holds sequences within
    `max_padding` of its longest (so padding stays under that share) and at most
    `token_budget` tokens, padding included; a sequence longer than the budget runs alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, start = [], 0
    while start < len(order):
        width = max(lengths[order[start]], 1)
        rows_cap = max(1, token_budget // width)
        end = start + 1
        while (
            end < len(order) and end - start < rows_cap and lengths[order[end]] >= width * (1 - max_padding)
        ):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def bucket_width(length: int, limit: int) -> int:
    """`length` rounded up to the shape ladder: steps of 16 up to 128 tokens, then an eighth
    of the next power of two (32 up to 256, 64 up to 512, ...), never past `limit`."""
    length = max(int(length), 1)
    step = max(16, (1 << (length - 1).bit_length()) // 8)
    return min(-(-length // step) * step, max(limit, length))


def bucket_rows(count: int, cap: int) -> int:
    """A batch's row count rounded up to a power of two, or to `cap` (a full batch)."""
    return min(1 << (count - 1).bit_length(), cap)


def plan_bucketed_batches(lengths: np.ndarray, token_budget: int, limit: int) -> list[Batch]:
    """Batches on the shape ladder, longest first: sequences that round to the same width run
    together, `token_budget // width` rows at most, the last batch of a width padded to a
    power of two."""
    lengths = np.asarray(lengths)
    if not len(lengths):  # a slice of null texts, or of texts every cache already holds
        return []
    order = np.argsort(-lengths, kind="stable")
    widths = np.array([bucket_width(n, limit) for n in lengths[order]], dtype=np.int64)
    batches = []
    # runs of equal width in the sorted order
    bounds = np.flatnonzero(np.diff(widths)) + 1
    for run in np.split(np.arange(len(order)), bounds):
        width = int(widths[run[0]])
        cap = max(1, token_budget // width)
        for start in range(0, len(run), cap):
            indices = order[run[start : start + cap]]
            batches.append(Batch(indices, width, bucket_rows(len(indices), cap)))
    return batches


def plan_exact_batches(lengths: np.ndarray, token_budget: int) -> list[Batch]:
    """`plan_batches` as `Batch`es: every batch exactly as wide as its longest sequence."""
    return [
        Batch(np.asarray(b), int(lengths[b[0]]), len(b)) for b in plan_batches(list(lengths), token_budget)
    ]


def plan_runs(lengths: np.ndarray, token_budget: int, shape_limit: Optional[int]) -> list[Batch]:
    """The batches a runner makes: with `shape_limit` (the longest sequence the model takes)
    on the shape ladder, without it in exact shapes."""
    if shape_limit:
        return plan_bucketed_batches(lengths, token_budget, shape_limit)
    return plan_exact_batches(lengths, token_budget)


def count_batch(stats: BatchStats, batch: Batch, lengths: np.ndarray) -> None:
    """A batch run: its tokens, and the padding its shape added."""
    tokens = int(lengths[batch.indices].sum())
    stats.forward_batches += 1
    stats.tokens += tokens
    stats.padded_tokens += batch.rows * batch.width - tokens


def batch_order(batches: list[Batch]) -> np.ndarray:
    """The sequence each output row belongs to, outputs taken in batch order."""
    return np.concatenate([b.indices for b in batches]) if batches else np.zeros(0, dtype=np.int64)


def in_sequence_order(in_batch_order: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Outputs taken in batch order, put back in sequence order (`order` from `batch_order`)."""
    out = np.empty_like(in_batch_order)
    out[order] = in_batch_order
    return out


class PendingLogits(Protocol):
    """A chunk's model outputs, queued where the model runs; `numpy()` waits for them and
    hands them over in sequence order."""

    def numpy(self) -> np.ndarray: ...


class TokenSequences:
    """Token sequences kept flat: each sequence is a run of `k` segments, each segment a
    slice of one pool of token ids (and of token type ids, where the model takes them).

    A pair `<s> premise </s></s> hypothesis </s>` is five segments; building a batch is a
    numpy gather, with no per-sequence Python.
    """

    def __init__(self, ids: np.ndarray, types: Optional[np.ndarray], starts: np.ndarray, lengths: np.ndarray):
        self.ids, self.types = ids, types
        self.segment_starts, self.segment_lengths = starts, lengths  # (sequences, k) each
        self.lengths = lengths.sum(axis=1) if len(lengths) else np.zeros(0, dtype=np.int64)

    @classmethod
    def from_lists(
        cls, ids: Sequence[Sequence[int]], types: Optional[Sequence[Sequence[int]]] = None
    ) -> "TokenSequences":
        """One segment per sequence, from lists of token ids (and type ids)."""
        lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
        starts = np.cumsum(lengths) - lengths
        return cls(
            flatten(ids, int(lengths.sum())),
            flatten(types, int(lengths.sum())) if types is not None else None,
            starts[:, None],
            lengths[:, None],
        )

    def __len__(self) -> int:
        return len(self.lengths)

    def gather(self, indices: np.ndarray, rows: int, width: int, pad_id: int):
        """(input_ids, attention_mask, token_type_ids or None) int64 arrays of shape (rows, width):
        the sequences `indices` right-padded, then copies of the first to fill `rows`."""
        indices = np.concatenate([indices, np.repeat(indices[:1], rows - len(indices))])
        segment_lengths = self.segment_lengths[indices].ravel()
        totals = self.segment_lengths[indices].sum(axis=1)
        count = int(totals.sum())
        position = np.arange(count)
        # where each token comes from: its segment's start in the pool plus its offset in the segment
        segment_first = np.cumsum(segment_lengths) - segment_lengths
        source = position - np.repeat(segment_first - self.segment_starts[indices].ravel(), segment_lengths)
        row = np.repeat(np.arange(rows), totals)
        column = position - np.repeat(np.cumsum(totals) - totals, totals)
        input_ids = np.full((rows, width), pad_id, dtype=np.int64)
        input_ids[row, column] = self.ids[source]
        attention_mask = np.zeros((rows, width), dtype=np.int64)
        attention_mask[row, column] = 1
        type_ids = None
        if self.types is not None:
            type_ids = np.zeros((rows, width), dtype=np.int64)
            type_ids[row, column] = self.types[source]
        return input_ids, attention_mask, type_ids


def flatten(lists: Sequence[Sequence[int]], total: int) -> np.ndarray:
    import itertools

    return np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=total)


def sequence_limit(model, tokenizer, max_length: Optional[int]) -> int:
    """Most tokens per model input: the configured limit, within the tokenizer's (or, for a
    tokenizer that states none, the model's position embeddings)."""
    limit = model_sequence_limit(tokenizer.model_max_length, model.config)
    return min(limit, max_length) if max_length else limit


def model_sequence_limit(tokenizer_limit: Optional[int], config) -> int:
    """The longest input a model takes: its tokenizer's limit, or where the tokenizer states
    none, the model's position embeddings."""
    if not tokenizer_limit or tokenizer_limit > 1_000_000:  # no limit: a huge sentinel
        return getattr(config, "max_position_embeddings", 512)
    return tokenizer_limit


class StagedEngine:
    """An engine in three stages: `prepare` (CPU: rows checked, sequences tokenized),
    `launch` (the model's work queued on the device) and `finish` (outputs back on the
    host, scores ranked). Subclasses define the three and `device`."""

    device: "torch.device"

    @property
    def tokenizes_ahead(self) -> bool:
        """Whether the next chunk is tokenized while the model runs this one: on a GPU, where
        the host is otherwise idle (on a CPU both halves compete for the same cores)."""
        return self.device.type == "cuda"

    def prepare(self, texts, labels, hypothesis_template, long_text: LongText = TRUNCATED):
        raise NotImplementedError

    def launch(self, prepared):
        raise NotImplementedError

    def finish(self, launched, multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        raise NotImplementedError

    def score(self, prepared, multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        return self.finish(self.launch(prepared), multi_label)

    def classify(
        self,
        texts: Sequence[Optional[str]],
        labels: Sequence[Optional[Sequence[str]]],
        *,
        hypothesis_template: Union[str, Hypotheses] = "This example is {}.",
        multi_label: bool = False,
        long_text: LongText = TRUNCATED,
    ) -> tuple[list[Optional[Result]], BatchStats]:
        """One result per row (None for a row that cannot be classified) and what it cost.

        `labels[i]` are row i's candidate labels (already validated for fixed labels;
        cleaned here for per-row ones). `hypothesis_template` is a template, or `Hypotheses`
        where labels carry descriptions; `long_text` says how texts too long for the model
        are read."""
        return self.score(self.prepare(texts, labels, hypothesis_template, long_text), multi_label)

    def classify_stream(
        self,
        chunks: Iterable[tuple[Sequence[Optional[str]], Sequence[Optional[Sequence[str]]]]],
        *,
        hypothesis_template: Union[str, Hypotheses] = "This example is {}.",
        multi_label: bool = False,
        long_text: LongText = TRUNCATED,
        overlap: bool = False,
    ) -> Iterator[tuple[list[Optional[Result]], BatchStats]]:
        """`classify` for each (texts, labels) chunk, in order. With `overlap` (for a GPU), the
        next chunk is tokenized on a second thread while the model runs the current one, and
        its batches are queued on the device before the current chunk's scores are ranked,
        so the device never waits for the host (on CPU both halves compete for cores)."""
        if not overlap:
            for texts, labels in chunks:
                yield self.classify(
                    texts,
                    labels,
                    hypothesis_template=hypothesis_template,
                    multi_label=multi_label,
                    long_text=long_text,
                )
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark_zsc-tokenize") as tokenizer_thread:
            launched = None
            prepared = (
                tokenizer_thread.submit(self.prepare, texts, labels, hypothesis_template, long_text)
                for texts, labels in chunks
            )
            for next_chunk in one_ahead(prepared):
                current = self.launch(next_chunk.result())
                if launched is not None:
                    yield self.finish(launched, multi_label)
                launched = current
            if launched is not None:
                yield self.finish(launched, multi_label)


def one_ahead(items: Iterable) -> Iterator:
    """`items`, each handed out only once the one after it was taken (and so, for
    submitted work, started)."""
    items = iter(items)
    current = next(items, _END)
    for following in items:
        yield current
        current = following
    if current is not _END:
        yield current


_END = object()
