"""How every engine feeds its model: token sequences in length-banded batches under a
token budget, and rows in chunks whose tokenizing can run ahead of the model."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch

from .results import BatchStats, Result


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
        while end < len(order) and end - start < rows_cap and lengths[order[end]] >= width * (1 - max_padding):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def sequence_limit(model, tokenizer, max_length: Optional[int]) -> int:
    """Most tokens per model input: the configured limit, within the tokenizer's (or, for a
    tokenizer that states none, the model's position embeddings)."""
    limit = tokenizer.model_max_length
    if not limit or limit > 1_000_000:  # tokenizers without a limit report a huge sentinel
        limit = getattr(model.config, "max_position_embeddings", 512)
    return min(limit, max_length) if max_length else limit


# (input_ids, attention_mask, token_type_ids or None) -> one output row per sequence
ForwardFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def forward_in_batches(
    encoded: Sequence[tuple[list[int], Optional[list[int]]]],
    forward: ForwardFn,
    *,
    pad_id: int,
    token_budget: int,
    device: torch.device,
    stats: BatchStats,
    width: int,
) -> np.ndarray:
    """float32 outputs of `forward`, one row of `width` values per (ids, type ids) sequence."""
    out = np.zeros((len(encoded), width), dtype=np.float32)
    if not encoded:
        return out
    lengths = [len(ids) for ids, _ in encoded]
    with_types = encoded[0][1] is not None
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in plan_batches(lengths, token_budget):
            longest = lengths[batch[0]]
            input_ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), longest), dtype=torch.long)
            type_ids = torch.zeros((len(batch), longest), dtype=torch.long) if with_types else None
            for row, index in enumerate(batch):
                ids, types = encoded[index]
                input_ids[row, : len(ids)] = torch.tensor(ids)
                attention_mask[row, : len(ids)] = 1
                if type_ids is not None:
                    type_ids[row, : len(ids)] = torch.tensor(types)
            moved = [t.to(device) if t is not None else None for t in (input_ids, attention_mask, type_ids)]
            out[batch] = forward(*moved).float().cpu().numpy()
            real = sum(lengths[i] for i in batch)
            stats.forward_batches += 1
            stats.tokens += real
            stats.padded_tokens += len(batch) * longest - real
    stats.forward_seconds += time.perf_counter() - started
    return out


class StagedEngine:
    """An engine in two halves: `prepare` (CPU: rows checked, sequences tokenized) and
    `score` (the model). Subclasses define both and `device`."""

    device: torch.device

    def prepare(self, texts, labels, hypothesis_template: str):
        raise NotImplementedError

    def score(self, prepared, multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        raise NotImplementedError

    def classify(
        self,
        texts: Sequence[Optional[str]],
        labels: Sequence[Optional[Sequence[str]]],
        *,
        hypothesis_template: str = "This example is {}.",
        multi_label: bool = False,
    ) -> tuple[list[Optional[Result]], BatchStats]:
        """One result per row (None for a row that cannot be classified) and what it cost.

        `labels[i]` are row i's candidate labels (already validated for fixed labels;
        cleaned here for per-row ones)."""
        return self.score(self.prepare(texts, labels, hypothesis_template), multi_label)

    def classify_stream(
        self,
        chunks: Iterable[tuple[Sequence[Optional[str]], Sequence[Optional[Sequence[str]]]]],
        *,
        hypothesis_template: str = "This example is {}.",
        multi_label: bool = False,
        overlap: bool = False,
    ) -> Iterator[tuple[list[Optional[Result]], BatchStats]]:
        """`classify` for each (texts, labels) chunk, in order. With `overlap`, the next chunk
        is prepared on a second thread while the model runs the current one: that pays on a
        GPU, where the CPU is otherwise idle during the forward (on CPU both compete for cores)."""
        if not overlap:
            for texts, labels in chunks:
                yield self.classify(texts, labels, hypothesis_template=hypothesis_template, multi_label=multi_label)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark_zsc-tokenize") as tokenizer_thread:
            pending = None
            for texts, labels in chunks:
                following = tokenizer_thread.submit(self.prepare, texts, labels, hypothesis_template)
                if pending is not None:
                    yield self.score(pending.result(), multi_label)
                pending = following
            if pending is not None:
                yield self.score(pending.result(), multi_label)
